"""Stripe payouts in the ledger, as Stripe reports them live.

A `payout.paid` / `payout.failed` / `payout.canceled` webhook records the payout and its state
at once; for a paid automatic payout a task then lists the balance transactions it carried and
lands them through the imports' ledger landing (imports.landing), so the payout, its lines and
the payments they link to are the same rows an import of Stripe's balance history writes:
deduplicated by Stripe's ids (`po_…`, `txn_…`), a repeated webhook or a later import of the
same period adds nothing.

Lines are linked to payments by the ids Tillbook knows them by: a payment taken through
Tillbook by its PaymentIntent (`pi_…`), one imported from Stripe's exports by its charge
(`ch_…`). A charge Tillbook knows neither way becomes an imported payment keyed by its charge
id, as the balance history import would make it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from tillbook.core.models import Business
from tillbook.core.tasks import enqueue_on_commit
from tillbook.core.validation import id_from_text
from tillbook.imports.landing import LandingCounts, ledger_land_batch, payouts_settle
from tillbook.imports.readers.stripe import BALANCE_TYPES
from tillbook.imports.records import PAYOUT_REVERSALS, LedgerRecord, Movement
from tillbook.insights.rollups import rollups_hold, rollups_refresh
from tillbook.payments.models import (
    BalanceKind,
    BalanceTransaction,
    Payment,
    Payout,
    PayoutState,
    ProviderAccount,
    Refund,
    Source,
)
from tillbook.payments.providers.stripe import ProcessorError, StripeProvider, tillbook_amount
from tillbook.payments.stripe_refunds import refund_from_totals

logger = logging.getLogger(__name__)

STATES = {
    "pending": PayoutState.PENDING,
    "in_transit": PayoutState.IN_TRANSIT,
    "paid": PayoutState.PAID,
    "failed": PayoutState.FAILED,
    "canceled": PayoutState.CANCELLED,
}
# A payout that failed or was cancelled never becomes paid again (Stripe sends a new payout):
# a late-delivered payout.paid must not undo the failure.
FINAL = {PayoutState.FAILED, PayoutState.CANCELLED}
# Listing a payout's lines is retried when Stripe does not answer: after 1, 2, 4, 8 minutes.
ATTEMPTS = 5
RETRY_SECONDS = 60


def _day(stamp: object) -> date | None:
    if not isinstance(stamp, int):
        return None
    return datetime.fromtimestamp(stamp, tz=UTC).date()


def stripe_payout_record(*, business: Business, payout: dict[str, Any]) -> Payout:
    """Create or update the Payout from Stripe's payout object; the caller owns the
    transaction. Returns the row, locked."""
    reference = str(payout["id"])
    state = STATES.get(str(payout.get("status") or ""), PayoutState.PENDING)
    currency = str(payout.get("currency") or "").upper()[:3]
    amount = tillbook_amount(int(payout.get("amount") or 0), currency)
    found, _ = Payout.objects.get_or_create(
        business=business,
        provider="stripe",
        provider_reference=reference,
        defaults={
            "source": Source.LIVE,
            "state": state,
            "currency": currency,
            "amount": amount,
            "arrival_date": _day(payout.get("arrival_date")),
            "raw": payout,
        },
    )
    # Two deliveries (or a delivery and the lines' task) serialise here.
    row = Payout.objects.select_for_update().get(pk=found.pk)
    if row.state in FINAL and state not in FINAL:
        return row
    row.state = state
    row.amount = amount
    row.currency = currency or row.currency
    row.arrival_date = _day(payout.get("arrival_date")) or row.arrival_date
    row.raw = payout
    row.save(update_fields=["state", "amount", "currency", "arrival_date", "raw"])
    return row


def stripe_payout_lines_fetch(*, business: Business, payout_id: str, attempt: int = 1) -> str:
    """Read a paid payout's balance transactions from Stripe and land them (the task's work).
    Safe to run twice: what is already in the ledger is found by Stripe's ids."""
    payout = Payout.objects.filter(
        business=business, provider="stripe", provider_reference=payout_id
    ).first()
    if payout is None or payout.state != PayoutState.PAID:
        return "not a paid payout"
    adapter = StripeProvider(
        business=business,
        account=ProviderAccount.objects.filter(business=business, provider="stripe").first(),
    )
    try:
        transactions = adapter.payout_balance_transactions(payout_id=payout_id)
    except ProcessorError:
        if attempt >= ATTEMPTS:
            logger.error(
                "Stripe payout %s of %s: lines not read, giving up", payout_id, business.slug
            )
            return "gave up"
        from tillbook.payments.tasks import stripe_payout_lines

        with transaction.atomic():
            enqueue_on_commit(
                stripe_payout_lines,
                business.pk,
                payout_id,
                attempt + 1,
                run_after=timezone.now() + timedelta(seconds=RETRY_SECONDS * 2 ** (attempt - 1)),
            )
        return "retrying"
    counts = stripe_payout_land(business=business, payout=payout.raw, transactions=transactions)
    return f"{counts.imported} lines, {counts.duplicates} known"


def stripe_payout_land(
    *, business: Business, payout: dict[str, Any], transactions: Sequence[dict[str, Any]]
) -> LandingCounts:
    """Land a payout and the balance transactions Stripe listed for it."""
    reference = str(payout["id"])
    with transaction.atomic():
        # Before the payout's row, in the order an import takes them (see rollups_hold).
        rollups_hold(business=business)
        row = stripe_payout_record(business=business, payout=payout)
        records = _records(business, reference, transactions)
        _refunds_adopt(business, records, transactions)
        counts = ledger_land_batch(business=business, records=records, source=Source.LIVE)
        payouts_settle(business=business, payout_ids=[row.pk])
        # The payout object is Stripe's word on the amount and the arrival date; landing set
        # them from the payout's own balance line.
        row = stripe_payout_record(business=business, payout=payout)
        carried = (
            BalanceTransaction.objects.filter(business=business, payout=row)
            .exclude(kind=BalanceKind.PAYOUT)
            .aggregate(total=Sum("net"))["total"]
            or 0
        )
        if carried != row.amount:
            logger.warning(
                "Stripe payout %s of %s: amount %s, its lines' net %s (not reconciled yet?)",
                reference,
                business.slug,
                row.amount,
                carried,
            )
    rollups_refresh(business=business)
    return counts


def _source(item: dict[str, Any]) -> dict[str, Any]:
    found = item.get("source")
    if isinstance(found, dict):
        return found
    return {"id": str(found or "")}


def _records(
    business: Business, payout_id: str, transactions: Sequence[dict[str, Any]]
) -> list[LedgerRecord]:
    """Stripe's balance transactions as the ledger records the balance history reader makes,
    with the payment each charge or refund belongs to."""
    # Every id a payment could be known by, then one query for the ones Tillbook knows.
    candidates: list[tuple[str, str]] = []
    for item in transactions:
        moved = _source(item)
        intent = str(moved.get("payment_intent") or "")
        if moved.get("object") == "refund":
            candidates.append((intent, str(moved.get("charge") or "")))
        elif moved.get("object") == "charge" or moved.get("id", "").startswith(("ch_", "py_")):
            candidates.append((intent, str(moved.get("id") or "")))
        else:  # fees, payouts, transfers: no payment
            candidates.append(("", ""))
    known = set(
        Payment.objects.filter(
            business=business,
            provider="stripe",
            provider_reference__in=[ref for pair in candidates for ref in pair if ref],
        ).values_list("provider_reference", flat=True)
    )
    records = []
    for line, (item, (intent, charge)) in enumerate(zip(transactions, candidates, strict=True)):
        moved = _source(item)
        kind = str(item.get("type") or "")
        movement = BALANCE_TYPES.get(kind, Movement.OTHER)
        currency = str(item.get("currency") or "").upper()
        amount, fee = int(item.get("amount") or 0), int(item.get("fee") or 0)
        # What moved is rounded; the fee is what lies between, so net = gross − fee holds
        # where Stripe counts finer than Tillbook (a peso fee of 1,450.50).
        gross = tillbook_amount(amount, currency)
        net = tillbook_amount(int(item.get("net", amount - fee)), currency)
        record = LedgerRecord(
            line=line + 1,
            provider="stripe",
            movement=movement,
            reference=str(item["id"]),
            currency=currency,
            gross=gross,
            fee=gross - net,
            net=net,
            occurred_at=datetime.fromtimestamp(int(item.get("created") or 0), tz=UTC),
            available_on=_day(item.get("available_on")),
            payout_reference=payout_id,
            description=str(item.get("description") or ""),
            # The line as Stripe listed it, its source collapsed back to the id.
            raw={**item, "source": moved.get("id") or ""},
        )
        # Tillbook's own payments are known by their PaymentIntent; anything else by its
        # charge, as the balance history import keys it.
        payment = intent if intent in known else charge if charge in known else charge or intent
        if movement is Movement.SALE:
            record.payment_reference = payment or record.reference
        elif movement is Movement.REFUND:
            record.refund_reference = str(moved.get("id") or record.reference)
            record.payment_reference = payment
        elif movement in PAYOUT_REVERSALS:
            record.reversed_payout = str(moved.get("id") or "")  # the payout that failed
        elif movement is Movement.REFUND_FAILURE:
            record.returned_refund = str(moved.get("id") or "")  # the refund that came back
        records.append(record)
    return records


def _refunds_adopt(
    business: Business, records: list[LedgerRecord], transactions: Sequence[dict[str, Any]]
) -> None:
    """Give Stripe's refund id to a refund known only from charge.refunded.

    Newer API versions leave the refund list out of charge.refunded, so a refund made in
    Stripe's dashboard is recorded within the charge's refunded total, "<charge>:<refunded so
    far>" (payments.webhooks), and one made through Tillbook that charge.refunded settled
    before Stripe's answer to the call was read (or when that answer was lost) has no id at
    all: it is found by the number Tillbook put in the refund's metadata. Either one's `re_…`
    line would otherwise land as a second refund of the same money. The dashboard's refund
    is taken out of the totals as its refund.created takes it (refund_from_totals).
    """
    wanted = [
        (record, _source(item))
        for record, item in zip(records, transactions, strict=True)
        if record.movement is Movement.REFUND and record.payment_reference
    ]
    if not wanted:
        return
    # Two queries for the whole payout: its refunds' payments, and every refund of those.
    payments = dict(
        Payment.objects.filter(
            business=business,
            provider="stripe",
            provider_reference__in={record.payment_reference for record, _ in wanted},
        ).values_list("provider_reference", "pk")
    )
    refunds: dict[int, list[Refund]] = {}
    for refund in Refund.objects.filter(
        business=business, payment_id__in=payments.values()
    ).order_by("pk"):
        refunds.setdefault(refund.payment_id, []).append(refund)
    for record, source in wanted:
        payment_pk = payments.get(record.payment_reference)
        known = refunds.get(payment_pk or 0, [])
        if payment_pk is None or any(
            r.provider_reference == record.refund_reference for r in known
        ):
            continue
        metadata = source.get("metadata")
        ours = id_from_text(metadata.get("tillbook_refund")) if isinstance(metadata, dict) else None
        mine = next(
            (r for r in known if ours is not None and r.pk == ours and not r.provider_reference),
            None,
        )
        if mine is not None:
            mine.provider_reference = record.refund_reference  # not adopted twice
            Refund.objects.filter(pk=mine.pk).update(provider_reference=record.refund_reference)
        elif source.get("object") == "refund":
            # Under the payment's lock, as charge.refunded writes the totals.
            payment = Payment.objects.select_for_update().get(pk=payment_pk)
            refund_from_totals(payment, source)
