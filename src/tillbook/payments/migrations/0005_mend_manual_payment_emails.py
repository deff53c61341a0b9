"""Cash and bank-transfer payments recorded before they kept their customer's email."""

from django.db import migrations

from tillbook.payments.repairs import manual_payment_emails_mend


def mend(apps, schema_editor):  # type: ignore[no-untyped-def]
    manual_payment_emails_mend(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0004_mend_stripe_payout_reversals"),
        ("insights", "0003_rollup_reread"),
    ]

    operations = [migrations.RunPython(mend, migrations.RunPython.noop)]
