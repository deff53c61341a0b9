"""What the sandbox processor does when the payer clicks on its hosted test page: the same
service calls a real processor's webhook would cause, with a fee like a card processor's."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from tillbook.core.money import Money
from tillbook.core.tasks import enqueue_on_commit
from tillbook.payments.models import Payment
from tillbook.payments.services import Confirmation, payment_confirm, payment_fail

# 2.9 % + 0.30, the common card rate, so demo numbers show realistic fees.
SANDBOX_FEE_RATE = Decimal("0.029")
SANDBOX_FEE_FIXED_MINOR = 30

DECLINE_REASON = "The sandbox declined this test payment (as a card might be declined)."


def sandbox_fee(payment: Payment) -> Money:
    total = payment.total
    return total.scale(SANDBOX_FEE_RATE) + Money(SANDBOX_FEE_FIXED_MINOR, total.currency)


def sandbox_succeed(payment: Payment) -> Confirmation:
    return payment_confirm(
        payment=payment,
        provider_reference=f"sbx_pi_{payment.pk}",
        fee=sandbox_fee(payment),
        method="card",
        event={
            "id": f"sbx_evt_{payment.pk}_succeeded",
            "type": "payment.succeeded",
            "payload": {"payment": payment.pk, "at": timezone.now().isoformat()},
        },
    )


def sandbox_decline(payment: Payment) -> Payment:
    return payment_fail(payment=payment, reason=DECLINE_REASON)


def sandbox_succeed_later(payment: Payment, *, delay_seconds: int = 5) -> None:
    """Simulate a processor whose webhook arrives after the buyer is back on the site."""
    from datetime import timedelta

    from tillbook.payments.tasks import sandbox_webhook

    # Remembered so the pending-payments sweep can tell a lost webhook from a payer who has
    # not chosen yet.
    payment.metadata = {**payment.metadata, "sandbox_outcome": "succeed_later"}
    payment.save(update_fields=["metadata"])
    enqueue_on_commit(
        sandbox_webhook, payment.pk, run_after=timezone.now() + timedelta(seconds=delay_seconds)
    )
