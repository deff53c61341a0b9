from __future__ import annotations

from typing import Any

from django_tasks import task

from tillbook.core.scoping import business_scope, unscoped
from tillbook.payments.models import Payment


@task()
def sandbox_webhook(payment_id: int) -> str:
    """The sandbox processor's delayed "payment succeeded" webhook."""
    from tillbook.payments.sandbox import sandbox_succeed

    with unscoped():
        payment = Payment.objects.select_related("business").filter(pk=payment_id).first()
    if payment is None:
        return "missing"
    with business_scope(payment.business):
        confirmation = sandbox_succeed(payment)
    return "confirmed" if confirmation.newly_succeeded else "already confirmed"


@task()
def stripe_event_retry(business_id: int, event: dict[str, Any], attempt: int = 2) -> str:
    """Handle again a signed Stripe event whose handling failed (e.g. Stripe's API did not
    answer while we read the fee); this is its `attempt`th handling. Idempotent: a handled
    event is a duplicate."""
    from tillbook.core.models import Business
    from tillbook.payments.webhooks import stripe_event_handle, stripe_event_retry_later

    business = Business.objects.filter(pk=business_id).first()
    if business is None:
        return "missing business"
    with business_scope(business):
        try:
            return stripe_event_handle(business=business, event=event)
        except Exception:
            return stripe_event_retry_later(business=business, event=event, attempt=attempt)


@task()
def stripe_payout_lines(business_id: int, payout_id: str, attempt: int = 1) -> str:
    """Land the balance transactions a paid Stripe payout carried. Idempotent: lines already
    in the ledger are found by Stripe's ids."""
    from tillbook.core.models import Business
    from tillbook.payments.payouts import stripe_payout_lines_fetch

    business = Business.objects.filter(pk=business_id).first()
    if business is None:
        return "missing business"
    with business_scope(business):
        return stripe_payout_lines_fetch(business=business, payout_id=payout_id, attempt=attempt)
