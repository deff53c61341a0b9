from __future__ import annotations

from datetime import timedelta

from tillbook.core.periodic import sweep
from tillbook.orders.services import orders_expire_due


@sweep(name="orders.expire_reservations", every=timedelta(minutes=1))
def expire_reservations() -> str:
    """Unpaid checkouts whose reservation lapsed give their places back. Capacity counting
    already ignores lapsed reservations; this makes the orders say so and frees discount uses."""
    return f"expired {orders_expire_due()}"
