"""Customers racing for the same time (Cal.com #13397, #13068; Easy!Appointments #845).

booking_hold checks the engine's slots and then inserts. Every racer here is held at the pause
point between the check and the insert until all have checked, so each of them saw the time
free: only the database can keep them apart. The exclusion constraint
booking_staff_no_overlap (migration 0002) lets exactly one through; with it dropped, the
same race books the time twice (the negative control).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tillbook.core.hooks import installed_pause
from tillbook.core.models import Business
from tillbook.core.money import Money
from tillbook.core.scoping import business_scope
from tillbook.messaging.models import OutboxMessage
from tillbook.scheduling.models import Booking, BookingState, Service, StaffMember
from tillbook.scheduling.services import SlotUnavailable, booking_hold
from tillbook.scheduling.setup import service_create, staff_hours_set, staff_member_create

from .race import BARRIER_TIMEOUT, Outcome, postgresql_only, race

pytestmark = [postgresql_only, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

RACERS = 20


@pytest.fixture
def setup(business: Business) -> tuple[Service, StaffMember, datetime]:
    with business_scope(business):
        coach = staff_member_create(business=business, name="Carla", timezone_name="UTC")
        staff_hours_set(staff=coach, weekly={day: [(0, 1440)] for day in range(7)})
        service = service_create(
            business=business,
            name="Call",
            durations=[(60, Money(9000, "USD")), (30, Money(5000, "USD"))],
            staff=[coach],
            min_notice_minutes=0,
            interval_minutes=15,
        )
    start = (timezone.now() + timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
    return service, coach, start


def _holder(
    business: Business, service: Service, coach: StaffMember, start: datetime, minutes: int
) -> Callable[[], Booking]:
    def hold() -> Booking:
        with business_scope(business):
            return booking_hold(
                service=service, duration_minutes=minutes, start=start, staff=coach
            ).booking

    return hold


def _race_past_the_check(racers: list[Callable[[], Booking]]) -> list[Outcome]:
    all_checked = threading.Barrier(len(racers), timeout=BARRIER_TIMEOUT)
    with installed_pause("booking_hold.checked", all_checked.wait):
        return race(*racers)


@contextmanager
def exclusion_dropped(name: str) -> Iterator[None]:
    """Drop one of migration 0002's constraints for the block and restore it as it was."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s", [name]
        )
        definition = cursor.fetchone()[0]
        cursor.execute(f"ALTER TABLE scheduling_booking DROP CONSTRAINT {name}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE scheduling_booking ADD CONSTRAINT {name} {definition}")


def test_twenty_customers_racing_for_one_slot_get_exactly_one_booking(business, setup) -> None:
    service, coach, start = setup
    outcomes = _race_past_the_check([_holder(business, service, coach, start, 60)] * RACERS)

    winners = [outcome.result for outcome in outcomes if outcome.succeeded]
    losers = [outcome.error for outcome in outcomes if not outcome.succeeded]
    assert len(winners) == 1
    assert len(losers) == RACERS - 1
    assert {type(error) for error in losers} == {SlotUnavailable}
    assert {error.message for error in losers} == {  # type: ignore[union-attr]
        f"{start:%H:%M} on {start.day} {start:%B %Y} is no longer free; please pick another time."
    }
    with business_scope(business):
        assert list(Booking.objects.values_list("pk", "state")) == [(winners[0].pk, "held")]
        assert OutboxMessage.objects.count() == 0


def test_without_the_exclusion_constraint_the_same_race_double_books(business, setup) -> None:
    """Negative control: the race is real, and the constraint is what stops it."""
    service, coach, start = setup
    with exclusion_dropped("booking_staff_no_overlap"):
        try:
            outcomes = _race_past_the_check([_holder(business, service, coach, start, 60)] * 3)
            with business_scope(business):
                stored = Booking.objects.filter(state=BookingState.HELD).count()
        finally:
            with business_scope(business):
                Booking.objects.all().delete()
    assert [outcome.error for outcome in outcomes] == [None, None, None]
    assert stored == 3


def test_overlapping_bookings_of_different_lengths_are_refused(business, setup) -> None:
    service, coach, start = setup
    outcomes = _race_past_the_check(
        [
            _holder(business, service, coach, start, 60),
            _holder(business, service, coach, start + timedelta(minutes=30), 30),
            _holder(business, service, coach, start - timedelta(minutes=15), 60),
        ]
    )
    assert sum(outcome.succeeded for outcome in outcomes) == 1
    with business_scope(business):
        assert Booking.objects.count() == 1


def test_back_to_back_bookings_racing_are_all_allowed(business, setup) -> None:
    service, coach, start = setup
    outcomes = _race_past_the_check(
        [
            _holder(business, service, coach, start - timedelta(minutes=30), 30),
            _holder(business, service, coach, start, 60),
            _holder(business, service, coach, start + timedelta(minutes=60), 30),
        ]
    )
    assert [outcome.error for outcome in outcomes] == [None, None, None]
    with business_scope(business):
        assert Booking.objects.count() == 3


@pytest.mark.parametrize("state", [BookingState.CANCELLED, BookingState.EXPIRED])
def test_a_cancelled_or_expired_booking_frees_its_time(business, setup, state: str) -> None:
    service, coach, start = setup
    first = _holder(business, service, coach, start, 60)()
    with business_scope(business):
        Booking.objects.filter(pk=first.pk).update(state=state)
    outcomes = _race_past_the_check([_holder(business, service, coach, start, 60)] * 5)
    assert sum(outcome.succeeded for outcome in outcomes) == 1
    with business_scope(business):
        assert sorted(Booking.objects.values_list("state", flat=True)) == sorted(["held", state])


def test_a_hold_past_its_expiry_does_not_block_a_new_customer_even_before_the_sweep(
    business, setup
) -> None:
    service, coach, start = setup
    first = _holder(business, service, coach, start, 60)()
    with business_scope(business):
        Booking.objects.filter(pk=first.pk).update(
            hold_expires_at=timezone.now() - timedelta(seconds=1)
        )
    outcomes = race(_holder(business, service, coach, start, 60))
    assert outcomes[0].succeeded, outcomes[0].error


def test_two_people_racing_for_the_one_room_get_one_booking(business, setup) -> None:
    """booking_resource_no_overlap: different staff, same room, same time."""
    from tillbook.scheduling.models import Resource

    service, coach, start = setup
    with business_scope(business):
        room = Resource(business=business, name="Studio")
        room.save()
        second = staff_member_create(business=business, name="Bea", timezone_name="UTC")
        staff_hours_set(staff=second, weekly={day: [(0, 1440)] for day in range(7)})
        service.staff.add(second)
        Service.objects.filter(pk=service.pk).update(resource=room)
        service.refresh_from_db()
    outcomes = _race_past_the_check(
        [
            _holder(business, service, coach, start, 60),
            _holder(business, service, second, start + timedelta(minutes=30), 60),
        ]
    )
    assert sum(outcome.succeeded for outcome in outcomes) == 1
    with business_scope(business):
        assert Booking.objects.get().resource == room


def test_a_new_hold_leaves_a_run_out_hold_alone_while_its_payment_is_being_confirmed(
    business, setup
) -> None:
    """A hold ran out and its payment is arriving right now: payment confirmation holds the
    payment request's lock (it then takes the service's, to re-claim the time). A new customer's
    hold, which holds the service's lock while it expires run-out holds in its way, must not
    wait for that request: the two would wait on each other. It leaves the booking being paid
    alone and answers that the time is no longer free; without skipping, it waits for the
    request (here until lock_timeout gives up)."""
    from django.db import transaction

    from tillbook.payments.models import PaymentRequest, RequestState
    from tillbook.scheduling.services import CustomerDetails, booking_submit_details

    service, coach, start = setup
    with business_scope(business):
        Service.objects.filter(pk=service.pk).update(payment_mode="full")
        service.refresh_from_db()
        paying = booking_hold(service=service, duration_minutes=60, start=start, staff=coach)
        paying_booking = booking_submit_details(
            booking=paying.booking, details=CustomerDetails(name="Ann", email="ann@example.com")
        )
        assert paying_booking.state == BookingState.AWAITING_PAYMENT
        Booking.objects.filter(pk=paying_booking.pk).update(
            hold_expires_at=timezone.now() - timedelta(seconds=1)
        )
        request_id = paying_booking.payment_request_id
    locked, done = threading.Event(), threading.Event()

    def confirming() -> None:
        with business_scope(business), transaction.atomic():
            PaymentRequest.objects.select_for_update().get(pk=request_id)
            locked.set()
            done.wait(BARRIER_TIMEOUT)

    def holding() -> Booking:
        assert locked.wait(BARRIER_TIMEOUT)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '3s'")
            return _holder(business, service, coach, start, 60)()
        finally:
            done.set()

    payment, hold = race(confirming, holding)
    assert payment.succeeded, payment.error
    assert isinstance(hold.error, SlotUnavailable), hold.error
    with business_scope(business):
        assert Booking.objects.get(pk=paying_booking.pk).state == BookingState.AWAITING_PAYMENT
        assert PaymentRequest.objects.get(pk=request_id).state == RequestState.OPEN
        assert Booking.objects.count() == 1
