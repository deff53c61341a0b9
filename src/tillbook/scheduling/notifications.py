"""Emails about a booking: confirmation, reschedule, cancellation, reminders, payment links.

Each goes through the outbox with a dedupe key, so asking twice (a retried task, a webhook and
a browser return both confirming) sends once. Times are shown in the customer's zone.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.urls import reverse

from tillbook.core.links import absolute_url
from tillbook.messaging.models import OutboxMessage
from tillbook.messaging.services import message_queue
from tillbook.scheduling.calendar_files import booking_invitation
from tillbook.scheduling.models import Booking, BookingState

UNCONFIRMED = (BookingState.HELD, BookingState.AWAITING_PAYMENT)


def manage_url(booking: Booking, secret: str) -> str:
    return absolute_url(reverse("storefront:booking_manage", args=[booking.business.slug, secret]))


def local_start(booking: Booking) -> str:
    start = booking.start.astimezone(ZoneInfo(booking.customer_timezone))
    return f"{start:%A %-d %B %Y, %H:%M} ({booking.customer_timezone.replace('_', ' ')})"


def _context(booking: Booking, secret: str) -> dict[str, Any]:
    locale = booking.business.locale
    return {
        "booking": booking,
        "service": booking.service,
        "customer_name": booking.customer.display_name if booking.customer else "",
        "when": local_start(booking),
        "duration": booking.duration_minutes,
        "staff_name": booking.staff.name,
        "location": booking.location_text or booking.service.location_detail,
        "location_kind": booking.get_location_kind_display(),
        "manage_url": manage_url(booking, secret) if secret else "",
        "total": booking.total.format(locale),
        "cancel_window_hours": booking.cancel_window_hours,
        "late_fee_percent": booking.late_cancel_fee_percent,
    }


def _send(
    booking: Booking, *, template: str, secret: str, key: str, extra: dict[str, Any] | None = None
) -> OutboxMessage | None:
    if booking.customer is None:
        return None
    method = "CANCEL" if template == "booking_cancelled" else "REQUEST"
    attachments = []
    # A booking still waiting for its payment is no event yet: one put in the customer's
    # calendar when it moved would stay there when the hold ran out (nothing cancels it).
    if method == "CANCEL" or booking.state not in UNCONFIRMED:
        invitation = booking_invitation(
            booking, manage_url=manage_url(booking, secret) if secret else ""
        )
        attachments.append(
            {
                "filename": "booking.ics",
                # Django adds the charset of the text it attaches.
                "content_type": f"text/calendar; method={method}",
                "content": invitation.decode(),
            }
        )
    return message_queue(
        business=booking.business,
        to_email=booking.customer.email,
        to_name=booking.customer.name,
        template=template,
        context={**_context(booking, secret), **(extra or {})},
        dedupe_key=f"booking:{booking.pk}:{key}",
        attachments=attachments,
    )


def send_confirmation(booking: Booking, *, secret: str) -> OutboxMessage | None:
    return _send(booking, template="booking_confirmed", secret=secret, key="confirmed")


def send_rescheduled(booking: Booking, *, secret: str) -> OutboxMessage | None:
    return _send(
        booking,
        template="booking_rescheduled",
        secret=secret,
        key=f"rescheduled:{booking.sequence}",
    )


def send_cancelled(
    booking: Booking,
    *,
    fee: str,
    refund: str,
    is_late: bool,
    has_refund: bool,
    reason: str = "",
) -> OutboxMessage | None:
    return _send(
        booking,
        template="booking_cancelled",
        secret="",
        key="cancelled",
        extra={
            "fee": fee,
            "refund": refund,
            "is_late": is_late,
            "has_refund": has_refund,
            "reason": reason,
        },
    )


def send_reminder(booking: Booking, *, offset_minutes: int) -> OutboxMessage | None:
    if booking.customer is None:
        return None
    # Once per offset per version of the booking: a reschedule (new sequence) gets new ones.
    return message_queue(
        business=booking.business,
        to_email=booking.customer.email,
        to_name=booking.customer.name,
        template="booking_reminder",
        context={**_context(booking, ""), "offset_minutes": offset_minutes},
        dedupe_key=f"booking:{booking.pk}:reminder:{booking.sequence}:{offset_minutes}",
        send_before=booking.start,  # a reminder after the session started helps no one
    )


def send_payment_link(
    booking: Booking, *, pay_url: str, amount: str, reason: str
) -> OutboxMessage | None:
    if booking.customer is None:
        return None
    return message_queue(
        business=booking.business,
        to_email=booking.customer.email,
        to_name=booking.customer.name,
        template="booking_payment_link",
        context={**_context(booking, ""), "pay_url": pay_url, "amount": amount, "reason": reason},
    )
