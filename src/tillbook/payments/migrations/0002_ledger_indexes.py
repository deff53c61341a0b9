"""The ledger's two big tables stop indexing what is never searched alone.

Only the indexes change: the fields' new `db_index=False` is recorded in the state, and the
database loses the old single-column indexes by name, found by introspection. Letting
AlterField do it would drop and re-create (and re-check) each foreign key on PostgreSQL, and
copy the whole table on SQLite, six times over.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

LONE_INDEXES = {
    "payment": ("business_id", "request_id", "customer_id", "recorded_by_id"),
    "balancetransaction": ("business_id", "refund_id"),
}


def drop_lone_indexes(apps, schema_editor):
    connection = schema_editor.connection
    for model_name, columns in LONE_INDEXES.items():
        table = apps.get_model("payments", model_name)._meta.db_table
        with connection.cursor() as cursor:
            found = connection.introspection.get_constraints(cursor, table)
        for name, details in sorted(found.items()):
            if (
                details["index"]
                and not details["unique"]
                and not details["primary_key"]
                and len(details["columns"]) == 1
                and details["columns"][0] in columns
            ):
                schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("customers", "0002_customer_acquisition_campaign_and_more"),
        ("payments", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="balancetransaction",
                    name="business",
                    field=models.ForeignKey(
                        db_index=False,
                        editable=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="core.business",
                    ),
                ),
                migrations.AlterField(
                    model_name="balancetransaction",
                    name="refund",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="balance_lines",
                        to="payments.refund",
                    ),
                ),
                migrations.AlterField(
                    model_name="payment",
                    name="business",
                    field=models.ForeignKey(
                        db_index=False,
                        editable=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="core.business",
                    ),
                ),
                migrations.AlterField(
                    model_name="payment",
                    name="customer",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="customers.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="payment",
                    name="recorded_by",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="payment",
                    name="request",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="payments",
                        to="payments.paymentrequest",
                    ),
                ),
            ],
            database_operations=[
                # Without the old indexes going back: they only ever cost time.
                migrations.RunPython(drop_lone_indexes, migrations.RunPython.noop),
            ],
        ),
        migrations.AddIndex(
            model_name="balancetransaction",
            index=models.Index(
                condition=models.Q(("refund__isnull", False)),
                fields=["refund"],
                name="balance_refund_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="payment",
            index=models.Index(
                condition=models.Q(("request__isnull", False)),
                fields=["request"],
                name="payment_request_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="payment",
            index=models.Index(
                condition=models.Q(("customer__isnull", False)),
                fields=["customer"],
                name="payment_customer_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="payment",
            index=models.Index(
                condition=models.Q(("recorded_by__isnull", False)),
                fields=["recorded_by"],
                name="payment_recorded_by_idx",
            ),
        ),
    ]
