"""Refunds of orders: what they give back (places, tickets, downloads) and the order's state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tillbook.catalog.models import ShippingRate
from tillbook.core.errors import Conflict
from tillbook.core.money import Money
from tillbook.orders.fulfilment import order_refund, order_shortfall_accept
from tillbook.orders.models import (
    CapacityState,
    DownloadGrant,
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
from .test_order_flow import pay, place


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


def test_a_refunded_part_payment_no_longer_counts_towards_the_order(shop: Shop, owner: Any) -> None:
    """Cash towards an order, given back, still counted as paid on its payment request: paying
    only the rest then completed the order (tickets issued) with half the money kept."""
    order = place(shop, [shop.ticket(2)])
    assert order.payment_request is not None and order.total == 8000
    manual_payment_record(
        request=order.payment_request,
        amount=Money(4000, "USD"),
        method="cash",
        note="",
        actor=owner,
    )
    order_refund(
        order=order, amount=Money(1000, "USD"), reason="", actor=owner, releases_capacity=False
    )
    request = PaymentRequest.objects.get(pk=order.payment_request_id)
    assert (request.state, request.amount_paid) == ("open", 3000)
    manual_payment_record(
        request=request, amount=Money(4000, "USD"), method="cash", note="", actor=owner
    )
    assert Order.objects.get(pk=order.pk).state == OrderState.PENDING  # 7,000 of 8,000 kept
    assert Ticket.objects.filter(order=order).count() == 0
    manual_payment_record(
        request=request, amount=Money(1000, "USD"), method="cash", note="", actor=owner
    )
    assert Order.objects.get(pk=order.pk).state == OrderState.FULFILLED  # all 8,000 kept


def _paid_without_place(shop: Shop, *extra: Any, **details: Any) -> Order:
    """An order of 10 tickets (and `extra` items) whose payment arrived after its places were
    sold to someone else."""
    late = place(shop, [shop.ticket(10), *extra], **details)
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


def test_a_part_refund_that_releases_gives_back_only_the_places_it_pays_for(
    shop: Shop, owner: Any
) -> None:
    """Refunding one ticket of three with "give the places back" released all three places,
    invalidated all three tickets and revoked the workbook too, though the buyer had paid
    for and kept the rest."""
    order = place(shop, [shop.ticket(3), shop.book()])
    pay(order)
    assert order.total == 13900
    used = Ticket.objects.filter(order=order).order_by("pk").last()
    assert used is not None
    Ticket.objects.filter(pk=used.pk).update(checked_in_at=timezone.now())
    order_refund(
        order=order, amount=Money(4000, "USD"), reason="", actor=owner, releases_capacity=True
    )
    order = Order.objects.get(pk=order.pk)
    assert (order.state, order.refunded_total) == (OrderState.PARTIALLY_REFUNDED, 4000)
    line = order.lines.get(kind="ticket")
    assert (line.capacity_state, line.released_quantity) == (CapacityState.SOLD, 1)
    assert Ticket.objects.filter(order=order, is_valid=True).count() == 2
    assert Ticket.objects.get(pk=used.pk).is_valid  # the one already used at the door stays
    assert DownloadGrant.objects.get(order=order).is_revoked is False
    with pytest.raises(Conflict):
        place(shop, [shop.ticket(9)], email="bob@example.com")
    assert place(shop, [shop.ticket(8)], email="bob@example.com").state == "pending"
    # Less than a ticket's price gives no place back.
    order_refund(
        order=order, amount=Money(3999, "USD"), reason="", actor=owner, releases_capacity=True
    )
    line = order.lines.get(kind="ticket")
    assert (line.capacity_state, line.released_quantity) == (CapacityState.SOLD, 1)
    assert Ticket.objects.filter(order=order, is_valid=True).count() == 2
    assert OrderEvent.objects.filter(order=order, kind="refunded").count() == 2
    # The rest, in full: every place and the workbook go back.
    order_refund(
        order=order, amount=Money(5901, "USD"), reason="", actor=owner, releases_capacity=True
    )
    order = Order.objects.get(pk=order.pk)
    assert (order.state, order.refunded_total) == (OrderState.REFUNDED, 13900)
    line = order.lines.get(kind="ticket")
    assert line.capacity_state == CapacityState.RELEASED
    assert Ticket.objects.filter(order=order, is_valid=True).count() == 0
    assert DownloadGrant.objects.get(order=order).is_revoked is True


def test_a_part_refund_that_releases_stops_only_the_tickets_it_pays_for_without_a_quota(
    shop: Shop, owner: Any
) -> None:
    shop.regular.quota = None
    shop.regular.save()
    order = place(shop, [shop.ticket(3)])
    pay(order)
    order_refund(
        order=order, amount=Money(8000, "USD"), reason="", actor=owner, releases_capacity=True
    )
    line = order.lines.get()
    assert (line.capacity_state, line.released_quantity) == (CapacityState.NONE, 2)
    assert Ticket.objects.filter(order=order, is_valid=True).count() == 1


def test_refunding_what_found_no_place_gives_back_no_place_that_was_delivered(
    shop: Shop, owner: Any
) -> None:
    """Staff refunded the tickets that found no place with "give the places back" ticked: the
    refund paid for places the order never held, yet it gave back the shirts it had sold, as
    if they were what the money paid for (and they went back on sale while the buyer had
    them)."""
    pickup = ShippingRate.objects.get(is_pickup=True)
    late = _paid_without_place(shop, shop.shirt_item(2), shipping_rate_id=pickup.pk)
    assert late.total == 45000
    shirts = late.lines.get(kind="physical")
    assert shirts.capacity_state == CapacityState.SOLD
    order_refund(
        order=late, amount=Money(40000, "USD"), reason="", actor=owner, releases_capacity=True
    )
    late = Order.objects.get(pk=late.pk)
    assert late.shortfall_resolved_at is not None
    shirts = late.lines.get(kind="physical")
    assert (shirts.capacity_state, shirts.released_quantity) == (CapacityState.SOLD, 0)
    assert OrderEvent.objects.get(order=late, kind="refunded").message == (
        "Refunded $400.00; no place given back (the refund pays for what found no place)"
    )
    # What is refunded beyond the places that found none pays for the shirts.
    order_refund(
        order=late, amount=Money(2500, "USD"), reason="", actor=owner, releases_capacity=True
    )
    shirts = late.lines.get(kind="physical")
    assert (shirts.capacity_state, shirts.released_quantity) == (CapacityState.SOLD, 1)
