from __future__ import annotations

from django.db import migrations


def value_again(apps, schema_editor) -> None:  # noqa: ANN001 - the migration API
    """Customers' lifetime values took off refunds that came back (the customer's bank could
    not take them; a balance line put the money back): have the next refresh sum the payments
    of those refunds again, which no longer takes them off."""
    BalanceTransaction = apps.get_model("payments", "BalanceTransaction")
    RollupReread = apps.get_model("insights", "RollupReread")
    came_back = (
        BalanceTransaction._base_manager.filter(
            kind="adjustment", refund__isnull=False, refund__state="succeeded"
        )
        .values_list("business_id", "refund__payment_id")
        .distinct()
        .order_by()
    )
    RollupReread._base_manager.bulk_create(
        RollupReread(business_id=business, name="customer_values", payment_id=payment)
        for business, payment in came_back
    )


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0006_orders_counted_once"),
        ("payments", "0008_mend_stripe_other_lines"),
    ]

    operations = [
        migrations.RunPython(value_again, migrations.RunPython.noop, elidable=True),
    ]
