"""Moving a booking counts what no exclusion constraint can: the seats of a class and a
service's per-day limit.

Seats in one class session share their time, so booking_staff_no_overlap lets any number of
them through; only the service's row lock, taken before the count, keeps the count true while
the booking is written. booking_hold takes it, and booking_reschedule must take the same lock
in the same order, or two customers moving into the last seat at once (or a move and a new
hold) both see it free and the class is overfilled.

In the races below each racer waits a moment at its pause point between check and write for
the other: without the lock both get there and both write; with the lock the second is still
waiting for the lock, so the first goes on alone. The negative controls switch row locking off
(select_for_update becomes a plain read) and hold both racers after their check until both
have checked: the same race then puts three people in a class for two.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db.models import QuerySet
from django.utils import timezone

from tillbook.core.hooks import installed_pause
from tillbook.core.models import Business
from tillbook.core.money import Money
from tillbook.core.scoping import business_scope
from tillbook.scheduling.changes import booking_reschedule
from tillbook.scheduling.models import BLOCKING_STATES, Booking, Service, StaffMember
from tillbook.scheduling.services import SlotUnavailable, booking_confirm, booking_hold
from tillbook.scheduling.setup import service_create, staff_hours_set, staff_member_create

from .race import BARRIER_TIMEOUT, Outcome, postgresql_only, race

pytestmark = [postgresql_only, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# How long a racer waits at its pause point for the other before going on alone.
MOMENT = 2.0

PAUSES = ("booking_reschedule.checked", "booking_hold.checked")


@pytest.fixture
def coach(business: Business) -> StaffMember:
    with business_scope(business):
        member = staff_member_create(business=business, name="Carla", timezone_name="UTC")
        staff_hours_set(staff=member, weekly={day: [(0, 1440)] for day in range(7)})
    return member


@pytest.fixture
def start() -> datetime:
    return (timezone.now() + timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)


def _service(business: Business, coach: StaffMember, **options: Any) -> Service:
    with business_scope(business):
        return service_create(
            business=business,
            name="Workshop",
            durations=[(60, Money(5000, "USD"))],
            staff=[coach],
            min_notice_minutes=0,
            interval_minutes=60,
            **options,
        )


def _booked(service: Service, coach: StaffMember, start: datetime) -> Booking:
    with business_scope(service.business):
        held = booking_hold(service=service, duration_minutes=60, start=start, staff=coach)
        return booking_confirm(booking=held.booking)


def _mover(booking: Booking, start: datetime) -> Callable[[], Booking]:
    def move() -> Booking:
        with business_scope(booking.business):
            return booking_reschedule(booking=booking, start=start, as_business=True).booking

    return move


def _holder(service: Service, coach: StaffMember, start: datetime) -> Callable[[], Booking]:
    def hold() -> Booking:
        with business_scope(service.business):
            return booking_hold(
                service=service, duration_minutes=60, start=start, staff=coach
            ).booking

    return hold


@contextmanager
def _paused(callback: Callable[[], None]) -> Iterator[None]:
    with ExitStack() as stack:
        for name in PAUSES:
            stack.enter_context(installed_pause(name, callback))
        yield


def _race_waiting_a_moment(racers: list[Callable[[], Booking]]) -> list[Outcome]:
    gate = threading.Barrier(len(racers), timeout=MOMENT)

    def wait_for_the_others() -> None:
        # A broken barrier means the others are not coming: they are waiting for the lock.
        with suppress(threading.BrokenBarrierError):
            gate.wait()

    with _paused(wait_for_the_others):
        return race(*racers)


def _race_unlocked(
    racers: list[Callable[[], Booking]], monkeypatch: pytest.MonkeyPatch
) -> list[Outcome]:
    monkeypatch.setattr(QuerySet, "select_for_update", lambda self, **kwargs: self)
    gate = threading.Barrier(len(racers), timeout=BARRIER_TIMEOUT)

    def wait_until_all_checked() -> None:
        gate.wait()

    with _paused(wait_until_all_checked):
        return race(*racers)


def _seats_at(service: Service, start: datetime) -> int:
    with business_scope(service.business):
        seats = Booking.objects.filter(
            service=service, start=start, state__in=BLOCKING_STATES
        ).values_list("seats", flat=True)
        return sum(seats)


def _refusal(start: datetime) -> str:
    when = f"{start:%H:%M} on {start.day} {start:%B %Y}"
    return f"{when} is no longer free; please pick another time."


@pytest.fixture
def class_with_one_seat_left(
    business: Business, coach: StaffMember, start: datetime
) -> tuple[Service, Booking, Booking]:
    """A class for two with one seat taken at `start`, and two customers booked later."""
    workshop = _service(business, coach, capacity=2)
    _booked(workshop, coach, start)
    first = _booked(workshop, coach, start + timedelta(hours=2))
    second = _booked(workshop, coach, start + timedelta(hours=4))
    return workshop, first, second


def test_two_customers_moving_into_the_last_seat_of_a_class_get_one_move(
    class_with_one_seat_left: tuple[Service, Booking, Booking], start: datetime
) -> None:
    workshop, first, second = class_with_one_seat_left
    outcomes = _race_waiting_a_moment([_mover(first, start), _mover(second, start)])

    moved = [outcome.result for outcome in outcomes if outcome.succeeded]
    refused = [outcome.error for outcome in outcomes if not outcome.succeeded]
    assert len(moved) == 1
    assert [type(error) for error in refused] == [SlotUnavailable]
    assert [error.message for error in refused] == [_refusal(start)]  # type: ignore[union-attr]
    assert _seats_at(workshop, start) == 2
    stayed = second if moved[0].pk == first.pk else first
    with business_scope(workshop.business):
        assert Booking.objects.get(pk=stayed.pk).start == stayed.start


def test_a_move_and_a_new_hold_racing_for_the_last_seat_get_one_seat(
    class_with_one_seat_left: tuple[Service, Booking, Booking],
    coach: StaffMember,
    start: datetime,
) -> None:
    workshop, first, _ = class_with_one_seat_left
    outcomes = _race_waiting_a_moment([_mover(first, start), _holder(workshop, coach, start)])

    assert sum(outcome.succeeded for outcome in outcomes) == 1
    assert [getattr(o.error, "message", o.error) for o in outcomes if o.error] == [_refusal(start)]
    assert _seats_at(workshop, start) == 2


def test_two_moves_into_one_day_of_a_once_a_day_service_get_one_move(
    business: Business, coach: StaffMember, start: datetime
) -> None:
    """Different times, so no exclusion constraint is involved: only the count of the day."""
    consult = _service(business, coach, max_per_day=1)
    first = _booked(consult, coach, start)
    second = _booked(consult, coach, start + timedelta(days=1))
    target = start + timedelta(days=2)
    outcomes = _race_waiting_a_moment(
        [_mover(first, target), _mover(second, target + timedelta(hours=4))]
    )

    assert sum(outcome.succeeded for outcome in outcomes) == 1
    with business_scope(business):
        on_the_day = Booking.objects.filter(
            service=consult, start__date=target.date(), state__in=BLOCKING_STATES
        )
        assert on_the_day.count() == 1


def test_negative_control_without_the_lock_two_moves_overfill_the_class(
    class_with_one_seat_left: tuple[Service, Booking, Booking],
    start: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workshop, first, second = class_with_one_seat_left
    outcomes = _race_unlocked([_mover(first, start), _mover(second, start)], monkeypatch)

    assert [outcome.error for outcome in outcomes] == [None, None]
    assert _seats_at(workshop, start) == 3


def test_negative_control_without_the_lock_a_move_and_a_hold_overfill_the_class(
    class_with_one_seat_left: tuple[Service, Booking, Booking],
    coach: StaffMember,
    start: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workshop, first, _ = class_with_one_seat_left
    outcomes = _race_unlocked([_mover(first, start), _holder(workshop, coach, start)], monkeypatch)

    assert [outcome.error for outcome in outcomes] == [None, None]
    assert _seats_at(workshop, start) == 3
