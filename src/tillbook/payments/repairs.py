"""Mending ledger rows that an earlier Tillbook wrote wrong, from what they kept of the
processor's own data (each line's `raw`).

Each function takes the app registry, so a data migration can pass its historical models and
a test the current ones.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Min, OuterRef, Subquery, Sum

from tillbook.insights.rollups import READ_AGAIN

REVERSAL_TYPES = {"payout_failure": "failed", "payout_cancel": "cancelled"}
FINAL_STATES = ("failed", "cancelled")


def _raw_value(raw: object, *names: str) -> str:
    """The value of the first of `names` in a kept row (headers as the file wrote them)."""
    if not isinstance(raw, dict):
        return ""
    wanted = set(names)
    for key, value in raw.items():
        if str(key).strip().lower() in wanted and isinstance(value, str | int):
            return str(value).strip()
    return ""


def stripe_payout_reversals_mend(apps: Any) -> int:
    """Stripe lines of a payout's failure or cancellation used to land as that payout's own
    line: the failed payout stayed paid (with the amount of whichever of its lines came last,
    possibly negative), and a balance-history import linked the returned money to it instead
    of to the payout that carried it out again. Returns how many lines were mended.

    Each such line becomes a "reversal" line of the payout its Transfer (automatic payout id)
    names, or of the payout it was read with from Stripe's API; the payout in its Source is
    marked failed or cancelled with the amount that went out. Payouts known only from their
    lines are summed again, and the dashboard sums their contents again when next shown.
    """
    line_model = apps.get_model("payments", "BalanceTransaction")
    payout_model = apps.get_model("payments", "Payout")
    contents_model = apps.get_model("insights", "PayoutContents")
    mended = 0
    touched: set[int] = set()
    for line in line_model.objects.filter(provider="stripe", kind="payout").iterator():
        kind = _raw_value(line.raw, "type").lower()
        category = _raw_value(line.raw, "reporting_category", "reporting category").lower()
        if kind in REVERSAL_TYPES:
            state = REVERSAL_TYPES[kind]
        elif category == "payout_reversal":
            state = "failed"
        else:
            continue
        payouts = payout_model.objects.filter(business_id=line.business_id, provider="stripe")
        failed = payouts.filter(
            provider_reference=_raw_value(line.raw, "source", "source_id", "source id")
        ).first()
        carrier = _raw_value(line.raw, "transfer", "automatic_payout_id", "automatic payout id")
        before = line.payout_id
        if carrier:
            line.payout = payouts.filter(provider_reference=carrier).first()
        elif failed is not None and line.payout_id == failed.pk:
            line.payout = None  # not paid out again yet
        line.kind = "reversal"
        line.save(update_fields=["kind", "payout"])
        mended += 1
        touched |= {pk for pk in (before, line.payout_id) if pk is not None}
        if failed is not None:
            own = line_model.objects.filter(payout=failed, kind="payout").first()
            failed.amount = -own.gross if own is not None else line.gross
            if failed.state not in FINAL_STATES:
                failed.state = state
            failed.save(update_fields=["amount", "state"])
            touched.add(failed.pk)
    for payout in payout_model.objects.filter(pk__in=touched).exclude(state__in=FINAL_STATES):
        lines = line_model.objects.filter(payout=payout)
        if not lines.filter(kind="payout").exists():  # known only from its lines
            payout.amount = lines.aggregate(total=Sum("net"))["total"] or 0
            payout.save(update_fields=["amount"])
    contents_model.objects.filter(payout_id__in=touched).delete()
    return mended


def manual_payment_emails_mend(apps: Any) -> int:
    """Money recorded by staff (cash, bank transfer) used to keep its customer but not their
    email, which is how the customer figures know a payer: such payments counted in no
    customer's lifetime value, first purchase or acquisition cost. Gives each its customer's
    email and has the dashboard's rollups read it again. Returns how many were mended."""
    payment_model = apps.get_model("payments", "Payment")
    customer_model = apps.get_model("customers", "Customer")
    reread_model = apps.get_model("insights", "RollupReread")
    blank = payment_model.objects.filter(customer_email="", customer__isnull=False)
    mended = list(blank.values_list("pk", "business_id"))
    blank.update(
        customer_email=Subquery(
            customer_model.objects.filter(pk=OuterRef("customer_id")).values("email")[:1]
        )
    )
    reread_model.objects.bulk_create(
        (
            reread_model(business_id=business_id, name=name, payment_id=payment_id)
            for payment_id, business_id in mended
            for name in READ_AGAIN
        ),
        batch_size=1000,
    )
    return len(mended)


# Stripe balance types an earlier Tillbook kept as lines of no kind, and the kind they are.
OTHER_TYPES_NOW_COUNTED = {
    "refund_failure": "adjustment",
    "payment_failure_refund": "adjustment",
    "payment_reversal": "adjustment",
    "stripe_fx_fee": "fee",
}


def stripe_other_lines_mend(apps: Any) -> int:
    """Stripe lines of a refund the customer's bank could not take (`refund_failure`), a bank
    debit taken back (`payment_failure_refund`, `payment_reversal`) and Stripe's currency
    conversion fee (`stripe_fx_fee`) used to land as lines of no kind, counted nowhere: the
    refunds were too high by the failed refunds, the fees too low. Gives each its kind, and has
    the next refresh of the dashboard read each business's balance lines again from the first
    one mended (the days and payouts they touch are summed again). Returns how many."""
    line_model = apps.get_model("payments", "BalanceTransaction")
    refund_model = apps.get_model("payments", "Refund")
    mark_model = apps.get_model("insights", "RollupWatermark")
    contents_model = apps.get_model("insights", "PayoutContents")
    kinds: dict[int, str] = {}
    for pk, business_id, raw in (
        line_model._base_manager.filter(provider="stripe", kind="other")
        .values_list("pk", "business_id", "raw")
        .iterator()
    ):
        kind_named = _raw_value(raw, "type").lower()
        kind = OTHER_TYPES_NOW_COUNTED.get(kind_named)
        if kind_named == "refund_failure" and (
            refund_model._base_manager.filter(
                business_id=business_id,
                payment__provider="stripe",
                provider_reference=_raw_value(raw, "source"),
            )
            .exclude(state="succeeded")
            .exists()
        ):
            continue  # the refund it returns was never counted (failed, or pending)
        if kind is not None:
            kinds[pk] = kind
    for kind in set(kinds.values()):
        line_model._base_manager.filter(pk__in=[pk for pk, k in kinds.items() if k == kind]).update(
            kind=kind
        )
    mended = line_model._base_manager.filter(pk__in=list(kinds))
    contents_model._base_manager.filter(
        payout_id__in=mended.exclude(payout=None).values("payout_id")
    ).delete()
    for found in mended.values("business_id").annotate(first=Min("id")).order_by():
        mark_model._base_manager.filter(
            business_id=found["business_id"],
            name="daily_ledger",
            last_line_id__gte=found["first"],
        ).update(last_line_id=found["first"] - 1)
    return len(kinds)
