"""Stripe webhooks: verify the signature, then turn each event into the same service calls the
buyer's return and the pending-payments sweep make.

Rules (REFERENCE.md): `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]` is an HMAC-SHA256 of
"<t>.<raw body>" with the endpoint's secret; any one v1 may match (Stripe sends one per secret
while a secret is being rolled); timestamps more than 300 s away are refused; comparison is
in constant time. Events arrive twice, late and out of order: each event id is stored once,
confirmation happens once under the payment request's lock, and an event we cannot use still
gets a 2xx, because Stripe disables endpoints that keep failing (Odoo PR #245777).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tillbook.core.audit import audit_record
from tillbook.core.hooks import pause_point
from tillbook.core.models import Business
from tillbook.core.money import Money
from tillbook.core.tasks import enqueue_on_commit
from tillbook.core.tokens import secrets_match
from tillbook.core.validation import id_from_text
from tillbook.insights.rollups import customer_values_reread
from tillbook.payments.credentials import CredentialsUnreadable
from tillbook.payments.models import (
    BalanceKind,
    BalanceTransaction,
    Payment,
    PaymentState,
    PayoutState,
    ProcessorEvent,
    ProviderAccount,
    Refund,
    RefundState,
    Source,
)
from tillbook.payments.providers.stripe import (
    REFUND_PREFIXES,
    StripeProvider,
    payer_message,
    refund_failure,
    tillbook_amount,
)
from tillbook.payments.selectors import payments_by_checkout
from tillbook.payments.services import (
    payment_confirm,
    payment_fail,
    processor_event_record,
    refund_payment_lock,
    refund_record_external,
    refund_settle,
)
from tillbook.payments.stripe_refunds import (
    refund_from_totals,
    refund_lines_link,
    sourced_from,
    stripe_time,
)

logger = logging.getLogger(__name__)

TOLERANCE_SECONDS = 300
# Seconds before an event whose handling failed (e.g. Stripe's API did not answer while we
# read the fee) is tried again by a task. The pending-payments sweep is the last resort.
RETRY_AFTER_SECONDS = 60
# A well-signed event is answered 200 whatever happens, so Stripe does not send it again:
# Tillbook retries it itself, each wait four times the last (1, 4, 16 and 64 minutes, then
# about 4 hours: some 5½ hours in all), then gives up and logs an error.
EVENT_ATTEMPTS = 6


class SignatureInvalid(Exception):
    """The request is not a webhook Stripe signed with this endpoint's secret."""


def stripe_signature_verify(
    *, payload: bytes, header: str, secret: str, now: float | None = None
) -> int:
    """Check a Stripe-Signature header; returns its timestamp. Raises SignatureInvalid."""
    if not header:
        raise SignatureInvalid("The Stripe-Signature header is missing.")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureInvalid("The signature's timestamp is not a number.") from None
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureInvalid("The Stripe-Signature header has no timestamp or no v1 value.")
    signed = str(timestamp).encode() + b"." + payload
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    # Compare with every candidate (no early exit), each in constant time.
    matched = False
    for signature in signatures:
        matched |= secrets_match(expected, signature)
    if not matched:
        raise SignatureInvalid("No signature matches this endpoint's secret.")
    current = time.time() if now is None else now
    if abs(current - timestamp) > TOLERANCE_SECONDS:
        raise SignatureInvalid("The signature's timestamp is more than 5 minutes away.")
    return timestamp


@dataclass(frozen=True)
class WebhookResult:
    status: int
    outcome: str


def stripe_webhook_receive(*, business: Business, payload: bytes, header: str) -> WebhookResult:
    """Verify and handle one delivery. 400 only when the delivery is not a well-signed event;
    a well-signed event always gets 200, whatever happens while handling it."""
    account = ProviderAccount.objects.filter(business=business, provider="stripe").first()
    adapter = StripeProvider(business=business, account=account)
    try:
        secret = adapter.credentials().get("webhook_secret", "")
    except CredentialsUnreadable:
        logger.error("Stripe webhook for %s: credentials cannot be decrypted", business.slug)
        return WebhookResult(400, "Stripe is not set up for this business.")
    if not secret:
        logger.warning("Stripe webhook for %s, which has no webhook secret", business.slug)
        return WebhookResult(400, "Stripe is not set up for this business.")
    try:
        stripe_signature_verify(payload=payload, header=header, secret=secret)
        event = json.loads(payload)
        if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
            raise ValueError("not a Stripe event")
    except SignatureInvalid as error:
        logger.warning("Stripe webhook for %s refused: %s", business.slug, error)
        return WebhookResult(400, str(error))
    except ValueError:
        return WebhookResult(400, "The body is not a Stripe event.")
    try:
        outcome = stripe_event_handle(business=business, event=event)
    except Exception:
        stripe_event_retry_later(business=business, event=event, attempt=1)
        return WebhookResult(200, "accepted; handling will be retried")
    return WebhookResult(200, outcome)


def stripe_event_retry_later(*, business: Business, event: dict[str, Any], attempt: int) -> str:
    """After handling `event` failed for the `attempt`th time (call it from the except block:
    the error is logged): have it handled again later, or give up after EVENT_ATTEMPTS."""
    from tillbook.payments.tasks import stripe_event_retry

    names = (event.get("id"), event.get("type"), business.slug, attempt)
    if attempt >= EVENT_ATTEMPTS:
        logger.exception("Stripe event %s (%s) for %s failed %s times; giving up", *names)
        return "gave up"
    logger.exception("Stripe event %s (%s) for %s failed (attempt %s); retrying later", *names)
    with transaction.atomic():
        enqueue_on_commit(
            stripe_event_retry,
            business.pk,
            event,
            attempt + 1,
            run_after=timezone.now() + timedelta(seconds=RETRY_AFTER_SECONDS * 4 ** (attempt - 1)),
        )
    return "retrying"


def _record(business: Business, event: dict[str, Any]) -> bool:
    return processor_event_record(
        business=business,
        provider="stripe",
        event_id=str(event["id"]),
        event_type=str(event["type"])[:100],
        payload=event,
    )


def _object(event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("data") or {}
    found = data.get("object") if isinstance(data, dict) else None
    return found if isinstance(found, dict) else {}


def _payment_by_id(business: Business, value: object, metadata: dict[str, Any]) -> Payment | None:
    """The payment an object names by number, if the object is one Tillbook made for it: its
    metadata carries the payment request's token. Stripe sends every event of an account to
    every endpoint, and another Tillbook on the same account numbers its payments too."""
    payment_id = id_from_text(value)
    if payment_id is None:
        return None
    payment = (
        Payment.objects.filter(business=business, provider="stripe", pk=payment_id)
        .select_related("request")
        .first()
    )
    if payment is None or payment.request is None:
        return None
    token = metadata.get("tillbook_request") if isinstance(metadata, dict) else None
    if not isinstance(token, str) or not secrets_match(payment.request.token, token):
        return None
    return payment


def _payment_for_session(business: Business, session: dict[str, Any]) -> Payment | None:
    metadata = session.get("metadata") or {}
    payment = _payment_by_id(
        business, session.get("client_reference_id") or metadata.get("tillbook_payment"), metadata
    )
    if payment is not None and payment.checkout_reference in ("", session.get("id")):
        return payment
    if session.get("id"):
        return payments_by_checkout(
            business=business, provider="stripe", reference=str(session["id"])
        ).first()
    return None


def _payment_for_intent(
    business: Business, intent_id: str, metadata: dict[str, Any]
) -> Payment | None:
    payment = _payment_by_id(business, metadata.get("tillbook_payment"), metadata)
    if payment is not None:
        return payment
    if not intent_id:
        return None
    return Payment.objects.filter(
        business=business, provider="stripe", provider_reference=intent_id
    ).first()


def stripe_event_handle(*, business: Business, event: dict[str, Any]) -> str:
    """Handle a verified event; returns what happened, for the log and the response."""
    event_id = str(event["id"])
    if ProcessorEvent.objects.filter(
        business=business, provider="stripe", event_id=event_id
    ).exists():
        return "duplicate"
    event_type = str(event["type"])
    handler = HANDLERS.get(event_type)
    if handler is None:
        _record(business, event)
        return "ignored"
    return handler(business, event)


def _confirm(business: Business, event: dict[str, Any], payment: Payment, intent_id: str) -> str:
    stored = {"id": str(event["id"]), "type": str(event["type"])[:100], "payload": event}
    if payment.state == PaymentState.SUCCEEDED and payment.fee_amount is not None:
        _record(business, event)
        return "already confirmed"
    adapter = StripeProvider(
        business=business,
        account=ProviderAccount.objects.filter(business=business, provider="stripe").first(),
    )
    details = adapter.charge_details(payment_intent_id=intent_id, currency=payment.currency)
    if details.status != "succeeded":
        _record(business, event)
        return f"payment intent is {details.status}"
    confirmation = payment_confirm(
        payment=payment,
        provider_reference=details.payment_intent_id,
        fee=details.fee,
        method=details.method,
        event=stored,
        other_reference=details.charge_id,
    )
    return "confirmed" if confirmation.newly_succeeded else "already confirmed"


def _unknown_payment(business: Business, event: dict[str, Any]) -> str:
    logger.warning(
        "Stripe event %s (%s) for %s names no payment Tillbook knows",
        event.get("id"),
        event.get("type"),
        business.slug,
    )
    _record(business, event)
    return "unknown payment"


def _session_completed(business: Business, event: dict[str, Any]) -> str:
    session = _object(event)
    payment = _payment_for_session(business, session)
    if payment is None:
        return _unknown_payment(business, event)
    intent_id = str(session.get("payment_intent") or "")
    if session.get("payment_status") != "paid" or not intent_id:
        # Delayed methods (bank debits) complete the session unpaid; the money follows with
        # checkout.session.async_payment_succeeded.
        _record(business, event)
        return "awaiting payment"
    return _confirm(business, event, payment, intent_id)


def _session_failed(business: Business, event: dict[str, Any]) -> str:
    session = _object(event)
    payment = _payment_for_session(business, session)
    if payment is None:
        return _unknown_payment(business, event)
    with transaction.atomic():
        if _record(business, event):
            reason = (
                "The checkout expired before it was paid."
                if event["type"] == "checkout.session.expired"
                else "The payment did not go through."
            )
            payment_fail(payment=payment, reason=reason)
    return "failed"


def _intent_succeeded(business: Business, event: dict[str, Any]) -> str:
    intent = _object(event)
    intent_id = str(intent.get("id") or "")
    payment = _payment_for_intent(business, intent_id, intent.get("metadata") or {})
    if payment is None:
        return _unknown_payment(business, event)
    return _confirm(business, event, payment, intent_id)


def _intent_failed(business: Business, event: dict[str, Any]) -> str:
    intent = _object(event)
    intent_id = str(intent.get("id") or "")
    payment = _payment_for_intent(business, intent_id, intent.get("metadata") or {})
    if payment is None:
        return _unknown_payment(business, event)
    with transaction.atomic():
        if _record(business, event):
            # The payer may still try another card on Stripe's page; if that works,
            # payment_intent.succeeded moves the payment on to succeeded.
            payment_fail(payment=payment, reason=payer_message(intent.get("last_payment_error")))
    return "failed"


def _charge_refunded(business: Business, event: dict[str, Any]) -> str:
    """Refunds settle: ours that were pending, and ones made in Stripe's dashboard."""
    charge = _object(event)
    intent_id = str(charge.get("payment_intent") or "")
    payment = Payment.objects.filter(
        business=business,
        provider="stripe",
        provider_reference__in=[ref for ref in (intent_id, str(charge.get("id") or "")) if ref],
    ).first()
    if payment is None:
        return _unknown_payment(business, event)
    # The event is stored with what it did: if handling fails half way, the retry finds it
    # new (not a duplicate) and records what was missing.
    with transaction.atomic():
        if not _record(business, event):
            return "duplicate"
        _refunds_from_charge(payment, charge, _event_time(event))
    return "refunds recorded"


def _event_time(event: dict[str, Any]) -> datetime:
    """When Stripe made the event (its objects are as they were then), else now."""
    return stripe_time(event.get("created")) or timezone.now()


def _refunds_from_charge(payment: Payment, charge: dict[str, Any], as_of: datetime) -> None:
    currency = str(charge.get("currency") or "").upper()
    listed = (charge.get("refunds") or {}).get("data") or []
    succeeded = sorted(
        (i for i in listed if isinstance(i, dict) and i.get("status") == "succeeded"),
        key=lambda i: (int(i.get("created") or 0), str(i.get("id") or "")),
    )
    # Each refund's share of the rounded running total, oldest first: where Stripe counts
    # finer than Tillbook (500.50 + 499.50 forints), the shares add up to the rounded whole
    # instead of one unit more.
    running = 0
    for item in succeeded:
        before = tillbook_amount(running, currency)
        running += int(item.get("amount") or 0)
        share = tillbook_amount(running, currency) - before
        reference = str(item.get("id") or "")
        ours = _our_refund(payment, reference, item.get("metadata") or {})
        made = stripe_time(item.get("created"))
        if ours is not None:
            refund_settle(refund=ours, succeeded=True, provider_reference=reference)
            ours.refresh_from_db()
            refund_lines_link(ours, made)
        elif reference and share > 0:  # a fraction of a unit waits for the next refund
            recorded = refund_record_external(
                payment=payment,
                amount=Money(share, currency),
                provider_reference=reference,
                raw=item,
            )
            refund_lines_link(recorded, made)
    # Newer API versions leave the refund list out of the charge: what Stripe refunded in
    # total, less what we know of, was refunded in the dashboard.
    if not listed and currency == payment.currency:
        # refund.created of a refund made in Stripe's dashboard may come at once, recording
        # it by its id (_refund_made_elsewhere): one counts what the other recorded.
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        pause_point("charge_refunded.locked")
        # Refunds that came back after they succeeded are off Stripe's total again, if they
        # had come back when the event was made (Stripe does not send events in order).
        came_back = BalanceTransaction.objects.filter(
            business=payment.business,
            provider="stripe",
            kind=BalanceKind.ADJUSTMENT,
            refund__payment=payment,
            occurred_at__lte=as_of,
        ).values("refund_id")
        known = sum(
            Refund.objects.filter(payment=payment)
            .exclude(state=RefundState.FAILED)
            .exclude(pk__in=came_back)
            .values_list("amount", flat=True)
        )
        refunded = tillbook_amount(int(charge.get("amount_refunded") or 0), currency)
        if refunded >= known:
            # Stripe has refunded at least all we asked for: our pending ones went through,
            # except those Stripe answered "pending" (they carry its id): its total counts
            # them already, and their own charge.refund.updated says how they end.
            for refund in Refund.objects.filter(
                payment=payment, state=RefundState.PENDING, provider_reference=""
            ):
                refund_settle(refund=refund, succeeded=True)
        if refunded > known:
            refund_record_external(
                payment=payment,
                amount=Money(refunded - known, currency),
                provider_reference=f"{charge.get('id')}:{refunded}",
                raw={
                    "charge": charge.get("id"),
                    "amount_refunded": charge.get("amount_refunded"),
                    # When Stripe's total was this: only refunds made by then are in it.
                    "as_of": int(as_of.timestamp()),
                },
            )


def _refund_updated(business: Business, event: dict[str, Any]) -> str:
    """refund.created / charge.refund.updated / refund.updated / refund.failed: how a refund
    of ours that Stripe answered "pending" ended; a refund made in Stripe's dashboard, by its
    own id (charge.refunded tells of it too, without the id in newer API versions); and the
    coming back of either."""
    item = _object(event)
    reference = str(item.get("id") or "")
    references = [str(item.get(key) or "") for key in ("payment_intent", "charge")]
    payment = Payment.objects.filter(
        business=business, provider="stripe", provider_reference__in=[r for r in references if r]
    ).first()
    if payment is None or not reference.startswith(REFUND_PREFIXES):
        return _unknown_payment(business, event)
    status = str(item.get("status") or "")
    metadata = item.get("metadata")
    with transaction.atomic():
        if not _record(business, event):
            return "duplicate"
        ours = _our_refund(payment, reference, metadata if isinstance(metadata, dict) else {})
        if ours is None and status == "succeeded":
            _refund_made_elsewhere(payment, item, event)
        if ours is None and status in ("failed", "canceled"):
            _refund_in_total_came_back(payment, item, event)
        if ours is None or status not in ("succeeded", "failed", "canceled"):
            return f"refund {status}"
        if ours.state == RefundState.PENDING:
            refund_settle(
                refund=ours,
                succeeded=status == "succeeded",
                provider_reference=reference,
                failure_reason=refund_failure(item),
            )
        elif ours.state == RefundState.SUCCEEDED and status != "succeeded":
            _refund_came_back(ours, item, event)
        elif status == "succeeded" and not ours.provider_reference:
            # Ours, settled by charge.refunded before Stripe's answer to the call was read (or
            # when it was lost): it keeps its id, by which an imported balance history knows it.
            refund_settle(refund=ours, succeeded=True, provider_reference=reference)
        if status == "succeeded":  # its line, if imported before it had its id
            ours.refresh_from_db()
            refund_lines_link(ours, stripe_time(item.get("created")))
    return f"refund {status}"


def _came_back_reference(item: dict[str, Any], refund_reference: str) -> str:
    """The id of the line of a refund's money coming back: Stripe's failure balance
    transaction where the event names it, else one made from the refund's id."""
    failure = item.get("failure_balance_transaction")
    if isinstance(failure, dict):
        failure = failure.get("id")
    return str(failure or f"{refund_reference}:failure")[:255]


def _came_back_line(
    *,
    payment: Payment,
    refund: Refund | None,
    money: tuple[str, int, int, int],
    when: datetime,
    item: dict[str, Any],
) -> dict[str, Any]:
    """The values of the line of a refund's money coming back; `money` is its currency,
    gross, fee and net."""
    currency, gross, fee, net = money
    return {
        "source": Source.LIVE,
        "kind": BalanceKind.ADJUSTMENT,
        "currency": currency,
        "gross": gross,
        "fee": fee,
        "net": net,
        "occurred_at": when,
        "payment": payment,
        "refund": refund,
        "description": "Refund failed: the money came back to the balance",
        "raw": item,
    }


def _came_back_reason(item: dict[str, Any]) -> str:
    return str(item.get("failure_reason") or "unknown").replace("_", " ")


def _refund_came_back(refund: Refund, item: dict[str, Any], event: dict[str, Any]) -> None:
    """A refund that succeeded and then failed: the customer's bank could not take it (a closed
    account, a lost card) and Stripe put the money back in the balance. The refund stays made
    on its day, as Stripe's balance history has it; the money coming back is a line of its own
    (the refund's failure balance transaction, so importing that history adds it once), which
    the dashboard counts as a negative refund on the day it came back (an import of that
    history may have landed it first). Staff see why on the payment's page; the customer still
    has to be paid another way."""
    # The payment's lock before the refund's, as every writer of a payment's refunds takes
    # them (the line written below needs the payment's row; the other order deadlocked).
    refund_payment_lock(refund)
    # Stripe sends charge.refund.updated and refund.failed for it, perhaps at once: one of
    # them writes the line and tells staff, the other then finds both done.
    refund = Refund.objects.select_for_update().get(pk=refund.pk)
    pause_point("refund_came_back.locked")
    refund_reference = str(item.get("id") or refund.provider_reference)
    when = _event_time(event)
    made = False
    if not _came_back_already(refund, refund_reference):
        # The balance line it reverses: in the currency the refund was taken from the balance
        # in (a converted payment's settlement currency), else the refund's own.
        taken = (
            BalanceTransaction.objects.filter(
                business=refund.business, provider="stripe", refund=refund, kind=BalanceKind.REFUND
            )
            .order_by("pk")
            .first()
        )
        currency, gross, fee, net = (
            (taken.currency, -taken.gross, -taken.fee, -taken.net)
            if taken is not None
            else (refund.currency, refund.amount, 0, refund.amount)
        )
        _, made = BalanceTransaction.objects.get_or_create(
            business=refund.business,
            provider="stripe",
            provider_reference=_came_back_reference(item, refund_reference),
            defaults=_came_back_line(
                payment=refund.payment,
                refund=refund,
                money=(currency, gross, fee, net),
                when=when,
                item=item,
            ),
        )
    if made:
        customer_values_reread(business=refund.business, payment_ids=[refund.payment_id])
    if not made and refund.failure_reason:
        return  # told already
    money = refund.money.format(refund.business.locale)
    reason = _came_back_reason(item)
    refund.failure_reason = (
        f"Came back on {when:%Y-%m-%d}: the customer's bank could not take it ({reason}). "
        "Stripe put the money back in your balance; pay the customer another way."
    )[:300]
    refund.save(update_fields=["failure_reason"])
    audit_record(
        business=refund.business,
        actor=None,
        action="refund.failed",
        summary=f"Refund of {money} came back from the customer's bank ({reason})",
        target=refund.payment,
    )
    logger.warning(
        "Stripe refund %s (refund %s of %s) failed after it succeeded: %s",
        refund.provider_reference,
        refund.pk,
        refund.business.slug,
        reason,
    )


def _refund_made_elsewhere(payment: Payment, item: dict[str, Any], event: dict[str, Any]) -> None:
    """A refund made in Stripe's dashboard that succeeded (refund.created, or an update), known
    by its own id from now on.

    Newer API versions send charge.refunded without its list of refunds, so the refund may be
    counted already within a refund of the charge's total (`ch_…:amount`, _refunds_from_charge):
    it takes its money out of such totals (refund_from_totals; nothing is told twice: the
    customer and the activity log heard of it with the total). Where none holds it, it is
    recorded as charge.refunded records one, and charge.refunded, after it, finds it known.
    """
    # charge.refunded (writing a total) and this event may come at once: the payment's lock
    # orders them, and the second counts the first's refund.
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    pause_point("refund_made_elsewhere.locked")
    reference = str(item.get("id") or "")
    currency = str(item.get("currency") or "").upper()
    amount = tillbook_amount(int(item.get("amount") or 0), currency) if currency else 0
    if amount <= 0 or Refund.objects.filter(payment=payment, provider_reference=reference).exists():
        return
    adjustments = BalanceTransaction.objects.filter(
        business=payment.business, provider="stripe", kind=BalanceKind.ADJUSTMENT
    )
    if adjustments.filter(Q(raw__id=reference) | sourced_from(reference)).exists():
        return  # it came back already (told before this): counted and taken off, or neither
    refund = refund_from_totals(payment, item)
    if refund is None:
        refund = refund_record_external(
            payment=payment,
            amount=Money(amount, currency),
            provider_reference=reference,
            raw=item,
        )
    refund_lines_link(refund, stripe_time(item.get("created")))


def _refund_in_total_came_back(
    payment: Payment, item: dict[str, Any], event: dict[str, Any]
) -> None:
    """A refund made in Stripe's dashboard came back, and Tillbook knows it only within the
    charge's refunded total (charge.refunded without its list of refunds, as newer API
    versions send it: a refund `ch_…:amount`). Its money coming back is a line of its own,
    as for a refund known by its id, linked to the refund of the total of the same amount
    where there is one (the customer's lifetime value then counts it again). Where no total
    was recorded, the refund was never counted, and nothing is written."""
    # charge.refund.updated and refund.failed may come at once: one writes, the other finds it.
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    pause_point("refund_came_back.locked")
    charge = str(item.get("charge") or "")
    currency = str(item.get("currency") or "").upper()
    amount = tillbook_amount(int(item.get("amount") or 0), currency) if currency else 0
    totals = Refund.objects.filter(
        payment=payment, state=RefundState.SUCCEEDED, provider_reference__startswith=f"{charge}:"
    )
    if not charge or amount <= 0 or not totals.exists():
        return
    refund_reference = str(item.get("id") or "")
    reference = _came_back_reference(item, refund_reference)
    adjustments = BalanceTransaction.objects.filter(
        business=payment.business, provider="stripe", kind=BalanceKind.ADJUSTMENT
    )
    # Told already (by the other event, which may name the line when this one does not), or
    # Stripe's own line imported.
    told = Q(raw__id=refund_reference) | Q(provider_reference=reference)
    if adjustments.filter(told | sourced_from(refund_reference)).exists():
        return
    linked = adjustments.filter(refund__isnull=False).values("refund_id")
    refund = totals.filter(amount=amount).exclude(pk__in=linked).order_by("pk").first()
    when = _event_time(event)
    BalanceTransaction.objects.create(
        business=payment.business,
        provider="stripe",
        provider_reference=reference,
        **_came_back_line(
            payment=payment,
            refund=refund,
            money=(currency, amount, 0, amount),
            when=when,
            item=item,
        ),
    )
    if refund is not None:
        customer_values_reread(business=payment.business, payment_ids=[payment.pk])
    money = Money(amount, currency).format(payment.business.locale)
    reason = _came_back_reason(item)
    audit_record(
        business=payment.business,
        actor=None,
        action="refund.failed",
        summary=(
            f"Refund of {money} made in Stripe came back from the customer's bank ({reason}) "
            f"on {when:%Y-%m-%d}; pay the customer another way"
        ),
        target=payment,
    )


def _came_back_already(refund: Refund, reference: str) -> bool:
    """Whether the refund's coming back is a balance line already: one of an earlier event
    (which may have named Stripe's line when this one does not, or the other way round), or
    Stripe's own line from an imported balance history, which names the refund (`re_…`) as
    its source. An imported line found so is linked to its refund."""
    adjustments = BalanceTransaction.objects.filter(
        business=refund.business, provider="stripe", kind=BalanceKind.ADJUSTMENT
    )
    if adjustments.filter(refund=refund).exists():
        return True
    if not reference:
        return False
    line = (
        adjustments.filter(sourced_from(reference), refund__isnull=True, gross__gt=0)
        .order_by("pk")
        .first()
    )
    if line is None:
        return False
    line.refund, line.payment_id = refund, refund.payment_id
    line.save(update_fields=["refund", "payment"])
    customer_values_reread(business=refund.business, payment_ids=[refund.payment_id])
    return True


def _our_refund(payment: Payment, reference: str, metadata: dict[str, Any]) -> Refund | None:
    if reference:
        found = Refund.objects.filter(payment=payment, provider_reference=reference).first()
        if found is not None:
            return found
    refund_id = id_from_text(metadata.get("tillbook_refund"))
    if refund_id is not None:
        return Refund.objects.filter(payment=payment, pk=refund_id).first()
    return None


def _payout(business: Business, event: dict[str, Any]) -> str:
    """payout.paid / .reconciliation_completed / .failed / .canceled: the payout and its state
    now; for a paid automatic payout, its lines from Stripe's API in a task (Stripe lists a
    payout's balance transactions only for automatic payouts)."""
    from tillbook.payments.payouts import stripe_payout_record
    from tillbook.payments.tasks import stripe_payout_lines

    payout = _object(event)
    reference = str(payout.get("id") or "")
    if not reference.startswith("po_") or not isinstance(payout.get("amount"), int):
        _record(business, event)
        return "not a payout"
    with transaction.atomic():
        if not _record(business, event):
            return "duplicate"
        row = stripe_payout_record(business=business, payout=payout)
        if row.state == PayoutState.PAID and payout.get("automatic", True):
            enqueue_on_commit(stripe_payout_lines, business.pk, reference)
            return "payout paid; its lines are being read"
    return f"payout {row.state}"


HANDLERS = {
    "checkout.session.completed": _session_completed,
    "checkout.session.async_payment_succeeded": _session_completed,
    "checkout.session.async_payment_failed": _session_failed,
    "checkout.session.expired": _session_failed,
    "payment_intent.succeeded": _intent_succeeded,
    "payment_intent.payment_failed": _intent_failed,
    "charge.refunded": _charge_refunded,
    # A refund by its own id: newer API versions send charge.refunded without it.
    "refund.created": _refund_updated,
    # Stripe sends both for one change; the second finds the refund settled already.
    "charge.refund.updated": _refund_updated,
    "refund.updated": _refund_updated,
    "refund.failed": _refund_updated,
    "payout.paid": _payout,
    # Stripe lists a payout's lines only once it has reconciled them, which can be after
    # payout.paid: reading them again then lands what was missing, and nothing twice.
    "payout.reconciliation_completed": _payout,
    "payout.failed": _payout,
    "payout.canceled": _payout,
}
