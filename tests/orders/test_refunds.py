"""Refunds of orders: what they give back (places, tickets, downloads) and the order's state."""

from __future__ import annotations

from typing import Any

from tillbook.core.money import Money
from tillbook.orders.fulfilment import order_refund
from tillbook.orders.models import CapacityState, Order, OrderEvent, OrderState
from tillbook.payments.models import PaymentRequest, Refund, RefundState
from tillbook.payments.services import manual_payment_record

from .shop import Shop
from .test_order_flow import place


def test_refunding_a_part_payment_of_an_unpaid_order_settles_and_keeps_it_awaiting_payment(
    shop: Shop, owner: Any
) -> None:
    """Cash towards an order not yet paid in full, given back: the refund stayed pending for
    good (the order could not move from awaiting payment to partially refunded, so recording
    the refund failed after the money went back) and held back what could still be refunded."""
    order = place(shop, [shop.ticket(2)])
    assert order.payment_request is not None
    manual_payment_record(
        request=order.payment_request,
        amount=Money(3000, "USD"),
        method="cash",
        note="",
        actor=owner,
    )
    refund = order_refund(
        order=order, amount=Money(3000, "USD"), reason="", actor=owner, releases_capacity=False
    )
    assert (refund.state, refund.amount) == (RefundState.SUCCEEDED, 3000)
    order = Order.objects.get(pk=order.pk)
    assert (order.state, order.refunded_total) == (OrderState.PENDING, 3000)
    assert list(order.lines.values_list("capacity_state", flat=True)) == [CapacityState.RESERVED]
    assert OrderEvent.objects.filter(order=order, kind="refunded").count() == 1
    assert PaymentRequest.objects.get(pk=order.payment_request_id).state == "open"
    assert Refund.objects.get().state == RefundState.SUCCEEDED
