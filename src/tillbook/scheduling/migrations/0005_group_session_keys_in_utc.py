"""Group sessions' keys name their start in UTC (scheduling.selectors.group_session_key).

Keys written before named it in whatever offset the start came in: the booking page's UTC,
staff's own zone, an API client's offset. Two keys for one class split its seats (a class
could take more than its capacity) and, on PostgreSQL, the second refused every seat.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

from django.db import migrations

BATCH = 1000


def keys_to_utc(apps, schema_editor) -> None:  # noqa: ANN001 - the migration API
    """On PostgreSQL the no-overlap constraints are dropped while the keys change (a class's
    seats would each meet the others' old key) and added again after, checking every row."""
    postgresql = schema_editor.connection.vendor == "postgresql"
    if postgresql:
        with schema_editor.connection.cursor() as cursor:
            for name in ("booking_staff_no_overlap", "booking_resource_no_overlap"):
                cursor.execute(f"ALTER TABLE scheduling_booking DROP CONSTRAINT {name}")
    _rewrite(apps.get_model("scheduling", "Booking"))
    if postgresql:
        overlaps = importlib.import_module("tillbook.scheduling.migrations.0002_no_double_booking")
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(overlaps.STAFF_CONSTRAINT)
            cursor.execute(overlaps.RESOURCE_CONSTRAINT)


def _rewrite(booking_model) -> None:  # noqa: ANN001 - a historical model
    group = booking_model._base_manager.filter(session_key__startswith="s").exclude(
        session_key__endswith="+00:00"
    )
    changed = []
    for booking in group.only("pk", "session_key").iterator(chunk_size=BATCH):
        parts = booking.session_key.split(":", 2)
        if len(parts) != 3:
            continue  # not a key this migration knows; left as it is
        service, staff, written = parts
        try:
            start = datetime.fromisoformat(written)
        except ValueError:
            continue  # not a key this migration knows; left as it is
        if start.tzinfo is None:
            continue
        booking.session_key = f"{service}:{staff}:{start.astimezone(UTC).isoformat()}"
        changed.append(booking)
        if len(changed) >= BATCH:
            booking_model._base_manager.bulk_update(changed, ["session_key"])
            changed = []
    booking_model._base_manager.bulk_update(changed, ["session_key"])


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0004_booking_utm_campaign"),
    ]

    operations = [
        migrations.RunPython(keys_to_utc, migrations.RunPython.noop),
    ]
