"""What staff do with bookings in the back office: book for a customer, complete, no-show,
ask for or record a payment, block time."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from tillbook.core.audit import audit_record
from tillbook.core.errors import Conflict, InvalidInput
from tillbook.core.links import absolute_url
from tillbook.core.models import User
from tillbook.core.money import Money
from tillbook.payments.models import Payment, PaymentRequest
from tillbook.payments.services import manual_payment_record, payment_request_create
from tillbook.scheduling import notifications
from tillbook.scheduling.models import (
    BLOCKING_STATES,
    BOOKING_CHARGE_PURPOSE,
    KEPT_STATES,
    Booking,
    BookingState,
    Service,
    StaffMember,
    TimeBlock,
)
from tillbook.scheduling.services import (
    CustomerDetails,
    booking_confirm,
    booking_event,
    booking_hold,
    customer_for_details,
    locked_booking,
    wall_time,
)


def booking_create_for_customer(
    *,
    service: Service,
    duration_minutes: int,
    staff: StaffMember,
    start: datetime,
    details: CustomerDetails,
    actor: User,
) -> Booking:
    """Book on a customer's behalf: confirmed at once (staff may go inside the notice period);
    payment is then recorded or asked for with a link."""
    held = booking_hold(
        service=service,
        duration_minutes=duration_minutes,
        start=start,
        staff=staff,
        customer_timezone=staff.timezone,
        as_staff=True,
        actor_label=actor.email,
    )
    with transaction.atomic():
        booking = locked_booking(held.booking)
        customer = customer_for_details(booking.business_id, details, booking)
        booking.customer = customer
        booking.save(update_fields=["customer"])
        booking = booking_confirm(booking=booking, actor_label=actor.email)
        audit_record(
            business=booking.business,
            actor=actor,
            action="booking.create",
            summary=f"Booked {service.name} for {customer.email} at "
            f"{wall_time(start, staff.timezone)}",
            target=booking,
        )
    return booking


def _charge_request(booking: Booking, amount: Money, title: str) -> PaymentRequest:
    return payment_request_create(
        business=booking.business,
        purpose=BOOKING_CHARGE_PURPOSE,
        purpose_id=str(booking.pk),
        title=title,
        amount=amount,
        customer=booking.customer,
        expires_at=timezone.now() + timedelta(days=14),
    )


def booking_request_payment(
    *, booking: Booking, amount: Money, reason: str, actor: User, client_key: str = ""
) -> PaymentRequest:
    """Send the customer a payment link for this booking (balance, or a fee). The form's
    `client_key`, sent twice (a double click), finds the link the first sending sent."""
    if booking.customer is None:
        raise InvalidInput("This booking has no customer to send a link to.")
    with transaction.atomic():
        # Checked on the locked row: a page opened before the customer cancelled (and was
        # refunded) would otherwise send a link that takes money for a session that is off.
        # (Cancelling closes the links sent before: changes.booking_cancel.)
        locked = locked_booking(booking)  # two sendings at once: the second waits, then finds it
        if client_key:
            sent = PaymentRequest.objects.filter(
                purpose=BOOKING_CHARGE_PURPOSE, purpose_id=str(booking.pk), form_key=client_key
            ).first()
            if sent is not None:
                return sent
        if locked.state not in KEPT_STATES:
            raise Conflict(
                "Only a confirmed, completed or no-show booking can be sent a payment link; "
                f"this one is {locked.get_state_display().lower()}."
            )
        request = _charge_request(booking, amount, f"{reason}: {booking.service.name}")
        if client_key:
            request.form_key = client_key
            request.save(update_fields=["form_key"])
        pay_url = absolute_url(reverse("storefront:pay", args=[request.token]))
        locale = booking.business.locale
        notifications.send_payment_link(
            booking, pay_url=pay_url, amount=amount.format(locale), reason=reason
        )
        booking_event(
            booking, "payment_link", f"{reason}: {amount.format(locale)} link sent", actor.email
        )
        audit_record(
            business=booking.business,
            actor=actor,
            action="booking.payment_link",
            summary=f"Sent a {amount.format(locale)} payment link ({reason.lower()})",
            target=booking,
        )
    return request


def booking_mark_paid(
    *, booking: Booking, amount: Money, method: str, actor: User, client_key: str = ""
) -> Booking:
    """Record money received outside Tillbook (cash, card terminal, bank transfer). The form's
    `client_key`, sent twice (a double click), finds the payment the first sending recorded."""
    with transaction.atomic():
        if client_key:
            locked_booking(booking)  # two sendings at once: the second waits, then finds it
            if Payment.objects.filter(
                request__purpose=BOOKING_CHARGE_PURPOSE,
                request__purpose_id=str(booking.pk),
                provider="manual",
                metadata__form_key=client_key,
            ).exists():
                return booking
        request = _charge_request(booking, amount, f"Payment for {booking.service.name}")
        manual_payment_record(
            request=request,
            amount=amount,
            method=method,
            note="Recorded in the calendar",
            actor=actor,
            client_key=client_key,
        )
    return booking


def booking_complete(*, booking: Booking, actor: User) -> Booking:
    with transaction.atomic():
        locked = locked_booking(booking)
        if locked.state != BookingState.CONFIRMED:
            raise Conflict(
                f"Only a confirmed booking can be completed; this one is "
                f"{locked.get_state_display().lower()}."
            )
        if locked.start > timezone.now():
            raise Conflict("This booking has not started yet.")
        locked.state = BookingState.COMPLETED
        locked.save(update_fields=["state"])
        booking_event(locked, "completed", "Marked completed", actor.email)
        audit_record(
            business=locked.business,
            actor=actor,
            action="booking.complete",
            summary=f"Marked a {locked.service.name} booking completed",
            target=locked,
        )
    return locked


def booking_no_show(*, booking: Booking, actor: User, fee: Money | None = None) -> Booking:
    """The customer did not come. A fee, when given, is charged through a payment link."""
    with transaction.atomic():
        locked = locked_booking(booking)
        if locked.state != BookingState.CONFIRMED:
            raise Conflict(
                f"Only a confirmed booking can be a no-show; this one is "
                f"{locked.get_state_display().lower()}."
            )
        if locked.start > timezone.now():
            raise Conflict("This booking has not started yet.")
        locked.state = BookingState.NO_SHOW
        locked.save(update_fields=["state"])
        booking_event(locked, "no_show", "Marked as no-show", actor.email)
        audit_record(
            business=locked.business,
            actor=actor,
            action="booking.no_show",
            summary=f"Marked a {locked.service.name} booking as no-show",
            target=locked,
        )
        if fee is not None and fee.amount > 0:
            booking_request_payment(booking=locked, amount=fee, reason="No-show fee", actor=actor)
    return locked


def time_block_create(
    *, staff: StaffMember, start: datetime, end: datetime, reason: str, actor: User
) -> TimeBlock:
    """Make time unbookable. Bookings already there are not moved: say so instead."""
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise InvalidInput("A blocked time needs a start before its end.")
    if end - start > timedelta(days=60):
        raise InvalidInput("Block at most 60 days at once; for longer, set days off.")
    clashing = Booking.objects.filter(
        business=staff.business,
        staff=staff,
        state__in=BLOCKING_STATES,
        start__lt=end,
        end__gt=start,
    ).count()
    if clashing:
        raise Conflict(
            f"{staff.name} has {clashing} booking{'s' if clashing > 1 else ''} in that time; "
            "move or cancel them first."
        )
    block = TimeBlock(
        business=staff.business,
        staff=staff,
        start=start,
        end=end,
        reason=" ".join(reason.split())[:200],
    )
    with transaction.atomic():
        block.save()
        audit_record(
            business=staff.business,
            actor=actor,
            action="calendar.block",
            summary=f"Blocked {wall_time(start, staff.timezone)} – "
            f"{wall_time(end, staff.timezone)} for {staff.name}",
            target=block,
        )
    return block
