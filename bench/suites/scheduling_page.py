"""scheduling.page: the booking page's server time under concurrent load.

Tillbook: GET of a service's booking page (a month of days with free time, the times of the
first free day, "anyone" across 3 staff) on a business with 1,000 bookings in that month,
requested by 8 threads at once through Django's WSGI handler in this process.
Baseline: the same business's page listing its services (same templates, middleware, scope
and database, no availability), under the same load. The ratio is what computing a month of
availability adds to an ordinary public page. Users of the best known open-source scheduler
report 3 to 25 seconds for this page (Cal.com #5277, #21103); Tillbook reads local tables
only.

Threads share one Python process (and its GIL), so the figures are per-request latency with
8 requests in flight, not a throughput claim for several gunicorn workers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from time import perf_counter

from django.db import connections
from django.test import Client, override_settings
from django.utils import timezone

from bench.datasets.bookings import booked_month
from bench.fixtures import bench_business
from bench.registry import Context, Row, benchmark
from tillbook.core.money import Money
from tillbook.core.scoping import business_scope
from tillbook.scheduling.models import Booking, BookingState
from tillbook.scheduling.setup import service_create, staff_hours_set, staff_member_create

BOOKINGS = 1_000
THREADS = 8
REQUESTS = 160


def _business_with_bookings(context: Context) -> tuple[str, str]:
    business = bench_business("bench-bookings")
    start = _next_month()
    month = booked_month(bookings=BOOKINGS, seed=context.seed, start=start)
    with business_scope(business):
        members = []
        for calendar in month.calendars:
            member = staff_member_create(
                business=business, name=f"Staff {calendar.staff_id}",
                timezone_name=calendar.schedule.zone,
            )  # fmt: skip
            ranges = [(r.start_minute, r.end_minute) for r in calendar.schedule.weekly[0]]
            staff_hours_set(staff=member, weekly=dict.fromkeys(range(7), ranges))
            members.append((member, calendar))
        service = service_create(
            business=business, name="Session", durations=[(60, Money(10000, "USD"))],
            staff=[member for member, _ in members], min_notice_minutes=0, horizon_days=3650,
            interval_minutes=15,
        )  # fmt: skip
        Booking.objects.bulk_create(
            Booking(
                business=business, service=service, staff=member, state=BookingState.CONFIRMED,
                start=busy.start, end=busy.end, blocking_start=busy.start, blocking_end=busy.end,
                session_key=f"b:{uuid.uuid4()}", duration_minutes=60, currency="USD",
                price=10000, payment_mode="full", cancel_window_hours=24,
                late_cancel_fee_percent=100, location_kind="video",
            )
            for member, calendar in members
            for busy in calendar.busy
        )  # fmt: skip
    page = (
        f"/{business.slug}/book/{service.slug}/?tz=America/Chicago"
        f"&month={start:%Y-%m}&day={(start + timedelta(days=3)).date().isoformat()}"
    )
    return page, f"/{business.slug}/book/"


def _next_month() -> datetime:
    """The booking page only offers future times: use next month (UTC)."""
    today = timezone.now()
    following = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    return datetime(following.year, following.month, 1, tzinfo=UTC)


def _under_load(path: str) -> list[float]:
    def one(_: int) -> float:
        client = Client(HTTP_HOST="localhost")
        began = perf_counter()
        response = client.get(path, secure=True)
        elapsed = perf_counter() - began
        assert response.status_code == 200, response.status_code
        connections.close_all()
        return elapsed

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(one, range(REQUESTS)))


# Production settings expect `collectstatic` to have written a manifest; the benchmark's
# throw-away installation has none, and static URLs are not what is being measured.
PLAIN_STATIC = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


@benchmark("scheduling.page")
@override_settings(STORAGES=PLAIN_STATIC)
def booking_page_under_load(context: Context) -> list[Row]:
    page, listing = _business_with_bookings(context)
    run: Callable[[str], list[float]] = _under_load
    run(page)  # warm-up: template compilation, first queries
    run(listing)
    with context.profiled("scheduling.page"):
        tillbook = run(page)
    baseline = run(listing)
    note = f"{THREADS} threads, {REQUESTS} requests, {BOOKINGS} bookings, 3 staff"
    return Row.latencies("scheduling.page p{percent}", ours=tillbook, theirs=baseline, note=note)
