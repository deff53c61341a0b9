"""The bookings half of insights.dashboard: loading the generated bookings into Tillbook and
DuckDB, and the booking metrics DuckDB computes as the baseline (count, no-shows, booked and
offered staff time, the way insights.bookings defines them)."""

from __future__ import annotations

from datetime import datetime

import duckdb
from django.db import connection, transaction
from django.utils import timezone

from bench.datasets.booking_history import BookingFiles
from bench.datasets.ledger import read_rows
from tillbook.core.bulk import insert_rows
from tillbook.core.models import Business
from tillbook.core.money import Money
from tillbook.core.scoping import business_scope
from tillbook.scheduling.models import Booking
from tillbook.scheduling.setup import service_create, staff_hours_set, staff_member_create

BOOKING_FIELDS = (
    "business", "uid", "service", "staff", "state", "start", "end", "blocking_start",
    "blocking_end", "session_key", "seats", "duration_minutes", "currency", "price", "deposit",
    "payment_mode", "cancel_window_hours", "late_cancel_fee_percent", "reminder_offsets",
    "location_kind", "location_text", "customer_timezone", "answers", "notes", "sequence",
    "paid_without_time", "created_at", "cancel_reason", "cancellation_fee", "utm_campaign",
)  # fmt: skip


def load_bookings(business: Business, files: BookingFiles) -> None:
    """Staff and services through Tillbook's own services (a few dozen rows), the bookings
    set-based (COPY on PostgreSQL, executemany on SQLite)."""
    with transaction.atomic(), business_scope(business):
        staff = {}
        for number, name, zone in read_rows(files.staff):
            staff[number] = staff_member_create(business=business, name=name, timezone_name=zone)
        weekly: dict[str, dict[int, list[tuple[int, int]]]] = {}
        for number, weekday, start, end in read_rows(files.hours):
            weekly.setdefault(number, {}).setdefault(int(weekday), []).append(
                (int(start), int(end))
            )
        for number, hours in weekly.items():
            staff_hours_set(staff=staff[number], weekly=hours)
        services = {}
        for number, name, minutes, price, capacity in read_rows(files.services):
            services[number] = service_create(
                business=business,
                name=name,
                durations=[(int(minutes), Money(int(price), business.currency))],
                staff=list(staff.values()),
                capacity=int(capacity),
            ).pk
        now = timezone.now()
        postgres = connection.vendor == "postgresql"
        staff_ids = {number: member.pk for number, member in staff.items()}
        insert_rows(
            Booking,
            BOOKING_FIELDS,
            (
                (business.pk, uid if postgres else uid.replace("-", ""), services[service],
                 staff_ids[member], state, _moment(start), _moment(end), _moment(start),
                 _moment(end), key, 1, int(minutes), business.currency, int(price), 0, "full",
                 24, 100, "[]", "video", "", "UTC", "[]", "", 0, False, now, "", 0, "")
                for _, uid, service, member, state, start, end, key, minutes, price
                in read_rows(files.bookings)
            ),
        )  # fmt: skip


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def duckdb_bookings(db: duckdb.DuckDBPyConnection, files: BookingFiles) -> None:
    for name in ("staff", "hours", "services", "bookings"):
        path = getattr(files, name)
        db.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv('{path}', header = true)")


KEPT = "('confirmed', 'completed', 'no_show')"
DUCKDB_QUERIES = [
    f"""SELECT COUNT(*) FILTER (WHERE state IN {KEPT}),
              COUNT(*) FILTER (WHERE state = 'completed'),
              COUNT(*) FILTER (WHERE state = 'no_show'),
              COUNT(*) FILTER (WHERE state = 'cancelled')
       FROM bookings WHERE start >= $start AND start < $end""",
    # Booked staff time: a group session counts once, however many seats it sold.
    f"""SELECT COALESCE(SUM(minutes), 0) FROM (
         SELECT MAX(duration_minutes) AS minutes FROM bookings
         WHERE start >= $start AND start < $end AND state IN {KEPT}
         GROUP BY staff_id, session_key)""",
    # Offered staff time: every staff member's weekly hours on each day of the period (the
    # hours never cross a daylight-saving change, so a day's hours are its minutes).
    """SELECT COALESCE(SUM(h.end_minute - h.start_minute), 0)
       FROM generate_series($first, $last, INTERVAL 1 DAY) AS d(day)
       JOIN hours h ON h.weekday = isodow(d.day) - 1""",
]


# Top offerings: the services by what their kept bookings brought (the bench sells no
# catalog offerings, so Tillbook's order-line query runs over empty tables).
DUCKDB_OFFERINGS = f"""SELECT s.name, COUNT(*), SUM(b.price) FROM bookings b
    JOIN services s ON s.id = b.service_id
    WHERE b.start >= $start AND b.start < $end AND b.state IN {KEPT}
    GROUP BY s.name ORDER BY 3 DESC"""


def duckdb_booking_figures(db: duckdb.DuckDBPyConnection, values: dict[str, object]) -> tuple:
    """(bookings, completed, no-shows, cancelled, booked minutes, offered minutes)."""
    found: list[object] = []
    for query in DUCKDB_QUERIES:
        used = {name: value for name, value in values.items() if f"${name}" in query}
        found.extend(db.execute(query, used).fetchone() or ())
    return tuple(int(value) for value in found)  # type: ignore[call-overload]
