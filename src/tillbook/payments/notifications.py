"""Emails about money sent to payers: the receipt for a payment link, a refund notice, and a
payment link itself. Each is queued through messaging on commit; receipts and refund notices
carry a dedupe key, so however often a confirmation or a webhook arrives, one email goes out."""

from __future__ import annotations

from django.urls import reverse

from tillbook.core.audit import audit_record
from tillbook.core.errors import InvalidInput
from tillbook.core.links import absolute_url
from tillbook.core.models import User
from tillbook.core.money import Money
from tillbook.customers.validation import FieldProblem, normalize_email
from tillbook.messaging.models import OutboxMessage
from tillbook.messaging.services import message_queue
from tillbook.payments.models import Payment, PaymentRequest, Refund


def payer_email(payment: Payment) -> str:
    """Where to write to the person who paid: the email given at payment, else the customer's."""
    if payment.customer_email:
        return payment.customer_email
    if payment.customer is not None and payment.customer.email:
        return payment.customer.email
    request = payment.request
    if request is not None and request.customer is not None:
        return request.customer.email
    return ""


def pay_url(request: PaymentRequest) -> str:
    return absolute_url(reverse("storefront:pay", args=[request.token]))


def payment_receipt_send(*, request: PaymentRequest, payment: Payment) -> OutboxMessage | None:
    to_email = payer_email(payment)
    if not to_email:
        return None
    locale = request.business.locale
    return message_queue(
        business=request.business,
        to_email=to_email,
        template="payment_receipt",
        context={
            "title": request.title,
            "amount": payment.total.format(locale),
            "tip": (
                Money(payment.tip_amount, payment.currency).format(locale)
                if payment.tip_amount
                else ""
            ),
            "method": payment.method,
            "paid_at": payment.succeeded_at,
            "reference": f"P-{payment.pk}",
        },
        dedupe_key=f"payment-receipt-{payment.pk}",
    )


def refund_notify(*, refund: Refund) -> OutboxMessage | None:
    payment = refund.payment
    to_email = payer_email(payment)
    if not to_email:
        return None
    locale = refund.business.locale
    request = payment.request
    return message_queue(
        business=refund.business,
        to_email=to_email,
        template="payment_refund",
        context={
            "title": request.title if request is not None else payment.description,
            "amount": refund.money.format(locale),
            "paid": payment.total.format(locale),
            "is_full": refund.amount >= payment.amount + payment.tip_amount,
            "reason": refund.reason,
            "provider": payment.provider,
            "reference": f"P-{payment.pk}",
        },
        dedupe_key=f"refund-{refund.pk}",
    )


def payment_link_send(
    *, request: PaymentRequest, to_email: str, message: str, actor: User | None
) -> OutboxMessage:
    """Email a payment link to someone (staff choose to; sending again is allowed)."""
    to_email = to_email.strip()
    try:
        to_email = normalize_email(to_email)
    except FieldProblem:  # a line break ("…\r\nBcc: …") is no address either
        raise InvalidInput(
            "Enter the email address to send the link to.",
            field_errors={"email": ["Enter a valid email address."]},
        ) from None
    locale = request.business.locale
    price = request.price
    sent = message_queue(
        business=request.business,
        to_email=to_email,
        template="payment_link",
        context={
            "title": request.title,
            "description": request.description,
            "amount": price.format(locale) if price is not None else "",
            "amount_type": request.amount_type,
            "message": message.strip()[:2000],
            "pay_url": pay_url(request),
            "expires_at": request.expires_at,
        },
    )
    audit_record(
        business=request.business,
        actor=actor,
        action="payment_link.send",
        summary=f"Sent the payment link “{request.title}” to {to_email}",
        target=request,
    )
    return sent
