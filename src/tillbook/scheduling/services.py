"""The booking lifecycle: held → awaiting payment → confirmed → completed | no-show | cancelled
(DESIGN.md, the time model). Holds and unpaid bookings expire and free their time.

How a double booking is made impossible: `booking_hold` asks the engine whether the slot is
free and then inserts, inside one transaction. On PostgreSQL the exclusion constraints of
migration 0002 refuse an insert whose blocking range overlaps another blocking booking of the
same person or resource, so two customers who both passed the check cannot both succeed
(tests/concurrency/test_booking_race.py proves it, with a negative control). On SQLite the
IMMEDIATE transaction takes the write lock at BEGIN, so check and insert run one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from tillbook.core.errors import Conflict, InvalidInput, NotFound
from tillbook.core.hooks import pause_point
from tillbook.core.money import Money
from tillbook.core.tokens import hash_secret, new_secret
from tillbook.core.validation import validate_timezone
from tillbook.customers.attribution import customer_attribution_record
from tillbook.customers.models import ConsentSource, Customer
from tillbook.customers.services import customer_consent_given, customer_create
from tillbook.scheduling import notifications
from tillbook.scheduling.availability import (
    Interval,
    slot_is_offered,
    slots_for_anyone,
    within_limits,
)
from tillbook.scheduling.models import (
    BLOCKING_STATES,
    BOOKING_PURPOSE,
    Booking,
    BookingEvent,
    BookingLink,
    BookingState,
    Service,
    StaffMember,
    TimeBlock,
)
from tillbook.scheduling.policy import amount_due_now
from tillbook.scheduling.selectors import (
    LIMIT_MARGIN,
    blocking_bookings,
    group_session_key,
    one_to_one_session_key,
    service_slots,
    staff_load,
)

HOLD_MINUTES = 10
# Time to pay once the details are in: long enough for a card form and 3-D Secure.
PAYMENT_MINUTES = 20


class SlotUnavailable(Conflict):
    """The time was free when the page was drawn and is not any more."""


def is_overlap_refusal(error: DatabaseError) -> bool:
    """Whether the database refused a write because another booking holds the time.

    Besides the exclusion violation itself (an IntegrityError), two transactions inserting
    overlapping rows at once can each wait for the other's row: PostgreSQL then aborts one
    with "deadlock detected" (SQLSTATE 40P01), which means the same thing here.
    """
    if isinstance(error, IntegrityError):
        return True
    return getattr(error.__cause__, "sqlstate", None) == "40P01"


def wall_time(instant: datetime, zone_name: str) -> str:
    local = instant.astimezone(ZoneInfo(zone_name))
    return f"{local:%H:%M} on {local:%-d %B %Y}"


def booking_event(booking: Booking, kind: str, summary: str, actor_label: str = "") -> None:
    BookingEvent(
        business=booking.business,
        booking=booking,
        kind=kind,
        summary=summary[:300],
        actor_label=actor_label or "customer",
    ).save()


def link_create(booking: Booking, *, replace: bool = False) -> str:
    """A new secret manage link for the booking. With `replace`, earlier links stop working
    (after a reschedule, so one link cannot reschedule twice)."""
    if replace:
        BookingLink.objects.filter(booking=booking, replaced_at__isnull=True).update(
            replaced_at=timezone.now()
        )
    secret = new_secret(24)
    BookingLink(business=booking.business, booking=booking, token_hash=hash_secret(secret)).save()
    return secret


@dataclass(frozen=True)
class HeldBooking:
    booking: Booking
    secret: str  # for the customer's manage link; only its hash is stored


def _duration_price(service: Service, duration_minutes: int) -> Money:
    duration = service.durations.filter(minutes=duration_minutes).first()
    if duration is None:
        offered = ", ".join(str(d.minutes) for d in service.durations.all())
        raise InvalidInput(
            f"{service.name} cannot be booked for {duration_minutes} minutes; "
            f"choose one of: {offered} minutes.",
            field_errors={"duration": ["Not offered."]},
        )
    return duration.money


def unavailable_reason(
    *,
    service: Service,
    duration_minutes: int,
    start: datetime,
    staff_id: int | None,
    seats: int,
    now: datetime,
    zone_name: str,
) -> Exception:
    """The clearest reason a start is not bookable: past, notice, horizon, hours or taken."""
    when = wall_time(start, zone_name)
    if start <= now:
        return InvalidInput(f"{when} has already passed; choose a later time.")
    if start < now + timedelta(minutes=service.min_notice_minutes):
        hours = service.min_notice_minutes / 60
        return InvalidInput(f"{service.name} needs {hours:g} hours' notice; choose a later time.")
    if start > now + timedelta(days=service.horizon_days):
        return InvalidInput(
            f"{service.name} can be booked at most {service.horizon_days} days ahead."
        )
    if seats > service.capacity:
        return InvalidInput(f"{service.name} has {service.capacity} places at most.")
    # Would it be offered on an empty calendar? Then someone else took it; else it never was.
    from tillbook.scheduling.availability import StaffCalendar, available_slots
    from tillbook.scheduling.selectors import bookable_staff, schedules_for

    staff = bookable_staff(service=service, staff_id=staff_id)
    schedules = schedules_for(staff)
    empty = [StaffCalendar(member.pk, schedules[member.pk]) for member in staff]
    window = Interval(start, start + timedelta(microseconds=1))
    rules = service.rules(duration_minutes)
    if available_slots(empty, rules, window=window, now=now, seats=seats):
        return SlotUnavailable(f"{when} is no longer free; please pick another time.")
    return InvalidInput(f"{when} is not a time {service.name} can be booked; pick a listed time.")


def lock_counted_service(service: Service) -> None:
    """Seats and per-day/per-week limits are counts, which no exclusion constraint can check:
    holding, moving and re-claiming a booking of such a service take the service's row lock,
    so counting and writing happen one booking at a time. Always before any booking row, so
    two of them never wait on each other in a cycle."""
    if service.is_group or service.max_per_day or service.max_per_week:
        Service.objects.select_for_update().filter(pk=service.pk).first()


def booking_hold(
    *,
    service: Service,
    duration_minutes: int,
    start: datetime,
    staff: StaffMember | None,
    seats: int = 1,
    customer_timezone: str = "UTC",
    now: datetime | None = None,
    as_staff: bool = False,
    actor_label: str = "",
    utm_campaign: str = "",
) -> HeldBooking:
    """Hold a slot for a few minutes while the customer gives their details and pays.

    `staff` None means "anyone": the least-booked person free at that time. `utm_campaign` is
    the campaign of the visit that led here (the storefront's attribution).
    """
    now = now or timezone.now()
    if start.tzinfo is None:
        raise InvalidInput("The start time needs a time zone (ISO 8601 with an offset or Z).")
    customer_timezone = validate_timezone(customer_timezone)
    if not service.is_active:
        raise NotFound(f"{service.name} is not bookable at the moment.")
    if seats < 1:
        raise InvalidInput("Book at least one place.")
    unit_price = _duration_price(service, duration_minutes)
    rules = service.rules(duration_minutes)
    staff_id = staff.pk if staff is not None else None
    window = Interval(start, start + timedelta(microseconds=1))
    with transaction.atomic():
        lock_counted_service(service)
        slots = service_slots(
            service=service,
            duration_minutes=duration_minutes,
            window=window,
            staff_id=staff_id,
            seats=seats,
            now=now,
            as_staff=as_staff,
        )
        if staff_id is None and slots:
            load = staff_load(
                business=service.business,
                staff_ids=[slot.staff_id for slot in slots],
                window=Interval(start - timedelta(days=7), start + timedelta(days=7)),
            )
            slots = slots_for_anyone(slots, load)
        if not slots or (staff_id is not None and not slot_is_offered(slots, start, staff_id)):
            raise unavailable_reason(
                service=service,
                duration_minutes=duration_minutes,
                start=start,
                staff_id=staff_id,
                seats=seats,
                now=now,
                zone_name=customer_timezone,
            )
        chosen = slots[0]
        blocking = rules.blocking(start)
        _expire_overlapping(
            service=service, staff_ids=[chosen.staff_id], blocking=blocking, now=now
        )
        pause_point("booking_hold.checked")
        total = unit_price * seats
        booking = Booking(
            business=service.business,
            service=service,
            staff_id=chosen.staff_id,
            resource=service.resource,
            state=BookingState.HELD,
            start=start,
            end=start + rules.duration,
            blocking_start=blocking.start,
            blocking_end=blocking.end,
            session_key=(
                group_session_key(service, chosen.staff_id, start)
                if service.is_group
                else one_to_one_session_key()
            ),
            seats=seats,
            duration_minutes=duration_minutes,
            currency=total.currency,
            price=total.amount,
            deposit=amount_due_now(
                mode=service.payment_mode,
                total=total,
                deposit_fixed=Money(service.deposit_amount, total.currency),
                deposit_percent=service.deposit_percent,
                seats=seats,
            ).amount,
            payment_mode=service.payment_mode,
            cancel_window_hours=service.cancel_window_hours,
            late_cancel_fee_percent=service.late_cancel_fee_percent,
            reminder_offsets=list(service.reminder_offsets),
            location_kind=service.location_kind,
            location_text=service.location_detail if service.location_kind != "customer" else "",
            customer_timezone=customer_timezone,
            utm_campaign=utm_campaign.strip()[:200],
            hold_expires_at=now + timedelta(minutes=HOLD_MINUTES),
            created_at=now,
        )
        try:
            with transaction.atomic():
                booking.save()
        except DatabaseError as error:
            # The exclusion constraint: someone else's booking took the time since the check.
            if not is_overlap_refusal(error):
                raise
            raise SlotUnavailable(
                f"{wall_time(start, customer_timezone)} is no longer free; "
                "please pick another time."
            ) from None
        secret = link_create(booking)
        booking_event(
            booking, "held", f"Held {wall_time(start, booking.staff.timezone)}", actor_label
        )
    return HeldBooking(booking=booking, secret=secret)


def booking_for_link(*, business_id: int, secret: str) -> tuple[Booking, BookingLink]:
    """The booking behind a manage link; a replaced link says so instead of a bare 404."""
    link = (
        BookingLink.objects.filter(business_id=business_id, token_hash=hash_secret(secret or ""))
        .select_related("booking__service", "booking__staff", "booking__customer")
        .first()
    )
    if link is None:
        raise NotFound("This booking link is not valid. Check the link in your latest email.")
    return link.booking, link


def locked_booking(booking: Booking) -> Booking:
    return (
        # of=("self",): PostgreSQL cannot lock the nullable side of the customer join, and
        # only the booking row needs the lock.
        Booking.objects.select_for_update(of=("self",))
        .select_related("service", "staff", "customer", "business")
        .get(pk=booking.pk)
    )


def _within_limits(booking: Booking, now: datetime) -> bool:
    """Whether re-claiming keeps the staff member inside the service's per-day and per-week
    limits, counted as for a new hold: a seat in a class session that still runs adds no
    session, so it counts nothing new."""
    service = booking.service
    if service.max_per_day is None and service.max_per_week is None:
        return True
    reach = Interval(booking.start - LIMIT_MARGIN, booking.start + LIMIT_MARGIN)
    booked = list(
        blocking_bookings(business=booking.business, now=now)
        .filter(
            service_id=service.pk,
            staff_id=booking.staff_id,
            blocking_start__lt=reach.end,
            blocking_end__gt=reach.start,
        )
        .exclude(pk=booking.pk)
        .values_list("start", flat=True)
    )
    if service.is_group and booking.start in booked:
        return True
    rules = service.rules(booking.duration_minutes)
    return within_limits(rules, booking.staff.timezone, booked, booking.start)


def _still_free(booking: Booking, now: datetime) -> bool:
    """Whether the booking's time is free of other blocking bookings (for re-claiming an
    expired hold; the exclusion constraint is the final word on PostgreSQL), within the
    service's per-day and per-week limits, and for a seat in a class, whether the class still
    has room for it (no constraint counts seats or limits)."""
    # Usually taken already (booking_confirm); when the hold ran out only after the caller
    # read it, taken here, after the booking row: a cycle then needs a move of this same
    # expired booking at the same instant, which is refused anyway.
    lock_counted_service(booking.service)
    if not _within_limits(booking, now):
        return False
    if booking.service.is_group:
        taken = (
            blocking_bookings(business=booking.business, now=now)
            .filter(session_key=booking.session_key)
            .exclude(pk=booking.pk)
            .values_list("seats", flat=True)
        )
        if sum(taken) + booking.seats > booking.service.capacity:
            return False
    others = (
        Booking.objects.filter(
            business=booking.business,
            state__in=BLOCKING_STATES,
            blocking_start__lt=booking.blocking_end,
            blocking_end__gt=booking.blocking_start,
        )
        .exclude(pk=booking.pk)
        .exclude(session_key=booking.session_key)
    )
    # Time staff blocked (or their imported calendar filled) after the hold ran out.
    staff_taken = (
        others.filter(staff_id=booking.staff_id).exists()
        or TimeBlock.objects.filter(
            business=booking.business,
            staff_id=booking.staff_id,
            start__lt=booking.blocking_end,
            end__gt=booking.blocking_start,
        ).exists()
    )
    resource_taken = booking.resource_id is not None and (
        others.filter(resource_id=booking.resource_id).exists()
    )
    return not (staff_taken or resource_taken)


def _not_confirmable(booking: Booking) -> Conflict:
    if booking.state in (BookingState.EXPIRED, BookingState.HELD, BookingState.AWAITING_PAYMENT):
        return Conflict("The time held for this booking ran out; hold a time again.")
    return Conflict(f"A {booking.get_state_display().lower()} booking cannot be confirmed.")


def booking_confirm(
    *, booking: Booking, actor_label: str = "", now: datetime | None = None, paid: bool = False
) -> Booking:
    """Confirm a booking, exactly once: the payment webhook, the browser's return and staff may
    all arrive; the row lock makes the second a no-op. Sends the confirmation on commit.

    A payment (`paid`) for a hold that already expired re-claims its time if still free;
    otherwise the booking is listed as paid without time for staff to rebook or refund (never
    lost). Without a payment, an expired or cancelled booking is not confirmed.
    """
    now = now or timezone.now()
    if not paid and booking.state in (BookingState.EXPIRED, BookingState.CANCELLED):
        raise _not_confirmable(booking)
    with transaction.atomic():
        if paid and booking.state == BookingState.EXPIRED:
            # Re-claiming counts seats under the service's lock: take it before the booking's
            # row, in the order booking_hold and booking_reschedule take them.
            lock_counted_service(booking.service)
        locked = locked_booking(booking)
        if locked.state == BookingState.CONFIRMED:
            return locked
        if locked.state in (BookingState.EXPIRED, BookingState.CANCELLED):
            if not paid:
                raise _not_confirmable(locked)
            reclaimed = False
            if locked.state == BookingState.EXPIRED and _still_free(locked, now):
                try:
                    with transaction.atomic():
                        locked.state = BookingState.CONFIRMED
                        locked.save(update_fields=["state"])
                        reclaimed = True
                except IntegrityError:
                    locked.state = BookingState.EXPIRED
            if not reclaimed:
                locked.paid_without_time = True
                locked.save(update_fields=["paid_without_time"])
                booking_event(
                    locked,
                    "paid_without_time",
                    "Paid after the hold ran out and the time was taken: rebook or refund",
                    actor_label,
                )
                return locked
        elif locked.state not in (BookingState.HELD, BookingState.AWAITING_PAYMENT) or (
            not paid and locked.hold_has_run_out(now)  # its time is free for others already
        ):
            raise _not_confirmable(locked)
        locked.state = BookingState.CONFIRMED
        locked.hold_expires_at = None
        locked.confirmed_at = now
        locked.scheduled_at = now
        locked.save(update_fields=["state", "hold_expires_at", "confirmed_at", "scheduled_at"])
        secret = link_create(locked)
        booking_event(locked, "confirmed", "Confirmed", actor_label)
        notifications.send_confirmation(locked, secret=secret)
    return locked


def booking_expire_due(*, now: datetime | None = None) -> int:
    """Expire holds and unpaid bookings whose time ran out (the sweep; idempotent)."""
    now = now or timezone.now()
    due = Booking.objects.filter(
        state__in=(BookingState.HELD, BookingState.AWAITING_PAYMENT), hold_expires_at__lte=now
    ).values_list("pk", flat=True)[:1000]
    return sum(_expire(booking_id, now) for booking_id in list(due))


def _expire_overlapping(
    *, service: Service, staff_ids: list[int], blocking: Interval, now: datetime
) -> None:
    """Expire run-out holds in the way of a new booking now, not at the next sweep: on
    PostgreSQL the exclusion constraint still counts them until their state changes."""
    overlapping = Booking.objects.filter(
        business=service.business,
        state__in=(BookingState.HELD, BookingState.AWAITING_PAYMENT),
        hold_expires_at__lte=now,
        blocking_start__lt=blocking.end,
        blocking_end__gt=blocking.start,
    )
    by_staff = overlapping.filter(staff_id__in=staff_ids)
    if service.resource_id is not None:
        by_staff = by_staff | overlapping.filter(resource_id=service.resource_id)
    for booking_id in list(by_staff.values_list("pk", flat=True)):
        # Holding the service's lock: a run-out hold whose payment is being confirmed right now
        # (its request locked, the service's lock wanted next) is left alone, not waited for.
        _expire(booking_id, now, unless_being_paid=True)


def _expire(booking_id: int, now: datetime, *, unless_being_paid: bool = False) -> bool:
    from tillbook.payments.models import PaymentRequest, RequestState
    from tillbook.payments.services import payment_request_close

    with transaction.atomic():
        request_id = (
            Booking.objects.filter(pk=booking_id).values_list("payment_request", flat=True).first()
        )
        if request_id is not None:
            # The request before the booking, as payment_confirm and booking_cancel lock them:
            # a late payment or a cancel arriving now never waits on this in a cycle.
            paying = PaymentRequest.objects.select_for_update(skip_locked=unless_being_paid)
            if paying.filter(pk=request_id).values_list("pk", flat=True).first() is None:
                return False  # locked by a payment being confirmed: its outcome decides
        booking = Booking.objects.select_for_update().filter(pk=booking_id).first()
        if booking is None or not booking.hold_has_run_out(now):
            return False
        booking.state = BookingState.EXPIRED
        booking.save(update_fields=["state"])
        if booking.payment_request_id is not None:
            # An unpaid request of an expired booking must not take money for a time that is
            # gone (a late payment is still handled: see booking_confirm).
            payment_request_close(request_id=booking.payment_request_id, state=RequestState.EXPIRED)
        booking_event(booking, "expired", "Hold ran out; the time is free again", "system")
    return True


@dataclass(frozen=True)
class CustomerDetails:
    name: str
    email: str
    phone: str = ""
    answers: dict[int, str] | None = None  # question id → answer
    address: str = ""
    postal_code: str = ""
    latitude: float | None = None
    longitude: float | None = None
    marketing_consent: bool = False


def customer_for_details(business_id: int, details: CustomerDetails, booking: Booking) -> Customer:
    existing = Customer.objects.filter(
        business_id=business_id, email__iexact=details.email.strip()
    ).first()
    if existing is not None:
        if details.marketing_consent:
            customer_consent_given(
                customer=existing, source=ConsentSource.BOOKING, actor_label="booking page"
            )
        return existing
    try:
        return customer_create(
            business=booking.business,
            actor=None,
            actor_label="booking page",
            email=details.email,
            name=details.name,
            phone=details.phone,
            marketing_consent=details.marketing_consent,
            consent_source=ConsentSource.BOOKING,
        )
    except Conflict:
        # Created a moment ago by a parallel request of the same person.
        return Customer.objects.get(business_id=business_id, email__iexact=details.email.strip())


def _answers(booking: Booking, given: dict[int, str]) -> list[dict[str, str]]:
    answers = []
    errors: dict[str, list[str]] = {}
    for question in booking.service.questions.all():
        value = " ".join(str(given.get(question.pk, "")).split())[:2000]
        if question.kind == "choice" and value and value not in question.choices:
            errors[f"question_{question.pk}"] = ["Choose one of the options."]
        if question.is_required and not value:
            errors[f"question_{question.pk}"] = ["Required."]
        answers.append({"question": question.label, "answer": value})
    if errors:
        raise InvalidInput("Please answer the questions marked.", field_errors=errors)
    return answers


def _location(booking: Booking, details: CustomerDetails) -> str:
    from tillbook.scheduling.area import customer_point, in_service_area

    service = booking.service
    point = customer_point(details.latitude, details.longitude)
    if service.location_kind != "customer":
        return booking.location_text
    address = " ".join(details.address.split())[:250]
    if not address or not details.postal_code.strip():
        raise InvalidInput(
            "We come to you: enter your address and postal code.",
            field_errors={"address": ["Required."], "postal_code": ["Required."]},
        )
    base = None
    if service.base_latitude is not None and service.base_longitude is not None:
        base = (service.base_latitude, service.base_longitude)
    if not in_service_area(
        postal_codes_text=service.service_postal_codes,
        base=base,
        radius_km=service.service_radius_km,
        postal_code=details.postal_code,
        point=point,
    ):
        raise InvalidInput(
            f"Sorry, {details.postal_code.strip()} is outside the area {service.name} covers.",
            field_errors={"postal_code": ["Outside the service area."]},
        )
    return f"{address}, {details.postal_code.strip()}"[:300]


def booking_submit_details(
    *,
    booking: Booking,
    details: CustomerDetails,
    attribution: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Booking:
    """The customer's details and answers. Pay-later (or free) bookings are confirmed now;
    the rest wait for payment with a little more time on the clock.

    `attribution` is the visit's (the storefront's first and latest touch): the customer keeps
    where they first came from, as an order's customer does.
    """
    from tillbook.payments.services import payment_request_create

    now = now or timezone.now()
    with transaction.atomic():
        locked = locked_booking(booking)
        if locked.state != BookingState.HELD:
            raise Conflict(_not_held_message(locked))
        if locked.hold_expires_at is not None and locked.hold_expires_at <= now:
            raise Conflict(
                "Your hold on this time ran out after 10 minutes; please pick the time again."
            )
        location = _location(locked, details)
        answers = _answers(locked, details.answers or {})
        customer = customer_for_details(locked.business_id, details, locked)
        if attribution:
            customer_attribution_record(customer=customer, attribution=attribution)
        locked.customer = customer
        locked.answers = answers
        locked.location_text = location
        if locked.deposit == 0:
            locked.save(update_fields=["customer", "answers", "location_text"])
            return booking_confirm(booking=locked, now=now)
        when = wall_time(locked.start, locked.customer_timezone)
        request = payment_request_create(
            business=locked.business,
            purpose=BOOKING_PURPOSE,
            purpose_id=str(locked.pk),
            title=f"{locked.service.name}, {when}",
            amount=locked.deposit_money,
            customer=customer,
            expires_at=now + timedelta(minutes=PAYMENT_MINUTES),
        )
        locked.payment_request = request
        locked.state = BookingState.AWAITING_PAYMENT
        locked.hold_expires_at = now + timedelta(minutes=PAYMENT_MINUTES)
        locked.save(
            update_fields=[
                "customer",
                "answers",
                "location_text",
                "payment_request",
                "state",
                "hold_expires_at",
            ]
        )
        booking_event(locked, "details", f"Details given by {customer.email}; awaiting payment")
    return locked


def _not_held_message(booking: Booking) -> str:
    if booking.state == BookingState.EXPIRED:
        return "Your hold on this time ran out; please pick the time again."
    if booking.state == BookingState.AWAITING_PAYMENT:
        return "Your details are in; the booking is waiting for payment."
    return f"This booking is already {booking.get_state_display().lower()}."
