"""A discount code and a quota locked in one order by every step that takes both.

Checkout took the code's row (its use limit) and then the quota; expiry and cancellation (and
a late payment of an expired order) lock the quota and then give the code's use back. An
unpaid checkout expiring while another buyer checks out with the same code for the same
tickets waited on each other in a cycle: PostgreSQL broke the deadlock by failing one of them
(the buyer was told to try again, or the sweep stopped).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from tillbook.catalog.models import DiscountCode
from tillbook.catalog.services import discount_code_save
from tillbook.core.hooks import installed_pause
from tillbook.core.models import Business
from tillbook.core.scoping import business_scope
from tillbook.orders.models import Order, OrderLine, OrderState
from tillbook.orders.services import order_expire, order_place

from ..orders.shop import Shop, build_shop
from .race import BARRIER_TIMEOUT, postgresql_only, race

pytestmark = [postgresql_only, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _wait_until_someone_waits_for_a_lock(timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    pytest.fail("the other checkout never waited for a lock")


def test_expiry_and_a_checkout_with_the_same_code_both_go_through(business: Business) -> None:
    with business_scope(business):
        shop: Shop = build_shop(business, places=10)
        discount_code_save(business=business, code="SPRING", kind="percent", value=10)
        lapsed = order_place(
            business=business,
            items=[shop.ticket(1)],
            email="a@example.com",
            name="A",
            discount_code="SPRING",
        )
        past = timezone.now() - timedelta(seconds=1)
        Order.objects.filter(pk=lapsed.pk).update(reserved_until=past)
        OrderLine.objects.filter(order=lapsed).update(reserved_until=past)

    expiry_holds_the_quota = threading.Event()

    def expiry_holds_the_quota_until_the_checkout_waits() -> None:
        if threading.current_thread().name == "racer-0":  # the expiry, not the checkout
            expiry_holds_the_quota.set()
            _wait_until_someone_waits_for_a_lock()

    def expire() -> Order:
        with business_scope(business):
            return order_expire(order=lapsed)

    def buy() -> Order:
        assert expiry_holds_the_quota.wait(BARRIER_TIMEOUT)
        with business_scope(business):
            return order_place(
                business=business,
                items=[shop.ticket(1)],
                email="b@example.com",
                name="B",
                discount_code="SPRING",
            )

    with installed_pause("capacity.locked", expiry_holds_the_quota_until_the_checkout_waits):
        expired, bought = race(expire, buy)

    assert (expired.error, bought.error) == (None, None)
    with business_scope(business):
        assert Order.objects.get(pk=lapsed.pk).state == OrderState.EXPIRED
        assert Order.objects.get(email="b@example.com").state == OrderState.PENDING
        assert DiscountCode.objects.get(code="SPRING").times_used == 1
