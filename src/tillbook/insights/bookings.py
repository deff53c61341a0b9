"""Bookings in a period: how many, how much of the offered time they used, and no-shows.

Utilisation is booked staff time over offered staff time: offered time comes from each staff
member's working hours (the scheduling app's availability engine, so overrides and DST count
the same way the booking pages do); booked time counts a group session once, however many
seats it sold. No-show rate is no-shows over bookings whose time has passed and was attended
or missed (completed + no-show).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from django.db import connection
from django.db.models import CharField, Count, F, Max, QuerySet, Sum
from django.db.models.functions import Cast
from django.utils import timezone

from tillbook.core.models import Business
from tillbook.insights.periods import Period
from tillbook.payments.models import Payment, PaymentState, Refund, RefundState
from tillbook.scheduling.availability import Interval, Schedule, working_intervals
from tillbook.scheduling.models import (
    BOOKING_PURPOSES,
    KEPT_STATES,
    ONE_TO_ONE_KEY,
    Booking,
    BookingState,
    BusySource,
    Service,
    StaffMember,
    TimeBlock,
)
from tillbook.scheduling.selectors import schedules_for

KEPT = KEPT_STATES


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
    # The same bookings per service (top offerings), in the business's currency.
    by_service: tuple[ServiceSales, ...] = ()
    # And per service with their outcomes (the bookings report).
    services: tuple[ServiceBookings, ...] = ()

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


@dataclass(frozen=True)
class ServiceSales:
    """What one service's bookings in a period brought, in the business's currency: the
    price of those kept (confirmed, completed, no-show) and the late-cancellation fees, less
    what was refunded of them (see `_refunded`)."""

    service_id: int
    name: str
    bookings: int
    revenue: int


def _in_period(business: Business, period: Period) -> QuerySet[Booking]:
    return Booking.objects.filter(business=business, start__gte=period.start, start__lt=period.end)


@dataclass
class _Sums:
    """The period's bookings of one service, currency and state."""

    service_id: int
    currency: str
    state: str
    count: int
    minutes: int
    price: int
    cancellation_fees: int


def _sums(business: Business, period: Period) -> list[_Sums]:
    """One scan of the period's bookings grouped by service, currency and state, with no
    per-row condition to evaluate: every figure below is added up from these few rows."""
    rows = (
        _in_period(business, period)
        .values_list("service_id", "currency", "state")
        .annotate(
            count=Count("id"),
            minutes=Sum("duration_minutes"),
            price=Sum("price"),
            fees=Sum("cancellation_fee"),
        )
        .order_by()
    )
    return [_Sums(*row) for row in rows]


@dataclass
class _ServiceTotals:
    """One service's share of the period's sums. Revenue, and what it sold, in the business's
    currency: kept bookings' price and late-cancellation fees."""

    bookings: int = 0  # kept, in any currency
    completed: int = 0
    no_shows: int = 0
    cancelled: int = 0
    sold: int = 0  # kept, in the business's currency
    revenue: int = 0


def _refunded(business: Business, period: Period) -> dict[int, int]:
    """Per service, what was refunded of what its bookings of the period earned, in the
    business's currency, as order lines lose their order's refunded share. A kept booking
    earns its price less the refunds of its payments (deposit, balance, fee); a cancelled one
    its late fee, less what was refunded beyond the rest of what was paid (the cancellation's
    own refund gives that back). One query, and two more when something was refunded."""
    bookings = Booking.objects.filter(
        business=business,
        state__in=(*KEPT, BookingState.CANCELLED),
        start__gte=period.start,
        start__lt=period.end,
        currency=business.currency,
    )
    refunded = dict(
        Refund.objects.filter(
            business=business,
            state=RefundState.SUCCEEDED,
            currency=business.currency,
            payment__request__purpose__in=BOOKING_PURPOSES,
            payment__request__purpose_id__in=bookings.annotate(
                key=Cast("pk", output_field=CharField())
            ).values("key"),
        )
        .values("payment__request__purpose_id")
        .annotate(total=Sum("amount"))
        .values_list("payment__request__purpose_id", "total")
        .order_by()
    )
    if not refunded:
        return {}
    paid = dict(
        Payment.objects.filter(
            business=business,
            state=PaymentState.SUCCEEDED,
            currency=business.currency,
            request__purpose__in=BOOKING_PURPOSES,
            request__purpose_id__in=list(refunded),
        )
        .values("request__purpose_id")
        .annotate(paid=Sum(F("amount") + F("tip_amount")))
        .values_list("request__purpose_id", "paid")
        .order_by()
    )
    found: dict[int, int] = {}
    for pk, service_id, state, price, fee in bookings.filter(
        pk__in=[int(key) for key in refunded]
    ).values_list("pk", "service_id", "state", "price", "cancellation_fee"):
        back = refunded[str(pk)]
        if state == BookingState.CANCELLED:  # the fee is what is left of what was paid
            taken = fee - min(fee, max(0, paid.get(str(pk), 0) - back))
        else:
            taken = min(price, back)
        if taken:
            found[service_id] = found.get(service_id, 0) + taken
    return found


def _per_service(
    sums: list[_Sums], business: Business, refunded: dict[int, int]
) -> tuple[dict[int, _ServiceTotals], dict[int, str]]:
    """Each service's totals, and the services' names (one query). `refunded`: per service,
    what was refunded of its revenue (`_refunded`)."""
    totals: dict[int, _ServiceTotals] = {}
    for row in sums:
        total = totals.setdefault(row.service_id, _ServiceTotals())
        counted = row.currency == business.currency
        if row.state in KEPT:
            total.bookings += row.count
            if counted:
                total.sold += row.count
                total.revenue += row.price
        if row.state == BookingState.COMPLETED:
            total.completed += row.count
        elif row.state == BookingState.NO_SHOW:
            total.no_shows += row.count
        elif row.state == BookingState.CANCELLED:
            total.cancelled += row.count
            total.revenue += row.cancellation_fees if counted else 0
    for service_id, taken in refunded.items():
        if service_id in totals:
            totals[service_id].revenue -= taken
    names = dict(Service.objects.filter(pk__in=totals).values_list("pk", "name"))
    return totals, names


def _service_sales(
    totals: dict[int, _ServiceTotals], names: dict[int, str]
) -> tuple[ServiceSales, ...]:
    return tuple(
        ServiceSales(pk, names[pk], total.sold, total.revenue)
        for pk, total in totals.items()
        if total.sold or total.revenue
    )


def service_sales(*, business: Business, period: Period) -> tuple[ServiceSales, ...]:
    sums, refunded = _sums(business, period), _refunded(business, period)
    return _service_sales(*_per_service(sums, business, refunded))


@dataclass(frozen=True)
class ServiceBookings:
    """One service's bookings in a period: the counts over every booking, the revenue in the
    business's currency (kept bookings' price and late-cancellation fees less what was
    refunded of them, as top offerings)."""

    name: str
    bookings: int  # kept: confirmed, completed or no-show
    completed: int
    no_shows: int
    cancelled: int
    revenue: int

    @property
    def no_show_rate(self) -> Decimal | None:
        return _percent(self.no_shows, self.completed + self.no_shows)


def _service_bookings(
    totals: dict[int, _ServiceTotals], names: dict[int, str]
) -> tuple[ServiceBookings, ...]:
    """Every service with a booking kept or cancelled (not only held or expired ones), most
    booked first."""
    found = [
        ServiceBookings(names[pk], t.bookings, t.completed, t.no_shows, t.cancelled, t.revenue)
        for pk, t in totals.items()
        if t.bookings or t.cancelled
    ]
    return tuple(sorted(found, key=lambda s: (-s.bookings, -s.cancelled, s.name)))


def bookings_by_service(*, business: Business, period: Period) -> tuple[ServiceBookings, ...]:
    """Every service with a booking starting in the period, most booked first."""
    sums, refunded = _sums(business, period), _refunded(business, period)
    return _service_bookings(*_per_service(sums, business, refunded))


def booking_metrics(*, business: Business, period: Period) -> BookingMetrics:
    sums = _sums(business, period)
    totals, names = _per_service(sums, business, _refunded(business, period))

    def count(*states: str) -> int:
        return sum(row.count for row in sums if row.state in states)

    # Booked time counts a group session once, however many seats it sold. One-to-one
    # bookings have keys of their own, so only class seats are grouped, per session, from a
    # partial index that holds nothing else: their seats' minutes are replaced by each
    # session's longest kept seat.
    sessions = (
        _in_period(business, period)
        .filter(state__in=KEPT)
        .exclude(session_key__startswith=ONE_TO_ONE_KEY)
        .values("staff_id", "session_key")
        .annotate(longest=Max("duration_minutes"), seats=Sum("duration_minutes"))
        .values("longest", "seats")
        .order_by()
    )
    inner, params = sessions.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(longest), 0), COALESCE(SUM(seats), 0) "  # noqa: S608
            f"FROM ({inner}) sessions",
            params,
        )
        longest, seats = (int(value) for value in cursor.fetchone())
    kept_minutes = sum(row.minutes for row in sums if row.state in KEPT)
    return BookingMetrics(
        bookings=count(*KEPT),
        completed=count(BookingState.COMPLETED),
        no_shows=count(BookingState.NO_SHOW),
        cancelled=count(BookingState.CANCELLED),
        booked_minutes=kept_minutes - seats + longest,
        offered_minutes=offered_minutes(business=business, period=period),
        by_service=_service_sales(totals, names),
        services=_service_bookings(totals, names),
    )


def offered_minutes(*, business: Business, period: Period) -> int:
    """Staff's working time in the period, less the time they blocked off (holidays; busy
    times imported from their own calendars are left in: they may be Tillbook's own bookings
    seen again). Of staff active, and of those no longer active who have bookings kept in the
    period (their booked time counts, so their hours must: a period's utilisation went over
    100% when someone who had worked it left). Ranges of hours that overlap count once.
    Staff who share the same hours (a team on one rota) and blocked nothing off are expanded
    once, so two years of forty people cost one schedule's days."""
    staff = list(StaffMember.objects.filter(business=business))
    gone = [member.pk for member in staff if not member.is_active]
    worked: set[int] = set()  # of those, who had bookings kept in the period
    if gone:  # asked through the period's kept bookings (an index on state and start)
        worked = set(
            Booking.objects.filter(
                business=business,
                state__in=KEPT,
                start__gte=period.start,
                start__lt=period.end,
                staff__in=gone,
            )
            .values_list("staff", flat=True)
            .distinct()
            .order_by()
        )
    staff = [member for member in staff if member.is_active or member.pk in worked]
    window = Interval(period.start, period.end)
    time_off = _time_off(business, staff, window)
    shared: list[tuple[Schedule, int]] = []
    offered = 0
    for member, schedule in schedules_for(staff).items():
        if member in time_off:
            offered += _working_minutes(schedule, window, time_off[member])
            continue
        for index, (known, count) in enumerate(shared):
            if known == schedule:
                shared[index] = (known, count + 1)
                break
        else:
            shared.append((schedule, 1))
    for schedule, count in shared:
        offered += count * _working_minutes(schedule, window, [])
    return offered


def _time_off(
    business: Business, staff: Sequence[StaffMember], window: Interval
) -> dict[int, list[Interval]]:
    """Per staff member, the time they blocked off that meets `window`, merged and sorted."""
    found: dict[int, list[Interval]] = {}
    for member, start, end in (
        TimeBlock.objects.filter(
            business=business,
            staff__in=staff,
            source=BusySource.MANUAL,
            start__lt=window.end,
            end__gt=window.start,
        )
        .order_by("staff", "start")
        .values_list("staff", "start", "end")
    ):
        blocks = found.setdefault(member, [])
        if blocks and start <= blocks[-1].end:
            blocks[-1] = Interval(blocks[-1].start, max(blocks[-1].end, end))
        else:
            blocks.append(Interval(start, end))
    return found


def _working_minutes(schedule: Schedule, window: Interval, off: list[Interval]) -> int:
    """Minutes of `schedule`'s working time inside `window` and outside `off` (merged)."""
    minutes = 0
    reached = window.start  # overlapping ranges (9–12 and 10–17) offer their time once
    for interval in sorted(working_intervals(schedule, window), key=lambda i: i.start):
        start, end = max(interval.start, reached), min(interval.end, window.end)
        if end <= start:
            continue
        reached = end
        blocked = sum(
            (min(end, block.end) - max(start, block.start)).total_seconds()
            for block in off
            if block.start < end and start < block.end
        )
        minutes += int((end - start).total_seconds() - blocked) // 60
    return minutes


def upcoming_bookings(*, business: Business, limit: int = 8) -> list[Booking]:
    """The next bookings: confirmed, or waiting for their payment while their hold lasts (one
    whose hold ran out is no booking, though the sweep marks it expired a little later)."""
    now = timezone.now()
    return list(
        Booking.objects.filter(
            business=business,
            state__in=(BookingState.CONFIRMED, BookingState.AWAITING_PAYMENT),
            start__gte=now,
        )
        .exclude(state=BookingState.AWAITING_PAYMENT, hold_expires_at__lte=now)
        .select_related("service", "staff", "customer")
        .order_by("start")[:limit]
    )
