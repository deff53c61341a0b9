"""What Tillbook knows of a Stripe refund made in Stripe's dashboard, kept counted once.

Stripe can tell of one refund three ways: within the charge's refunded total (charge.refunded
on newer API versions: a refund `ch_…:amount` holding no refund id), by its own id
(refund.created, or charge.refunded listing its refunds), and as a balance history's line
naming only the refund. The webhooks (payments/webhooks.py) and a payout's lines read from
Stripe's API (payments/payouts.py) both bring these together here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Q

from tillbook.core.money import currency_precision, processor_precision
from tillbook.imports.landing import SUMMARY_SUFFIX
from tillbook.insights.rollups import lines_reread, rollups_reread
from tillbook.payments.models import (
    BalanceKind,
    BalanceTransaction,
    Payment,
    Refund,
    RefundState,
)
from tillbook.payments.providers.stripe import tillbook_amount
from tillbook.payments.services import external_refund_key


def sourced_from(refund_reference: str) -> Q:
    """Stripe's own balance lines of the refund, imported: their source, as the balance
    history export, the itemized report and Stripe's API name it."""
    return (
        Q(raw__Source=refund_reference)
        | Q(raw__source_id=refund_reference)
        | Q(raw__source=refund_reference)
    )


# Stripe's balance line of a refund is made when the refund is: a day either side spares any
# clock, and keeps the search within the business's lines of those days (balance_occurred_idx).
LINE_MADE_WITHIN = timedelta(days=1)


def refund_lines_link(refund: Refund | None, made: datetime | None) -> None:
    """The refund's own line of an imported balance history, landed before Tillbook knew the
    refund by its id (the line names the refund, not its charge: the import could not link
    it, and the dashboard counted it as a refund of its own beside this one): linked to the
    refund and its payment now, and read again by the rollups, its day with it."""
    if refund is None or not refund.provider_reference or made is None:
        return
    lines = list(
        BalanceTransaction.objects.filter(
            business_id=refund.business_id,
            provider="stripe",
            kind=BalanceKind.REFUND,
            refund__isnull=True,
            occurred_at__gte=made - LINE_MADE_WITHIN,
            occurred_at__lte=made + LINE_MADE_WITHIN,
        )
        .filter(sourced_from(refund.provider_reference))
        .values_list("pk", flat=True)
    )
    if lines:
        BalanceTransaction.objects.filter(pk__in=lines).update(
            refund=refund, payment_id=refund.payment_id
        )
        lines_reread(business=refund.business, lines=[(line, refund.payment_id) for line in lines])


def refund_from_totals(payment: Payment, item: dict[str, Any]) -> Refund | None:
    """The refund `item` (Stripe's refund object, made in Stripe's dashboard), taken out of the
    refunds of its charge's total that hold it; None, changing nothing, where they do not.
    The caller holds the payment's row lock.

    Such a total (`ch_…:amount`, _refunds_from_charge) holds no refund id: the balance
    history's line of the refund (`re_…`, which does not name its charge) would count it a
    second time. A total of the same amount becomes the refund (its id, its key); else totals
    holding all of it give their shares, oldest first, and the refund is recorded with what
    they held. Only totals Stripe counted after the refund was made can hold it
    (_totals_holding).
    """
    reference = str(item.get("id") or "")
    currency = str(item.get("currency") or "").upper()
    amount = tillbook_amount(int(item.get("amount") or 0), currency) if currency else 0
    if not reference or amount <= 0:
        return None
    charge = str(item.get("charge") or "")
    totals = _totals_holding(payment, charge, currency, stripe_time(item.get("created")))
    same = next((total for total in totals if total.amount == amount), None)
    if same is not None:
        same.provider_reference = reference
        # Its key follows its id: a later total of the same amount may need the old one.
        same.idempotency_key = external_refund_key(payment.business_id, reference)
        same.raw = item
        same.save(update_fields=["provider_reference", "idempotency_key", "raw"])
        return same
    # Where Stripe counts finer than Tillbook, totals are rounded shares (499.50 forints
    # counted as 499 after 500.50 as 501): one unit short still holds the refund.
    slack = 1 if processor_precision(currency) > currency_precision(currency) else 0
    if sum(total.amount for total in totals) < amount - slack:
        return None
    left = amount
    for total in totals:
        share = min(left, total.amount)
        if share == total.amount:
            total.delete()
        else:
            # What is left is no longer Stripe's total of that text: a later charge.refunded
            # saying that total again (after a refund came back) must not find it known.
            rest = f"{total.provider_reference}#{total.pk}"[:255]
            Refund.objects.filter(pk=total.pk).update(
                amount=total.amount - share,
                provider_reference=rest,
                idempotency_key=external_refund_key(payment.business_id, rest),
            )
        left -= share
        if not left:
            break
    first = totals[0]
    refund = Refund.objects.create(
        business=payment.business,
        payment=payment,
        state=RefundState.SUCCEEDED,
        currency=currency,
        amount=amount - left,  # its rounded share, where the totals held one unit less
        reason=first.reason,
        idempotency_key=external_refund_key(payment.business_id, reference),
        provider_reference=reference,
        raw=item,
        created_at=first.created_at,
        succeeded_at=first.succeeded_at,  # on the day the total counted it
    )
    # The totals' rows changed after the rollups may have read them.
    rollups_reread(business=payment.business, payment_ids=[payment.pk])
    return refund


def _totals_holding(
    payment: Payment, charge: str, currency: str, made: datetime | None
) -> list[Refund]:
    """The refunds of the charge's total (_refunds_from_charge) that may hold a refund made at
    `made`: Stripe's total was taken at or after it (by Stripe's clock; a total recorded
    before Tillbook kept that time, recorded at or after it), oldest first. Not the payments
    export's summary, nor a total one of whose refunds came back (that refund's, see
    _refund_in_total_came_back)."""
    if not charge:
        return []
    came_back = BalanceTransaction.objects.filter(
        business=payment.business,
        provider="stripe",
        kind=BalanceKind.ADJUSTMENT,
        refund__isnull=False,
    ).values("refund_id")
    totals = (
        Refund.objects.filter(
            payment=payment,
            state=RefundState.SUCCEEDED,
            currency=currency,
            provider_reference__startswith=f"{charge}:",
        )
        .exclude(provider_reference__endswith=SUMMARY_SUFFIX)
        .exclude(pk__in=came_back)
        .order_by("pk")
    )
    return [total for total in totals if made is None or _taken_after(total, made)]


def _taken_after(total: Refund, made: datetime) -> bool:
    as_of = stripe_time(total.raw.get("as_of")) if isinstance(total.raw, dict) else None
    if as_of is not None:
        return as_of >= made
    return total.succeeded_at is not None and total.succeeded_at >= made


def stripe_time(value: object) -> datetime | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**33:
        return datetime.fromtimestamp(value, tz=UTC)
    return None
