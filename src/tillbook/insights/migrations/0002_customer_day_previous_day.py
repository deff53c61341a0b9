from typing import Any

from django.db import migrations, models


def link_previous_days(apps: Any, schema_editor: Any) -> None:
    """Fill the previous paying day of every customer day already rolled up."""
    connection = schema_editor.connection
    table = connection.ops.quote_name("insights_customerday")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET previous_day = linked.previous FROM ("  # noqa: S608
            "SELECT id, LAG(day) OVER (PARTITION BY business_id, email_key ORDER BY day) "
            f"AS previous FROM {table}) linked "
            f"WHERE {table}.id = linked.id AND linked.previous IS NOT NULL"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("insights", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="customerday",
            name="previous_day",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="customerday",
            index=models.Index(
                fields=["business", "day", "previous_day"], name="customerday_previous_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="customerday",
            index=models.Index(
                fields=["business", "previous_day", "day"], name="customerday_returning_idx"
            ),
        ),
        migrations.RunPython(link_previous_days, migrations.RunPython.noop, elidable=True),
    ]
