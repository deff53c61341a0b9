"""Changing a booking after it was made: reschedule and cancel, by the customer (through the
secret link, under the policy copied onto the booking) or by staff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import DatabaseError, transaction
from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from tillbook.core.audit import audit_record
from tillbook.core.errors import Conflict, InvalidInput
from tillbook.core.hooks import pause_point
from tillbook.core.models import User
from tillbook.core.money import Money
from tillbook.scheduling import notifications
from tillbook.scheduling.availability import Interval, slot_is_offered
from tillbook.scheduling.models import (
    BOOKING_CHARGE_PURPOSE,
    BOOKING_PURPOSES,
    Booking,
    BookingLink,
    BookingState,
)
from tillbook.scheduling.policy import CancellationTerms, cancellation_terms
from tillbook.scheduling.selectors import group_session_key, service_slots
from tillbook.scheduling.services import (
    SlotUnavailable,
    booking_event,
    is_overlap_refusal,
    link_create,
    lock_counted_service,
    locked_booking,
    unavailable_reason,
    wall_time,
)

if TYPE_CHECKING:
    from tillbook.payments.models import Payment

CHANGEABLE = (BookingState.CONFIRMED, BookingState.AWAITING_PAYMENT)


def _check_link(link: BookingLink | None) -> None:
    if link is not None and link.replaced_at is not None:
        raise Conflict(
            "This link was already used to reschedule, so it no longer changes the booking. "
            "Use the link in your latest confirmation email."
        )


def _inside_window(booking: Booking, now: datetime) -> bool:
    return booking.start - now < timedelta(hours=booking.cancel_window_hours)


@dataclass(frozen=True)
class Rescheduled:
    booking: Booking
    secret: str  # the new manage link; the one used is now replaced


def reschedule_refusal(booking: Booking, *, now: datetime, by_business: bool) -> Conflict | None:
    """Why `booking` cannot be moved to any other time now, or None. (The reschedule page asks
    before it lists times; booking_reschedule asks again under the booking's lock.)"""
    if booking.state not in CHANGEABLE:
        state = booking.get_state_display().lower()
        return Conflict(f"A {state} booking cannot be rescheduled.")
    if booking.hold_has_run_out(now):
        # Staff and the API too: the sweep expires it whatever its start, so a move would
        # only announce a new time the booking no longer holds (and the old link is spent).
        return Conflict(
            "The time held for this booking ran out before it was paid, so it can no "
            "longer be moved; please pick a time again."
        )
    if not by_business and _inside_window(booking, now):
        return Conflict(
            f"This booking starts within {booking.cancel_window_hours} hours, so it can no "
            f"longer be rescheduled online. Please contact {booking.business.name}."
        )
    return None


def booking_reschedule(
    *,
    booking: Booking,
    start: datetime,
    link: BookingLink | None = None,
    actor: User | None = None,
    as_business: bool = False,
    now: datetime | None = None,
) -> Rescheduled:
    """Move a booking to another free start with the same person and length.

    Through the customer's `link` this is allowed until the cancellation window begins, and
    the link is spent; staff (`actor`, or an API token: `as_business`) may always. SEQUENCE
    goes up, reminders are recomputed from now, and the customer gets the new time with a new
    calendar file and link.
    """
    now = now or timezone.now()
    by_business = actor is not None or as_business
    if start.tzinfo is None:
        raise InvalidInput("The new start needs a time zone.")
    with transaction.atomic():
        # Seats of a class and per-day/per-week limits are counted below: under the lock
        # booking_hold takes, and before the booking's row as booking_hold does, or two moves
        # (or a move and a new hold) both count the last seat free.
        lock_counted_service(booking.service)
        locked = locked_booking(booking)
        if link is not None:
            link = BookingLink.objects.select_for_update().get(pk=link.pk)
        _check_link(link)
        refusal = reschedule_refusal(locked, now=now, by_business=by_business)
        if refusal is not None:
            raise refusal
        if start == locked.start:
            raise InvalidInput("That is the booking's current time; pick another.")
        slots = service_slots(
            service=locked.service,
            duration_minutes=locked.duration_minutes,
            window=Interval(start, start + timedelta(microseconds=1)),
            staff_id=locked.staff_id,
            seats=locked.seats,
            now=now,
            ignore_booking_id=locked.pk,
            as_staff=by_business,
        )
        if not slot_is_offered(slots, start, locked.staff_id):
            raise unavailable_reason(
                service=locked.service,
                duration_minutes=locked.duration_minutes,
                start=start,
                staff_id=locked.staff_id,
                seats=locked.seats,
                now=now,
                zone_name=locked.customer_timezone,
            )
        pause_point("booking_reschedule.checked")
        old = wall_time(locked.start, locked.customer_timezone)
        shift = start - locked.start
        locked.start += shift
        locked.end += shift
        locked.blocking_start += shift
        locked.blocking_end += shift
        if locked.service.is_group:
            locked.session_key = group_session_key(locked.service, locked.staff_id, start)
        locked.sequence += 1
        locked.scheduled_at = now
        try:
            with transaction.atomic():
                locked.save()
        except DatabaseError as error:
            if not is_overlap_refusal(error):
                raise
            raise SlotUnavailable(
                f"{wall_time(start, locked.customer_timezone)} is no longer free; "
                "please pick another time."
            ) from None
        secret = link_create(locked, replace=True)
        new = wall_time(locked.start, locked.customer_timezone)
        label = actor.email if actor else "customer"
        booking_event(locked, "rescheduled", f"Moved from {old} to {new}", label)
        if actor is not None:
            audit_record(
                business=locked.business,
                actor=actor,
                action="booking.reschedule",
                summary=f"Moved a {locked.service.name} booking from {old} to {new}",
                target=locked,
            )
        notifications.send_rescheduled(locked, secret=secret)
    return Rescheduled(booking=locked, secret=secret)


def cancellation_quote(
    booking: Booking, *, by_business: bool, now: datetime | None = None
) -> CancellationTerms:
    """What cancelling now would cost, for the page that asks "are you sure?"."""
    return cancellation_terms(
        start=booking.start,
        now=now or timezone.now(),
        window_hours=booking.cancel_window_hours,
        fee_percent=booking.late_cancel_fee_percent,
        total=booking.total,
        paid=_paid(booking),
        by_business=by_business,
    )


def _payments(booking: Booking) -> QuerySet[Payment]:
    """What the customer paid towards the booking: the deposit or full price when booking,
    and what they paid later through staff's links (the balance), as the back office lists."""
    from tillbook.payments.models import Payment, PaymentState

    return Payment.objects.filter(
        business=booking.business,
        request__purpose__in=BOOKING_PURPOSES,
        request__purpose_id=str(booking.pk),
        state=PaymentState.SUCCEEDED,
    )


def _paid(booking: Booking) -> Money:
    """What the customer paid towards the booking and still has with the business: less what
    was refunded already (a goodwill refund), so a cancellation promises only what is left."""
    from tillbook.payments.models import RefundState

    payments = _payments(booking).annotate(
        taken=Coalesce(Sum("refunds__amount", filter=~Q(refunds__state=RefundState.FAILED)), 0)
    )
    kept = sum(max(0, amount - taken) for amount, taken in payments.values_list("amount", "taken"))
    return Money(kept, booking.currency)


def _lock_open_requests(booking: Booking) -> set[int]:
    """The booking's requests that can still take money, locked: the one that pays for the
    booking (deposit or price) and staff's links for the balance or a fee.

    Locked before the booking, as payment_confirm locks a request and then its booking: a
    payment being confirmed right now and this cancel never wait on each other in a cycle.
    """
    from tillbook.payments.models import PaymentRequest, RequestState

    its_own = Q(purpose=BOOKING_CHARGE_PURPOSE, purpose_id=str(booking.pk))
    if booking.payment_request_id is not None:
        its_own |= Q(pk=booking.payment_request_id)
    requests = PaymentRequest.objects.filter(
        its_own, business_id=booking.business_id, state=RequestState.OPEN
    )
    return set(requests.select_for_update().order_by("pk").values_list("pk", flat=True))


def booking_cancel(
    *,
    booking: Booking,
    link: BookingLink | None = None,
    actor: User | None = None,
    as_business: bool = False,
    reason: str = "",
    now: datetime | None = None,
) -> tuple[Booking, CancellationTerms]:
    """Cancel and free the time. A customer cancelling inside the window keeps the fee (and
    is told so); otherwise what was paid is refunded, after the cancellation commits."""
    from tillbook.payments.models import RequestState
    from tillbook.payments.services import payment_request_close

    now = now or timezone.now()
    with transaction.atomic():
        payable = _lock_open_requests(booking)
        locked = locked_booking(booking)
        if link is not None:
            link = BookingLink.objects.select_for_update().get(pk=link.pk)
        _check_link(link)
        if locked.state not in (*CHANGEABLE, BookingState.HELD):
            state = locked.get_state_display().lower()
            raise Conflict(f"This booking is already {state}; there is nothing to cancel.")
        by_business = actor is not None or as_business
        if not by_business and locked.start <= now:
            # Past its start the session took place or was missed: staff decide (complete,
            # no-show), not a link that would refund what the late fee does not keep.
            raise Conflict(
                "This booking has already started, so it can no longer be cancelled online. "
                f"Please contact {locked.business.name}."
            )
        terms = cancellation_quote(locked, by_business=by_business, now=now)
        locked.state = BookingState.CANCELLED
        locked.cancelled_at = now
        locked.cancel_reason = " ".join(reason.split())[:300]
        locked.cancellation_fee = terms.fee.amount
        locked.sequence += 1
        locked.save()
        locale = locked.business.locale
        summary = f"Cancelled by {actor.email if actor else 'the customer'}"
        if terms.is_late:
            summary += f", late: {terms.fee.format(locale)} kept"
        booking_event(locked, "cancelled", summary, actor.email if actor else "customer")
        if actor is not None:
            audit_record(
                business=locked.business,
                actor=actor,
                action="booking.cancel",
                summary=f"Cancelled a {locked.service.name} booking of {locked.start:%Y-%m-%d}",
                target=locked,
            )
        if locked.payment_request_id is not None:
            payable.add(locked.payment_request_id)
        for request_id in sorted(payable):
            payment_request_close(request_id=request_id, state=RequestState.CANCELLED)
        notifications.send_cancelled(
            locked,
            fee=terms.fee.format(locale),
            refund=terms.refund.format(locale),
            # Late but nothing kept (nothing was paid, or no fee): no fee to announce.
            is_late=terms.is_late and terms.fee.amount > 0,
            has_refund=terms.refund.amount > 0,
            # What staff write is for the customer (the back office says so); a customer's own
            # reason is not read back to them.
            reason=locked.cancel_reason if by_business else "",
        )
    if terms.refund.amount > 0:
        _refund(locked, terms.refund, actor)
    return locked, terms


def _refund(booking: Booking, amount: Money, actor: User | None) -> None:
    """Refund across the booking's payments, newest first, until `amount` is covered."""
    from tillbook.payments.services import refund_create, refundable

    remaining = amount
    payments = _payments(booking).order_by("-succeeded_at")
    for payment in payments:
        if remaining.amount <= 0:
            break
        part = min(refundable(payment), remaining)
        if part.amount <= 0:
            continue
        refund_create(
            payment=payment,
            amount=part,
            reason=f"Booking {booking.pk} cancelled",
            actor=actor,
            releases_capacity=True,
        )
        remaining = remaining - part
