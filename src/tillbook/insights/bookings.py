"""Bookings in a period: how many, how much of the offered time they used, and no-shows.

Utilisation is booked staff time over offered staff time: offered time comes from each staff
member's working hours (the scheduling app's availability engine, so overrides and DST count
the same way the booking pages do); booked time counts a group session once, however many
seats it sold. No-show rate is no-shows over bookings whose time has passed and was attended
or missed (completed + no-show).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from django.db import connection
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from tillbook.core.models import Business
from tillbook.insights.periods import Period
from tillbook.scheduling.availability import Interval, Schedule, working_intervals
from tillbook.scheduling.models import Booking, BookingState, StaffMember
from tillbook.scheduling.selectors import ONE_TO_ONE_KEY, schedules_for

KEPT = (BookingState.CONFIRMED, BookingState.COMPLETED, BookingState.NO_SHOW)


def _percent(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_EVEN)


@dataclass(frozen=True)
class BookingMetrics:
    bookings: int
    completed: int
    no_shows: int
    cancelled: int
    booked_minutes: int
    offered_minutes: int

    @property
    def no_show_rate(self) -> Decimal | None:
        return _percent(self.no_shows, self.completed + self.no_shows)

    @property
    def utilisation(self) -> Decimal | None:
        return _percent(self.booked_minutes, self.offered_minutes)

    def as_json(self) -> dict[str, object]:
        rate, used = self.no_show_rate, self.utilisation
        return {
            "count": self.bookings,
            "completed": self.completed,
            "no_shows": self.no_shows,
            "cancelled": self.cancelled,
            "booked_hours": f"{Decimal(self.booked_minutes) / 60:.1f}",
            "offered_hours": f"{Decimal(self.offered_minutes) / 60:.1f}",
            "utilisation_percent": None if used is None else str(used),
            "no_show_rate_percent": None if rate is None else str(rate),
        }


def booking_metrics(*, business: Business, period: Period) -> BookingMetrics:
    in_period = Booking.objects.filter(
        business=business, start__gte=period.start, start__lt=period.end
    )
    counts = in_period.aggregate(
        bookings=Count("id", filter=Q(state__in=KEPT)),
        completed=Count("id", filter=Q(state=BookingState.COMPLETED)),
        no_shows=Count("id", filter=Q(state=BookingState.NO_SHOW)),
        cancelled=Count("id", filter=Q(state=BookingState.CANCELLED)),
        one_to_one_minutes=Sum(
            "duration_minutes", filter=Q(state__in=KEPT, session_key__startswith=ONE_TO_ONE_KEY)
        ),
    )
    sessions = (
        in_period.filter(state__in=KEPT)
        .exclude(session_key__startswith=ONE_TO_ONE_KEY)
        .values("staff_id", "session_key")
        .annotate(minutes=Max("duration_minutes"))
        .values("minutes")
        .order_by()
    )
    inner, params = sessions.query.sql_with_params()
    with connection.cursor() as cursor:
        # Group sessions are one block of time however many seats they sold: summed per
        # session, in the database. Only they are grouped; a one-to-one booking's key is its own.
        cursor.execute(f"SELECT COALESCE(SUM(minutes), 0) FROM ({inner}) sessions", params)  # noqa: S608
        booked = int(cursor.fetchone()[0]) + (counts["one_to_one_minutes"] or 0)
    return BookingMetrics(
        bookings=counts["bookings"],
        completed=counts["completed"],
        no_shows=counts["no_shows"],
        cancelled=counts["cancelled"],
        booked_minutes=booked,
        offered_minutes=offered_minutes(business=business, period=period),
    )


def offered_minutes(*, business: Business, period: Period) -> int:
    """Active staff's working time in the period. Staff who share the same hours (a team on
    one rota) are expanded once, so two years of forty people cost one schedule's days."""
    staff = list(StaffMember.objects.filter(business=business, is_active=True))
    window = Interval(period.start, period.end)
    shared: list[tuple[Schedule, int]] = []
    for schedule in schedules_for(staff).values():
        for index, (known, count) in enumerate(shared):
            if known == schedule:
                shared[index] = (known, count + 1)
                break
        else:
            shared.append((schedule, 1))
    offered = 0
    for schedule, count in shared:
        for interval in working_intervals(schedule, window):
            start, end = max(interval.start, window.start), min(interval.end, window.end)
            offered += count * (int((end - start).total_seconds()) // 60)
    return offered


def upcoming_bookings(*, business: Business, limit: int = 8) -> list[Booking]:
    return list(
        Booking.objects.filter(
            business=business,
            state__in=(BookingState.CONFIRMED, BookingState.AWAITING_PAYMENT),
            start__gte=timezone.now(),
        )
        .select_related("service", "staff", "customer")
        .order_by("start")[:limit]
    )
