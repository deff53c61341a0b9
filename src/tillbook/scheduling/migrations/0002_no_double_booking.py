"""Make a double booking impossible on PostgreSQL (DESIGN.md, the time model).

Two bookings of one staff member (or of one resource) in a blocking state may not have
overlapping blocking ranges, unless they are seats of the same group session (same
session_key). Cal.com's unique key on identical intervals let overlaps of different lengths
through (Cal.com #13397, #13068); a GiST exclusion constraint on the range refuses every
overlap. btree_gist supplies the = and <> operators for the plain columns.

SQLite has no exclusion constraints: there booking_hold's IMMEDIATE transaction serialises
the check and the insert. The operations below therefore do nothing on other databases, and
they leave the migration state alone, so `makemigrations --check` stays clean everywhere.
"""

from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations

BLOCKING = "('held', 'awaiting_payment', 'confirmed')"

STAFF_CONSTRAINT = (
    "ALTER TABLE scheduling_booking ADD CONSTRAINT booking_staff_no_overlap "
    "EXCLUDE USING gist (staff_id WITH =, tstzrange(blocking_start, blocking_end, '[)') WITH &&, "
    f"session_key WITH <>) WHERE (state IN {BLOCKING})"
)
RESOURCE_CONSTRAINT = (
    "ALTER TABLE scheduling_booking ADD CONSTRAINT booking_resource_no_overlap "
    "EXCLUDE USING gist (resource_id WITH =, "
    "tstzrange(blocking_start, blocking_end, '[)') WITH &&, "
    f"session_key WITH <>) WHERE (resource_id IS NOT NULL AND state IN {BLOCKING})"
)


class PostgresqlOnly(migrations.RunSQL):
    """RunSQL that applies on PostgreSQL only."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0001_initial")]

    operations = [
        BtreeGistExtension(),
        PostgresqlOnly(
            STAFF_CONSTRAINT,
            "ALTER TABLE scheduling_booking DROP CONSTRAINT booking_staff_no_overlap",
        ),
        PostgresqlOnly(
            RESOURCE_CONSTRAINT,
            "ALTER TABLE scheduling_booking DROP CONSTRAINT booking_resource_no_overlap",
        ),
    ]
