"""Stripe payout failures and cancellations landed before they had their own kind of line."""

from django.db import migrations

from tillbook.payments.repairs import stripe_payout_reversals_mend


def mend(apps, schema_editor):  # type: ignore[no-untyped-def]
    stripe_payout_reversals_mend(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0003_balance_kind_payout_reversal"),
        ("insights", "0003_rollup_reread"),
    ]

    operations = [migrations.RunPython(mend, migrations.RunPython.noop)]
