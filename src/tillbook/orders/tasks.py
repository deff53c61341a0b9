from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from tillbook.core.scoping import business_scope, unscoped
from tillbook.orders.models import CapacityState, Order, OrderEventKind


@task()
def order_shortfall_refund(order_id: int) -> str:
    """The business's policy says: refund a payment that found no place. Idempotent: the order
    is marked resolved (under its lock) before the refund is asked for, so it runs once."""
    from tillbook.core.money import Money
    from tillbook.orders.fulfilment import order_refund
    from tillbook.orders.services import order_event

    with unscoped():
        order = Order.objects.select_related("business").filter(pk=order_id).first()
    if order is None:
        return "missing"
    with business_scope(order.business):
        with transaction.atomic():
            locked = Order.objects.select_for_update().get(pk=order.pk)
            if not locked.capacity_shortfall or locked.shortfall_resolved_at is not None:
                return "already resolved"
            locked.shortfall_resolved_at = timezone.now()
            locked.save(update_fields=["shortfall_resolved_at"])
        short = locked.lines.filter(capacity_state=CapacityState.SHORT)
        amount = sum(line.total for line in short)
        if short.count() == locked.lines.count():
            amount = locked.total  # nothing was delivered: shipping included
        try:
            order_refund(
                order=locked,
                amount=Money(amount, locked.currency),
                actor=None,
                reason="No place was left when the payment arrived",
                releases_capacity=False,
            )
        except Exception as error:
            order_event(locked, OrderEventKind.NOTE, f"Automatic refund failed: {error}")
            return "refund failed"
    return "refunded"
