"""Demo scheduling: two coaches with their hours, three kinds of service, and six months of
bookings (three past, three ahead), placed with the availability engine so they never clash.

Deterministic for a seed and for the day it runs: bookings are laid out relative to today.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from tillbook.core.models import Business, User
from tillbook.core.money import Money
from tillbook.customers.models import Customer
from tillbook.scheduling.availability import Interval, StaffCalendar, staff_slots
from tillbook.scheduling.models import (
    ONE_TO_ONE_KEY,
    Booking,
    BookingState,
    Service,
    StaffMember,
)
from tillbook.scheduling.selectors import group_session_key, schedules_for
from tillbook.scheduling.setup import service_create, staff_hours_set, staff_member_create

PAST_DAYS = 91
AHEAD_DAYS = 91


def seed_scheduling(
    *, business: Business, owner: User, coach: User, rng: random.Random
) -> dict[str, int]:
    """Call inside business_scope(business)."""
    dana = staff_member_create(
        business=business, name=owner.display_name, email=owner.email, user=owner,
        timezone_name="America/Chicago", actor=owner,
    )  # fmt: skip
    staff_hours_set(
        staff=dana, weekly={day: [(9 * 60, 12 * 60), (13 * 60, 17 * 60)] for day in range(5)}
    )
    marco = staff_member_create(
        business=business, name=coach.display_name, email=coach.email, user=coach,
        timezone_name="America/New_York", actor=owner,
    )  # fmt: skip
    staff_hours_set(staff=marco, weekly={day: [(10 * 60, 18 * 60)] for day in (1, 2, 3, 4, 5)})
    calls = service_create(
        business=business,
        name="Leadership coaching call",
        description="A focused one-to-one video call on the challenge in front of you.",
        durations=[(30, Money(9000, "USD")), (60, Money(15000, "USD"))],
        staff=[dana, marco],
        payment_mode="full",
        location_kind="video",
        location_detail="https://meet.example.com/maple",
        buffer_after_minutes=10,
        min_notice_minutes=12 * 60,
        reminder_offsets=[1440, 120],
        questions=[
            {"label": "What would you like to work on?", "kind": "text", "is_required": True},
            {
                "label": "Have you had coaching before?",
                "kind": "choice",
                "choices": ["No", "Yes, a little", "Yes, a lot"],
            },
        ],
        actor=owner,
    )
    workshop = service_create(
        business=business,
        name="Team communication workshop",
        description="Three hands-on hours for up to twelve people, at our studio.",
        durations=[(180, Money(9500, "USD"))],
        staff=[dana],
        payment_mode="deposit_percent",
        deposit_percent=50,
        location_kind="business",
        location_detail="220 W Huron St, Suite 4, Chicago",
        capacity=12,
        interval_minutes=180,
        max_per_week=2,
        min_notice_minutes=48 * 60,
        cancel_window_hours=72,
        late_cancel_fee_percent=50,
        reminder_offsets=[2880, 180],
        actor=owner,
    )
    visit = service_create(
        business=business,
        name="On-site workspace ergonomics visit",
        description="We come to your office or home office and set up your workspace.",
        durations=[(90, Money(22000, "USD"))],
        staff=[marco],
        payment_mode="deposit_fixed",
        deposit_amount=5000,
        location_kind="customer",
        service_postal_codes="60601 60602 60603 60604 60605 60606 60607 60610 60611 60654",
        base_latitude=Decimal("41.878100"),
        base_longitude=Decimal("-87.629800"),
        service_radius_km=25,
        travel_minutes=30,
        interval_minutes=30,
        max_per_day=3,
        reminder_offsets=[1440],
        actor=owner,
    )
    customers = list(Customer.objects.filter(business=business).order_by("pk"))
    now = timezone.now()
    plan = [(dana, calls, 60, 0.35), (dana, workshop, 180, 0.25), (marco, calls, 30, 0.3),
            (marco, visit, 90, 0.4)]  # fmt: skip
    busy: dict[int, list[Interval]] = {dana.pk: [], marco.pk: []}
    bookings: list[Booking] = []
    schedules = schedules_for([dana, marco])
    first_day = now - timedelta(days=PAST_DAYS)
    for offset in range(PAST_DAYS + AHEAD_DAYS):
        day_start = first_day + timedelta(days=offset)
        for member, service, minutes, chance in plan:
            if rng.random() > chance * 2:
                continue
            calendar = StaffCalendar(member.pk, schedules[member.pk], busy=busy[member.pk])
            # The demo reaches into the past, so neither notice nor horizon applies here.
            rules = replace(
                service.rules(minutes), min_notice=timedelta(0), horizon=timedelta(days=400)
            )
            window = Interval(day_start, day_start + timedelta(days=1))
            slots = staff_slots(calendar, rules, window=window, now=first_day - timedelta(days=1))
            if not slots:
                continue
            slot = rng.choice(slots)
            blocking = rules.blocking(slot.start)
            busy[member.pk].append(blocking)
            seats = rng.randint(3, 9) if service.is_group else 1
            bookings += _bookings(
                service=service, member=member, start=slot.start, minutes=minutes,
                blocking=blocking, seats=seats, customers=rng.sample(customers, seats),
                now=now, rng=rng,
            )  # fmt: skip
    Booking.objects.bulk_create(bookings)
    return {"services": 3, "staff": 2, "bookings": len(bookings)}


def _bookings(
    *,
    service: Service,
    member: StaffMember,
    start: datetime,
    minutes: int,
    blocking: Interval,
    seats: int,
    customers: list[Customer],
    now: datetime,
    rng: random.Random,
) -> list[Booking]:
    """One booking per customer (a group session gets several, sharing its session key)."""
    price = service.durations.get(minutes=minutes).price
    made = []
    for customer in customers:
        if start > now:
            state = BookingState.CONFIRMED if rng.random() < 0.93 else BookingState.CANCELLED
        else:
            state = rng.choices(
                [BookingState.COMPLETED, BookingState.NO_SHOW, BookingState.CANCELLED],
                weights=[86, 5, 9],
            )[0]
        booked_at = start - timedelta(days=rng.randint(1, 20), minutes=rng.randint(0, 600))
        made.append(
            Booking(
                business=service.business,
                service=service,
                staff=member,
                customer=customer,
                state=state,
                start=start,
                end=start + timedelta(minutes=minutes),
                blocking_start=blocking.start,
                blocking_end=blocking.end,
                session_key=(
                    group_session_key(service, member.pk, start)
                    if service.is_group
                    else f"{ONE_TO_ONE_KEY}{uuid.UUID(int=rng.getrandbits(128))}"
                ),
                seats=1,
                duration_minutes=minutes,
                currency="USD",
                price=price,
                deposit=price,
                payment_mode=service.payment_mode,
                cancel_window_hours=service.cancel_window_hours,
                late_cancel_fee_percent=service.late_cancel_fee_percent,
                reminder_offsets=list(service.reminder_offsets),
                location_kind=service.location_kind,
                location_text=service.location_detail
                if service.location_kind != "customer"
                else f"{rng.randint(100, 999)} N Wells St, 60610",
                customer_timezone=rng.choice(
                    ["America/Chicago"] * 6 + ["America/New_York", "Europe/London"]
                ),
                uid=uuid.UUID(int=rng.getrandbits(128)),
                created_at=booked_at,
                confirmed_at=booked_at,
                scheduled_at=booked_at,
                cancelled_at=booked_at + timedelta(days=1)
                if state == BookingState.CANCELLED
                else None,
            )
        )
    return made
