from __future__ import annotations

from datetime import timedelta

from tillbook.core.periodic import sweep
from tillbook.payments.polling import pending_payments_poll, pending_refunds_poll


@sweep(name="payments.pending_poll", every=timedelta(minutes=5))
def pending_poll() -> dict[str, int]:
    """Confirm or fail online payments whose processor never told us (lost webhooks)."""
    return pending_payments_poll().as_dict()


@sweep(name="payments.pending_refunds", every=timedelta(minutes=15))
def pending_refunds() -> dict[str, int]:
    """Settle refunds the processor answered "pending" whose final word never reached us."""
    return pending_refunds_poll().as_dict()
