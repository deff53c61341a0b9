"""Refunds of orders: what they give back (places, tickets, downloads) and the order's state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tillbook.core.errors import Conflict
from tillbook.core.money import Money
from tillbook.orders.fulfilment import order_refund, order_shortfall_accept
from tillbook.orders.models import (
    CapacityState,
    Order,
    OrderEvent,
    OrderLine,
    OrderState,
    Ticket,
)
from tillbook.orders.services import order_expire
from tillbook.payments.models import PaymentRequest, Refund, RefundState
from tillbook.payments.sandbox import sandbox_succeed
from tillbook.payments.services import manual_payment_record, payment_start

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


def _paid_without_place(shop: Shop, *extra: Any) -> Order:
    """An order of 10 tickets (and `extra` items) whose payment arrived after its places were
    sold to someone else."""
    late = place(shop, [shop.ticket(10), *extra])
    assert late.payment_request is not None
    started = payment_start(
        request=late.payment_request, provider="sandbox", return_url="https://x.test/"
    )
    past = timezone.now() - timedelta(seconds=1)
    Order.objects.filter(pk=late.pk).update(reserved_until=past)
    OrderLine.objects.filter(order=late).update(reserved_until=past)
    order_expire(order=late)
    place(shop, [shop.ticket(10)], email="bob@example.com", name="Bob")
    sandbox_succeed(started.payment)
    return Order.objects.get(pk=late.pk)


def test_a_refunded_order_without_place_is_resolved_and_cannot_be_honoured(
    shop: Shop, owner: Any
) -> None:
    """Staff refunded a paid-but-no-place order in full: it stayed "needs a decision", and
    honouring it afterwards issued ten valid tickets (and took ten places) for money that
    had gone back."""
    late = _paid_without_place(shop)
    assert (late.state, late.capacity_shortfall) == (OrderState.PAID, True)
    order_refund(
        order=late, amount=Money(40000, "USD"), reason="", actor=owner, releases_capacity=False
    )
    late = Order.objects.get(pk=late.pk)
    assert late.state == OrderState.REFUNDED
    assert late.shortfall_resolved_at is not None
    with pytest.raises(Conflict) as error:
        order_shortfall_accept(order=late, actor=owner)
    assert error.value.message == "This order has no open capacity problem."
    assert list(late.lines.values_list("capacity_state", flat=True)) == [CapacityState.SHORT]
    assert Ticket.objects.filter(order=late).count() == 0


def test_refunding_what_found_no_place_resolves_the_shortfall(shop: Shop, owner: Any) -> None:
    late = _paid_without_place(shop, shop.book())
    assert late.total == 41900  # the book was delivered; the tickets (400.00) found no place
    order_refund(
        order=late, amount=Money(39999, "USD"), reason="", actor=owner, releases_capacity=False
    )
    assert Order.objects.get(pk=late.pk).shortfall_resolved_at is None  # not all of it yet
    order_refund(
        order=late, amount=Money(1, "USD"), reason="", actor=owner, releases_capacity=False
    )
    late = Order.objects.get(pk=late.pk)
    assert (late.state, late.refunded_total) == (OrderState.PARTIALLY_REFUNDED, 40000)
    assert late.shortfall_resolved_at is not None


def test_a_shortfall_refunded_in_part_can_still_be_honoured(shop: Shop, owner: Any) -> None:
    late = _paid_without_place(shop)
    order_refund(
        order=late,
        amount=Money(1000, "USD"),
        reason="goodwill",
        actor=owner,
        releases_capacity=False,
    )
    order_shortfall_accept(order=late, actor=owner)
    assert Ticket.objects.filter(order=late, is_valid=True).count() == 10
