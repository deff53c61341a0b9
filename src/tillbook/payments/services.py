"""Writes of the money model: requests, starting a payment, confirming it exactly once,
manual payments and refunds."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from tillbook.core.audit import audit_record
from tillbook.core.errors import Conflict, InvalidInput, TillbookError
from tillbook.core.hooks import pause_point
from tillbook.core.models import Business, User
from tillbook.core.money import Money
from tillbook.core.tokens import new_secret
from tillbook.customers.models import Customer
from tillbook.customers.validation import FieldProblem, normalize_email
from tillbook.insights.rollups import rollups_reread
from tillbook.payments.models import (
    PAYMENT_FINISHES_WITHIN,
    AmountType,
    Payment,
    PaymentRequest,
    PaymentState,
    ProcessorEvent,
    Refund,
    RefundState,
    RequestState,
)
from tillbook.payments.providers import provider_adapter, provider_classes, provider_for
from tillbook.payments.purposes import purpose_for

MAX_AMOUNT = 10**13  # minor units; far above any real sale, far below integer limits


def _check_amount(money: Money, business: Business, what: str) -> None:
    if money.currency != business.currency:
        raise InvalidInput(
            f"{what} is in {money.currency}, but {business.name} sells in {business.currency}."
        )
    if money.amount <= 0:
        raise InvalidInput(f"{what} must be more than zero.")
    if money.amount > MAX_AMOUNT:
        raise InvalidInput(f"{what} is too large.")


def payment_request_create(
    *,
    business: Business,
    purpose: str,
    title: str,
    amount: Money | None,
    purpose_id: str = "",
    amount_type: str = AmountType.FIXED,
    description: str = "",
    customer: Customer | None = None,
    expires_at: datetime | None = None,
    tip_allowed: bool = False,
    is_reusable: bool = False,
    allowed_providers: list[str] | tuple[str, ...] = (),
) -> PaymentRequest:
    purpose_for(purpose)  # refuses unknown purposes before anything is written
    if amount_type not in AmountType.values:
        raise InvalidInput(f"{amount_type} is not an amount type.")
    if amount_type != AmountType.OPEN:
        if amount is None:
            raise InvalidInput("A payment request needs an amount.")
        _check_amount(amount, business, "The amount")
    title = " ".join((title or "").split())
    if not title:
        raise InvalidInput("A payment request needs a title.")
    request = PaymentRequest(
        business=business,
        token=new_secret(16),
        purpose=purpose,
        purpose_id=str(purpose_id),
        title=title[:200],
        description=description,
        currency=business.currency,
        amount=amount.amount if amount is not None else None,
        amount_type=amount_type,
        tip_allowed=tip_allowed,
        is_reusable=is_reusable,
        expires_at=expires_at,
        allowed_providers=list(allowed_providers),
        customer=customer,
    )
    request.save()
    return request


def _payable_amount(request: PaymentRequest, amount: Money | None) -> Money:
    """The amount (before tip) this payment is for, checked against the request's rules."""
    if request.amount_type == AmountType.FIXED:
        price = request.amount or 0
        due = price - (0 if request.is_reusable else request.amount_paid)
        expected = Money(due, request.currency)
        if amount is not None and amount != expected:
            raise InvalidInput(
                f"This request is for {expected.format(request.business.locale)}; "
                "the amount cannot be changed."
            )
        return expected
    if amount is None:
        raise InvalidInput("Enter the amount you want to pay.")
    _check_amount(amount, request.business, "The amount")
    if (
        request.amount_type == AmountType.MINIMUM
        and request.amount is not None
        and (amount.amount < request.amount)
    ):
        least = Money(request.amount, request.currency).format(request.business.locale)
        raise InvalidInput(f"The amount must be at least {least}.")
    return amount


def payment_request_close(*, request_id: int, state: str) -> bool:
    """Stop an open request from taking money (what it paid for expired or was cancelled).

    Only an open request changes; a late payment that arrives anyway is still recorded by
    payment_confirm and handled by the purpose. Returns whether the request was open.
    """
    if state not in (RequestState.EXPIRED, RequestState.CANCELLED):
        raise InvalidInput("A payment request closes as expired or cancelled.")
    return bool(
        PaymentRequest.objects.filter(pk=request_id, state=RequestState.OPEN).update(state=state)
    )


def request_is_payable(request: PaymentRequest, *, now: datetime | None = None) -> None:
    now = now or timezone.now()
    if request.state == RequestState.PAID and not request.is_reusable:
        raise Conflict("This has already been paid.")
    if request.state in (RequestState.CANCELLED, RequestState.EXPIRED):
        raise Conflict("This payment request is no longer open.")
    if request.expires_at is not None and request.expires_at <= now:
        raise Conflict("This payment request has expired.")


@dataclass(frozen=True)
class PaymentStarted:
    payment: Payment
    redirect_url: str


def payment_start(
    *,
    request: PaymentRequest,
    provider: str,
    return_url: str,
    cancel_url: str = "",
    amount: Money | None = None,
    tip: Money | None = None,
    customer_email: str = "",
) -> PaymentStarted:
    """Create a payment for `request` and ask the provider where to send the payer.

    An email the payer gives for the receipt must be an address: a typo is said now, not
    found later in a receipt that can never be sent."""
    request_is_payable(request)
    if customer_email.strip():
        try:
            customer_email = normalize_email(customer_email)
        except FieldProblem as problem:
            raise InvalidInput(problem.message, field_errors={"email": [problem.message]}) from None
    if request.allowed_providers and provider not in request.allowed_providers:
        raise InvalidInput("This payment cannot be made with that method.")
    adapter = provider_for(business=request.business, name=provider)
    if not adapter.is_online:
        raise InvalidInput(f"{adapter.label} is paid outside Tillbook: follow the instructions.")
    payable = _payable_amount(request, amount)
    tip_amount = 0
    if tip is not None and tip.amount:
        if not request.tip_allowed:
            raise InvalidInput("Tips are not accepted here.")
        if tip.currency != request.currency or tip.amount < 0 or tip.amount > MAX_AMOUNT:
            raise InvalidInput("The tip is not a valid amount.")
        tip_amount = tip.amount
    payment = Payment(
        business=request.business,
        request=request,
        provider=provider,
        state=PaymentState.CREATED,
        currency=request.currency,
        amount=payable.amount,
        tip_amount=tip_amount,
        customer=request.customer,
        customer_email=customer_email or (request.customer.email if request.customer else ""),
        description=request.title,
    )
    payment.save()
    try:
        start = adapter.start_checkout(
            payment=payment, request=request, return_url=return_url, cancel_url=cancel_url
        )
    except TillbookError as error:
        # The processor refused or could not be reached: the attempt is over, the payer may
        # try again (a new payment).
        payment_fail(payment=payment, reason=error.message)
        raise
    payment.state = PaymentState.PENDING
    payment.checkout_reference = start.checkout_reference
    if start.provider_reference:
        payment.provider_reference = start.provider_reference
    payment.save(update_fields=["state", "checkout_reference", "provider_reference"])
    return PaymentStarted(payment=payment, redirect_url=start.redirect_url)


def processor_event_record(
    *, business: Business, provider: str, event_id: str, event_type: str, payload: dict[str, Any]
) -> bool:
    """Store a processor event once. False when its id was already stored (a duplicate)."""
    try:
        with transaction.atomic():
            ProcessorEvent(
                business=business,
                provider=provider,
                event_id=event_id,
                event_type=event_type,
                payload=payload,
            ).save()
    except IntegrityError:
        return False
    return True


@dataclass(frozen=True)
class Confirmation:
    payment: Payment
    # True only for the call that moved the payment to succeeded: the one that fulfils.
    newly_succeeded: bool


def payment_confirm(
    *,
    payment: Payment,
    provider_reference: str = "",
    fee: Money | None = None,
    method: str = "",
    event: dict[str, Any] | None = None,
    other_reference: str = "",
) -> Confirmation:
    """Mark a payment succeeded, exactly once, whoever arrives first.

    The buyer's return and the processor's webhooks (duplicated, late, out of order) all come
    through here. The payment request row is locked first, so two arrivals for one request
    serialise; the loser finds the payment already succeeded and changes nothing. With `event`
    ({"id", "type", "payload"}), the event is stored once in the same transaction: a replayed
    event is a no-op even if it reaches a different payment row.
    """
    with transaction.atomic():
        if payment.request_id is not None:
            request = PaymentRequest.objects.select_for_update().get(pk=payment.request_id)
        else:
            request = None
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        pause_point("payment_confirm.locked")
        if event is not None and not processor_event_record(
            business=locked.business,
            provider=locked.provider,
            event_id=event["id"],
            event_type=event["type"],
            payload=event.get("payload", {}),
        ):
            return Confirmation(payment=locked, newly_succeeded=False)
        if fee is not None and fee.currency != locked.currency:
            raise InvalidInput("The fee is in another currency than the payment.")
        if locked.state == PaymentState.SUCCEEDED:
            if fee is not None and locked.fee_amount is None:
                locked.fee_amount = fee.amount
                locked.save(update_fields=["fee_amount"])
                rollups_reread(business=locked.business, payment_ids=[locked.pk])
            if other_reference and not locked.other_reference:
                locked.other_reference = other_reference
                locked.save(update_fields=["other_reference"])
            return Confirmation(payment=locked, newly_succeeded=False)
        now = timezone.now()
        if locked.state in (PaymentState.FAILED, PaymentState.CANCELLED):
            # The processor says it succeeded after all (e.g. a late capture): money moved, so
            # it must be recorded, not ignored.
            locked.failure_reason = ""
            rollups_reread(business=locked.business, payment_ids=[locked.pk])
        elif locked.created_at < now - PAYMENT_FINISHES_WITHIN + timedelta(days=1):
            # The rollups may have stopped waiting for it (insights.rollups; a day early, for
            # a refresh that began before this confirmation and ends after): read it again.
            rollups_reread(business=locked.business, payment_ids=[locked.pk])
        locked.state = PaymentState.SUCCEEDED
        locked.succeeded_at = now
        if provider_reference:
            locked.provider_reference = provider_reference
        if fee is not None:
            locked.fee_amount = fee.amount
        if method:
            locked.method = method
        if other_reference:
            locked.other_reference = other_reference
        locked.save()
        if request is not None:
            _request_add_payment(request, locked, now)
    return Confirmation(payment=locked, newly_succeeded=True)


def _request_add_payment(request: PaymentRequest, payment: Payment, now: datetime) -> None:
    """Count a succeeded payment towards its (locked) request and call the purpose."""
    purpose = purpose_for(request.purpose)
    request.amount_paid += payment.amount
    was_paid = request.state == RequestState.PAID
    fully_paid = request.amount_type != AmountType.FIXED or (
        request.amount is not None and request.amount_paid >= request.amount
    )
    if fully_paid and not was_paid:
        request.state = RequestState.PAID
        request.paid_at = now
    request.save(update_fields=["amount_paid", "state", "paid_at"])
    purpose.on_payment(request=request, payment=payment)
    if fully_paid and (not was_paid or request.is_reusable):
        purpose.on_paid(request=request, payment=payment)


def payment_fail(*, payment: Payment, reason: str) -> Payment:
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.state in (PaymentState.CREATED, PaymentState.PENDING):
            locked.state = PaymentState.FAILED
            locked.failure_reason = reason[:300]
            locked.save(update_fields=["state", "failure_reason"])
    return locked


def manual_payment_record(
    *,
    request: PaymentRequest,
    amount: Money,
    method: str,
    note: str,
    actor: User,
    client_key: str = "",
) -> Payment:
    """Staff record money received outside Tillbook (cash, bank transfer): full or partial.

    `client_key` is the form's own key: sent twice (a double click), it returns the payment
    the first sending recorded instead of recording the money again."""
    _check_amount(amount, request.business, "The amount")
    with transaction.atomic():
        locked = PaymentRequest.objects.select_for_update().get(pk=request.pk)
        if client_key:
            earlier = Payment.objects.filter(
                request=locked, provider="manual", metadata__form_key=client_key
            ).first()
            if earlier is not None:
                return earlier
        request_is_payable(locked)
        if (
            locked.amount_type == AmountType.FIXED
            and locked.amount is not None
            and (amount.amount > locked.amount - locked.amount_paid)
        ):
            due = Money(locked.amount - locked.amount_paid, locked.currency)
            raise InvalidInput(f"Only {due.format(locked.business.locale)} is still due.")
        payment = Payment(
            business=locked.business,
            request=locked,
            provider="manual",
            state=PaymentState.PENDING,
            currency=amount.currency,
            amount=amount.amount,
            fee_amount=0,
            method=(method or "cash")[:40],
            description=note[:300],
            metadata={"form_key": client_key[:64]} if client_key else {},
            customer=locked.customer,
            # The customer figures (new and returning, cohorts, CAC) know payers by email.
            customer_email=locked.customer.email if locked.customer else "",
            recorded_by=actor,
        )
        payment.save()
        confirmation = payment_confirm(payment=payment)
        audit_record(
            business=locked.business,
            actor=actor,
            action="payment.manual",
            summary=f"Recorded {amount.format(locked.business.locale)} ({payment.method}) "
            f"for {locked.title}",
            target=payment,
        )
    return confirmation.payment


def refundable(payment: Payment, *, refunds: Iterable[Refund] | None = None) -> Money:
    """What can still be refunded: the total paid minus refunds that did not fail.

    `refunds`: all of the payment's refunds when the caller already holds them (a list of
    payments with their refunds prefetched), so a page of payments is not a query each.
    """
    if refunds is None:
        taken = sum(
            Refund.objects.filter(payment=payment)
            .exclude(state=RefundState.FAILED)
            .values_list("amount", flat=True)
        )
    else:
        taken = sum(refund.amount for refund in refunds if refund.state != RefundState.FAILED)
    return Money(payment.amount + payment.tip_amount - taken, payment.currency)


def refund_create(
    *,
    payment: Payment,
    amount: Money | None,
    reason: str,
    actor: User | None,
    releases_capacity: bool = False,
    client_key: str = "",
) -> Refund:
    """Refund all or part of a payment through its provider.

    The refund row, with its idempotency key, is committed before the processor is called: if
    the call times out or the process dies, a retry sends the same key and the processor
    refunds once (Stripe keeps keys for 24 hours).

    `client_key` is the caller's own key (the API's `Idempotency-Key` header): a request
    repeated with it returns the refund the first one made instead of refunding again.
    `amount=None` refunds whatever can still be refunded.
    """
    if amount is not None and amount.currency != payment.currency:
        raise InvalidInput("A refund is in the payment's currency.")
    if amount is not None and amount.amount <= 0:
        raise InvalidInput("The refund must be more than zero.")
    provider_class = provider_classes().get(payment.provider)
    if provider_class is None or not provider_class.supports_refunds:
        # Refused before the refund is written: a pending refund nobody can send would hold
        # back what can still be refunded.
        raise Conflict(
            f"Tillbook cannot refund {payment.provider} payments: refund this one at the "
            "processor itself."
        )
    key = (
        _refund_key(payment.business_id, client_key)
        if client_key
        else f"tillbook-refund-{uuid.uuid4()}"
    )
    try:
        with transaction.atomic():
            refund, made = _refund_row(
                payment=payment,
                amount=amount,
                reason=reason,
                actor=actor,
                releases_capacity=releases_capacity,
                key=key,
            )
    except IntegrityError:
        # The same key, at the same moment, for another payment of the business.
        raise KeyReused(KEY_REUSED) from None
    if not made:
        return refund
    return refund_send(refund=refund, actor=actor)


def _refund_key(business_id: int, client_key: str) -> str:
    return f"tillbook-refund-{business_id}-{hashlib.sha256(client_key.encode()).hexdigest()[:40]}"


def refund_for_client_key(*, business_id: int, client_key: str) -> Refund | None:
    """The refund an earlier request with this caller's key made, if any."""
    if not client_key:
        return None
    key = _refund_key(business_id, client_key)
    return Refund.objects.filter(business_id=business_id, idempotency_key=key).first()


class KeyReused(Conflict):
    """A refund's key (the API's Idempotency-Key, a form's own key) names another refund."""


KEY_REUSED = (
    "This Idempotency-Key was already used for another refund; send a new key for a new refund."
)


def _refund_row(
    *,
    payment: Payment,
    amount: Money | None,
    reason: str,
    actor: User | None,
    releases_capacity: bool,
    key: str,
) -> tuple[Refund, bool]:
    """The pending refund for `key`, made now (True) or by an earlier request (False)."""
    locked = Payment.objects.select_for_update().get(pk=payment.pk)
    earlier = Refund.objects.filter(business=locked.business, idempotency_key=key).first()
    if earlier is not None:
        if earlier.payment_id != locked.pk or (
            amount is not None and earlier.amount != amount.amount
        ):
            raise KeyReused(KEY_REUSED)
        return earlier, False
    if locked.state != PaymentState.SUCCEEDED:
        raise Conflict("Only a successful payment can be refunded.")
    available = refundable(locked)
    if amount is None:
        amount = available
        if amount.amount <= 0:
            raise Conflict("This payment has been refunded in full.")
    if amount > available:
        raise InvalidInput(
            f"At most {available.format(locked.business.locale)} can still be refunded."
        )
    refund = Refund(
        business=locked.business,
        payment=locked,
        currency=amount.currency,
        amount=amount.amount,
        reason=reason[:300],
        idempotency_key=key,
        releases_capacity=releases_capacity,
        created_by=actor,
    )
    refund.save()
    return refund, True


def refund_send(*, refund: Refund, actor: User | None) -> Refund:
    """Call the processor for a pending refund (again, after no answer, with the same key)."""
    if refund.state != RefundState.PENDING:
        return refund
    adapter = provider_adapter(business=refund.business, name=refund.payment.provider)
    outcome = adapter.refund(refund=refund)
    if outcome.is_pending:
        if outcome.provider_reference or outcome.failure_reason:
            Refund.objects.filter(pk=refund.pk, state=RefundState.PENDING).update(
                provider_reference=outcome.provider_reference or refund.provider_reference,
                failure_reason=outcome.failure_reason[:300],
            )
        refund.refresh_from_db()
        return refund
    return refund_settle(
        refund=refund,
        succeeded=outcome.succeeded,
        provider_reference=outcome.provider_reference,
        failure_reason=outcome.failure_reason,
        actor=actor,
    )


def refund_payment_lock(refund: Refund) -> None:
    """The lock of the refund's payment, taken before the refund's own: every writer of a
    payment's refunds locks the payment first (a webhook settling this refund may hold it
    already), and the other order deadlocked with it."""
    Payment.objects.select_for_update().get(pk=refund.payment_id)


def refund_settle(
    *,
    refund: Refund,
    succeeded: bool,
    provider_reference: str = "",
    failure_reason: str = "",
    actor: User | None = None,
) -> Refund:
    """Record the processor's final word on a pending refund, once: the purpose hears of it
    and the buyer is told, whether the answer came from the call or from a webhook."""
    from tillbook.payments.notifications import refund_notify

    with transaction.atomic():
        refund_payment_lock(refund)
        locked = Refund.objects.select_for_update().select_related("payment").get(pk=refund.pk)
        if locked.state != RefundState.PENDING:
            if (
                succeeded
                and provider_reference
                and not locked.provider_reference
                and not Refund.objects.filter(
                    payment_id=locked.payment_id, provider_reference=provider_reference
                ).exists()
            ):
                # Settled already by a webhook that did not name it (Stripe's charge.refunded
                # without its refund list, arriving before the call's answer): keep its id.
                locked.provider_reference = provider_reference
                locked.save(update_fields=["provider_reference"])
            return locked
        if succeeded:
            if locked.created_at < timezone.now() - PAYMENT_FINISHES_WITHIN + timedelta(days=1):
                # The rollups may have stopped waiting for it (insights.rollups; a day early,
                # as for payments): its payment, and with it the refund, is read again.
                rollups_reread(business=locked.business, payment_ids=[locked.payment_id])
            locked.state = RefundState.SUCCEEDED
            locked.succeeded_at = timezone.now()
            locked.failure_reason = ""
            if provider_reference:
                locked.provider_reference = provider_reference
        else:
            locked.state = RefundState.FAILED
            locked.failure_reason = failure_reason[:300] or "The processor refused the refund."
        locked.save()
        money = locked.money.format(locked.business.locale)
        audit_record(
            business=locked.business,
            actor=actor,
            action="refund.create",
            summary=(
                f"Refunded {money}"
                if succeeded
                else f"Refund of {money} failed: {locked.failure_reason}"
            ),
            target=locked.payment,
        )
        request = locked.payment.request
        if succeeded and request is not None:
            _request_give_back(locked)
            purpose_for(request.purpose).on_refunded(refund=locked)
        if succeeded:
            refund_notify(refund=locked)
    return locked


def external_refund_key(business_id: int, provider_reference: str) -> str:
    """The idempotency key of a refund made outside Tillbook, from its processor id."""
    return f"external-{business_id}-{provider_reference}"[:255]


def refund_record_external(
    *,
    payment: Payment,
    amount: Money,
    provider_reference: str,
    reason: str = "",
    raw: dict[str, Any] | None = None,
) -> Refund | None:
    """A refund made outside Tillbook (in the processor's dashboard), learnt from a webhook.

    Recorded once per processor id; None when it was already known. It never releases
    capacity: nobody chose to give the place back.
    """
    from tillbook.payments.notifications import refund_notify

    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if Refund.objects.filter(
            business=locked.business, payment=locked, provider_reference=provider_reference
        ).exists():
            return None
        refund = Refund(
            business=locked.business,
            payment=locked,
            state=RefundState.SUCCEEDED,
            currency=amount.currency,
            amount=amount.amount,
            reason=(reason or "Refunded at the processor")[:300],
            idempotency_key=external_refund_key(locked.business_id, provider_reference),
            provider_reference=provider_reference,
            raw=raw or {},
            succeeded_at=timezone.now(),
        )
        refund.save()
        audit_record(
            business=locked.business,
            actor=None,
            actor_label=locked.provider,
            action="refund.external",
            summary=f"Refunded {refund.money.format(locked.business.locale)} at {locked.provider}",
            target=locked,
        )
        if locked.request is not None:
            _request_give_back(refund)
            purpose_for(locked.request.purpose).on_refunded(refund=refund)
        refund_notify(refund=refund)
    return refund


def _request_give_back(refund: Refund) -> None:
    """Money paid towards a request still open (a part payment), given back, no longer counts
    towards it: paying only the rest would otherwise complete it (an order fulfilled, a
    booking's balance settled) with less kept. A paid or reusable request keeps what it took."""
    payment = refund.payment
    if payment.request_id is None:
        return
    locked = PaymentRequest.objects.select_for_update().get(pk=payment.request_id)
    if locked.state != RequestState.OPEN or locked.is_reusable:
        return
    locked.amount_paid = max(0, locked.amount_paid - min(refund.amount, payment.amount))
    locked.save(update_fields=["amount_paid"])


def payment_link_create(
    *,
    business: Business,
    actor: User | None,
    title: str,
    amount: Money | None,
    amount_type: str = AmountType.FIXED,
    description: str = "",
    tip_allowed: bool = False,
    is_reusable: bool = False,
    expires_at: datetime | None = None,
    customer: Customer | None = None,
    actor_label: str = "",
    send_to: str = "",
) -> PaymentRequest:
    """A stand-alone payment link (/pay/<token>) staff send by email or message; with
    `send_to`, emailed right away (the link is not kept when the address is refused)."""
    from tillbook.payments.notifications import payment_link_send

    if expires_at is not None and expires_at.tzinfo is None:
        raise InvalidInput(
            "The expiry needs a time zone, e.g. 2026-12-31T23:59:00Z.",
            field_errors={"expires_at": ["Add a time zone."]},
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput(
            "The expiry must be in the future.", field_errors={"expires_at": ["In the past."]}
        )
    with transaction.atomic():
        request = payment_request_create(
            business=business,
            purpose="link",
            title=title,
            amount=amount,
            amount_type=amount_type,
            description=description,
            tip_allowed=tip_allowed,
            is_reusable=is_reusable,
            expires_at=expires_at,
            customer=customer,
        )
        audit_record(
            business=business,
            actor=actor,
            actor_label=actor_label,
            action="payment_link.create",
            summary=f"Created the payment link “{request.title}”",
            target=request,
        )
        if send_to:
            payment_link_send(request=request, to_email=send_to, message="", actor=actor)
    return request
