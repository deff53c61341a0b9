from __future__ import annotations

from django.db import migrations
from django.db.models import Count, Min, Q


def count_orders_again(apps, schema_editor) -> None:  # noqa: ANN001 - the migration API
    """Orders were counted per payment: a booking's balance, or a request's second part, was an
    order of its own. Have the next refresh read every business's payments again from the
    first such payment (only the days and customers they touch are summed again)."""
    Payment = apps.get_model("payments", "Payment")
    PaymentRequest = apps.get_model("payments", "PaymentRequest")
    RollupWatermark = apps.get_model("insights", "RollupWatermark")
    in_parts = (
        PaymentRequest._base_manager.annotate(
            paid=Count("payments", filter=Q(payments__state="succeeded"))
        )
        .filter(Q(purpose="booking_charge") | Q(is_reusable=False, paid__gt=1))
        .values("pk")
    )
    firsts = (
        Payment._base_manager.filter(state="succeeded", request__in=in_parts)
        .values("business_id")
        .annotate(first=Min("id"))
        .order_by()
    )
    for found in firsts:
        RollupWatermark._base_manager.filter(
            business_id=found["business_id"],
            name__in=["daily_ledger", "customer_values"],
            last_payment_id__gte=found["first"],
        ).update(last_payment_id=found["first"] - 1)


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0005_daily_ledger_adjustments"),
        ("payments", "0006_payment_other_reference"),
    ]

    operations = [
        migrations.RunPython(count_orders_again, migrations.RunPython.noop, elidable=True),
    ]
