"""Stripe refund failures, reversed bank debits and conversion fees landed as lines of no kind."""

from django.db import migrations

from tillbook.payments.repairs import stripe_other_lines_mend


def mend(apps, schema_editor):  # type: ignore[no-untyped-def]
    stripe_other_lines_mend(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0007_request_form_key"),
        ("insights", "0006_orders_counted_once"),
    ]

    operations = [migrations.RunPython(mend, migrations.RunPython.noop)]
