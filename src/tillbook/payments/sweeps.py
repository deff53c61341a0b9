from __future__ import annotations

from datetime import timedelta

from tillbook.core.periodic import sweep
from tillbook.payments.polling import pending_payments_poll


@sweep(name="payments.pending_poll", every=timedelta(minutes=5))
def pending_poll() -> dict[str, int]:
    """Confirm or fail online payments whose processor never told us (lost webhooks)."""
    return pending_payments_poll().as_dict()
