"""Capacity never oversells: 50 buyers race for a quota of 10 (and for stock of 10).

order_place locks the quota row, counts what is held in one statement and writes the order in
the same transaction. The negative controls switch row locking off (select_for_update becomes a
plain read) and hold every buyer right after its check, so all of them see the same free places
before any writes: the same race then sells more than there is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import QuerySet

from tillbook.core.errors import Conflict
from tillbook.core.hooks import installed_pause
from tillbook.core.models import Business
from tillbook.core.scoping import business_scope
from tillbook.orders.models import CapacityState, Order, OrderLine
from tillbook.orders.pricing import CartItem
from tillbook.orders.services import order_place

from ..orders.shop import Shop, build_shop
from .race import Outcome, postgresql_only, race

pytestmark = [postgresql_only, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BUYERS = 50
PLACES = 10


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def shop(business: Business) -> Shop:
    with business_scope(business):
        return build_shop(business, places=PLACES, stock=PLACES)


def _buyer(business: Business, item: CartItem, index: int) -> Callable[[], Order]:
    def buy() -> Order:
        with business_scope(business):
            return order_place(
                business=business, items=[item], email=f"buyer{index}@example.com",
                name=f"Buyer {index}",
                shipping_address={"line1": "1 Main St", "city": "Chicago",
                                  "postal_code": "60601", "country": "US"},
                shipping_rate_id=_rate(business) if item.variant_id else None,
            )  # fmt: skip

    return buy


def _rate(business: Business) -> int:
    from tillbook.catalog.models import ShippingRate

    return ShippingRate.objects.filter(business=business, is_pickup=False).values_list(
        "pk", flat=True
    )[0]


def _held(business: Business, quota_id: int) -> int:
    with business_scope(business):
        lines = OrderLine.objects.filter(quota_id=quota_id, capacity_state=CapacityState.RESERVED)
        return sum(lines.values_list("quantity", flat=True))


def _summary(outcomes: list[Outcome]) -> tuple[int, list[str]]:
    sold = sum(1 for outcome in outcomes if outcome.succeeded)
    errors = sorted({str(getattr(o.error, "message", o.error)) for o in outcomes if o.error})
    return sold, errors


def _race(shop: Shop, item: CartItem) -> list[Outcome]:
    # A tiny pause after the check widens the window in which an unlocked count would go stale.
    with installed_pause("order_place.checked", lambda: time.sleep(0.005)):
        return race(*(_buyer(shop.business, item, i) for i in range(BUYERS)), timeout=120)


def test_fifty_buyers_for_ten_seats_buy_exactly_ten(shop: Shop) -> None:
    sold, errors = _summary(_race(shop, shop.ticket(1)))
    assert sold == PLACES
    assert errors == ["Sold out: Pricing Workshop (Regular) — none are left."]
    assert _held(shop.business, shop.quota.pk) == PLACES


def test_fifty_buyers_for_ten_shirts_buy_exactly_ten(shop: Shop) -> None:
    sold, errors = _summary(_race(shop, shop.shirt_item(1)))
    assert sold == PLACES
    assert errors == ["Sold out: Maple T-shirt (Medium) — none are left."]
    quota_id = shop.shirt_medium.quota_id
    assert quota_id is not None
    assert _held(shop.business, quota_id) == PLACES


def _unlocked_race(shop: Shop, item: CartItem, monkeypatch: pytest.MonkeyPatch) -> list[Outcome]:
    monkeypatch.setattr(QuerySet, "select_for_update", lambda self, **kwargs: self)
    everyone_checked = threading.Barrier(BUYERS, timeout=60)
    with installed_pause("order_place.checked", everyone_checked.wait):
        return race(*(_buyer(shop.business, item, i) for i in range(BUYERS)), timeout=120)


def test_negative_control_without_the_lock_the_seats_are_oversold(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    sold, _ = _summary(_unlocked_race(shop, shop.ticket(1), monkeypatch))
    assert sold > PLACES
    assert _held(shop.business, shop.quota.pk) > PLACES


def test_negative_control_without_the_lock_the_stock_is_oversold(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    sold, _ = _summary(_unlocked_race(shop, shop.shirt_item(1), monkeypatch))
    assert sold > PLACES
    quota_id = shop.shirt_medium.quota_id
    assert quota_id is not None
    assert _held(shop.business, quota_id) > PLACES


def test_a_discount_code_limit_holds_under_the_same_race(shop: Shop) -> None:
    from tillbook.catalog.models import DiscountCode
    from tillbook.catalog.services import discount_code_save

    with business_scope(shop.business):
        discount_code_save(business=shop.business, code="FIRST3", kind="percent", value=10,
                           max_uses=3)  # fmt: skip

    def buyer(index: int) -> Callable[[], Order]:
        def buy() -> Order:
            with business_scope(shop.business):
                return order_place(business=shop.business, items=[shop.book()],
                                   email=f"d{index}@example.com", name="D",
                                   discount_code="FIRST3")  # fmt: skip

        return buy

    outcomes = race(*(buyer(i) for i in range(12)))
    sold, errors = _summary(outcomes)
    assert sold == 3
    assert all("used up" in error for error in errors), errors
    with business_scope(shop.business):
        assert DiscountCode.objects.get().times_used == 3
    assert all(isinstance(o.error, Conflict | Exception) for o in outcomes if o.error)
