from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.utils import timezone

from tillbook.catalog.services import discount_code_save, shop_settings_save, tax_class_save
from tillbook.messaging.models import OutboxMessage
from tillbook.orders.models import CapacityState, Order, OrderLine, OrderState
from tillbook.orders.pricing import CartItem, quote_build
from tillbook.orders.services import order_expire, order_place, orders_expire_due
from tillbook.payments.models import Refund
from tillbook.payments.sandbox import sandbox_succeed
from tillbook.payments.services import payment_start

from .shop import Shop


def test_tax_added_on_top_or_included(shop: Shop) -> None:
    vat = tax_class_save(business=shop.business, name="VAT", rate="20")
    shop.ebook.tax_class = vat
    shop.ebook.save()
    exclusive = quote_build(business=shop.business, items=[shop.book()])
    assert (exclusive.subtotal, exclusive.tax_total, exclusive.total) == (1900, 380, 2280)
    shop_settings_save(business=shop.business, actor=None, data={"prices_include_tax": True})
    inclusive = quote_build(business=shop.business, items=[shop.book()])
    # 19.00 includes 20 % VAT: 19.00 × 20/120 = 3.1666… → 3.17.
    assert (inclusive.subtotal, inclusive.tax_total, inclusive.total) == (1900, 317, 1900)


def test_discounts_percent_and_fixed_split_without_losing_a_cent(shop: Shop) -> None:
    discount_code_save(business=shop.business, code="TENOFF", kind="percent", value=10)
    discount_code_save(business=shop.business, code="FIVE", kind="fixed", value=500)
    discount_code_save(
        business=shop.business, code="BOOKONLY", kind="fixed", value=100, offering=shop.ebook
    )
    items = [shop.ticket(1), shop.book()]
    percent = quote_build(business=shop.business, items=items, discount_code="tenoff")
    assert [line.discount for line in percent.lines] == [400, 190]
    fixed = quote_build(business=shop.business, items=items, discount_code="FIVE")
    assert [line.discount for line in fixed.lines] == [339, 161]  # 500 split 4000 : 1900
    assert fixed.total == 5900 - 500
    only_book = quote_build(business=shop.business, items=items, discount_code="BOOKONLY")
    assert [line.discount for line in only_book.lines] == [0, 100]


def test_expired_or_used_up_codes_are_refused(shop: Shop) -> None:
    import pytest

    from tillbook.core.errors import InvalidInput

    discount_code_save(
        business=shop.business,
        code="OLD",
        kind="percent",
        value=5,
        expires_at=timezone.now() - timedelta(days=1),
    )
    discount_code_save(business=shop.business, code="ONCE", kind="percent", value=5, max_uses=1)
    with pytest.raises(InvalidInput, match="has expired"):
        quote_build(business=shop.business, items=[shop.book()], discount_code="OLD")
    order_place(
        business=shop.business,
        items=[shop.book()],
        email="a@example.com",
        name="A",
        discount_code="ONCE",
    )
    with pytest.raises(InvalidInput, match="used up"):
        quote_build(business=shop.business, items=[shop.book()], discount_code="ONCE")


def test_the_sweep_expires_lapsed_checkouts_and_frees_the_code(shop: Shop) -> None:
    discount_code_save(business=shop.business, code="ONCE", kind="percent", value=5, max_uses=1)
    order = order_place(
        business=shop.business,
        items=[shop.ticket(3)],
        email="a@example.com",
        name="A",
        discount_code="ONCE",
    )
    assert orders_expire_due() == 0
    assert orders_expire_due(now=timezone.now() + timedelta(minutes=16)) == 1
    order.refresh_from_db()
    assert order.state == OrderState.EXPIRED
    assert order.lines.get().capacity_state == CapacityState.RELEASED
    from tillbook.catalog.models import DiscountCode

    assert DiscountCode.objects.get(code="ONCE").times_used == 0
    assert order_expire(order=order).state == OrderState.EXPIRED  # twice: no change


def test_refund_policy_refunds_a_payment_without_place(
    shop: Shop, django_capture_on_commit_callbacks: Any, run_tasks: Callable[[], int]
) -> None:
    shop_settings_save(business=shop.business, actor=None, data={"oversold_policy": "refund"})
    late = order_place(
        business=shop.business, items=[shop.ticket(10)], email="late@example.com", name="Late"
    )
    assert late.payment_request is not None
    payment = payment_start(
        request=late.payment_request, provider="sandbox", return_url="https://x.test/"
    ).payment
    past = timezone.now() - timedelta(seconds=1)
    OrderLine.objects.filter(order=late).update(reserved_until=past)
    Order.objects.filter(pk=late.pk).update(reserved_until=past)
    order_place(business=shop.business, items=[shop.ticket(10)], email="b@example.com", name="B")
    with django_capture_on_commit_callbacks(execute=True):
        sandbox_succeed(payment)
    run_tasks()
    late.refresh_from_db()
    assert (late.state, late.refunded_total, late.capacity_shortfall) == (
        OrderState.REFUNDED,
        40000,
        True,
    )
    assert late.shortfall_resolved_at is not None
    refund = Refund.objects.get()
    assert (refund.amount, refund.releases_capacity) == (40000, False)
    assert (
        OutboxMessage.objects.filter(template="payment_refund", to_email="late@example.com").count()
        == 1
    )


def test_free_orders_are_fulfilled_without_a_payment(shop: Shop) -> None:
    shop.ebook.price = 0
    shop.ebook.save()
    order = order_place(
        business=shop.business,
        items=[CartItem(shop.ebook.pk, 1)],
        email="free@example.com",
        name="Free",
    )
    assert (order.state, order.payment_request_id) == (OrderState.FULFILLED, None)
    assert order.download_grants.count() == 1


def test_a_cart_listing_one_item_twice_is_held_to_100_of_it_in_all(shop: Shop) -> None:
    import pytest

    from tillbook.core.errors import InvalidInput

    shop.workshop.max_per_order = 1000
    shop.workshop.save()
    shop.quota.size = None
    shop.quota.save()
    with pytest.raises(InvalidInput) as refused:
        quote_build(business=shop.business, items=[shop.ticket(100), shop.ticket(100)])
    assert refused.value.message == "At most 100 of one item per order."
    assert Order.objects.count() == 0
    # 100 in two lines is still fine: one line of 100, as if listed once.
    quote = quote_build(business=shop.business, items=[shop.ticket(60), shop.ticket(40)])
    assert [line.quantity for line in quote.lines] == [100]


def test_a_withdrawn_option_is_named_as_no_longer_on_sale_not_as_a_missing_choice(
    shop: Shop,
) -> None:
    import pytest

    from tillbook.core.errors import InvalidInput

    shop.regular.is_active = False
    shop.regular.save()
    shop.shirt_medium.is_active = False
    shop.shirt_medium.save()
    with pytest.raises(InvalidInput) as ticket:
        quote_build(business=shop.business, items=[shop.ticket(1)])
    assert (
        ticket.value.message == "The ticket “Regular” for “Pricing Workshop” is no longer on sale."
    )
    with pytest.raises(InvalidInput) as variant:
        quote_build(business=shop.business, items=[shop.shirt_item(1)])
    assert variant.value.message == "The option “Medium” of “Maple T-shirt” is no longer on sale."
    # No choice made at all: the buyer is still asked to choose.
    with pytest.raises(InvalidInput) as unchosen:
        quote_build(business=shop.business, items=[CartItem(shop.workshop.pk, 1)])
    assert unchosen.value.message == "Choose a ticket type for “Pricing Workshop”."
    with pytest.raises(InvalidInput) as unchosen:
        quote_build(business=shop.business, items=[CartItem(shop.shirt.pk, 1)])
    assert unchosen.value.message == "Choose an option of “Maple T-shirt”."
