"""The interleaving that oversold pretix (REFERENCE.md): a reservation turns into an order while
another buyer's availability check is between its reads.

pretix counted sold places and reserved places in separate statements and converted a
reservation into a sale without the quota lock. When the conversion lands between the two
counting statements, the converted place is in neither count and looks free: 2 orders for a
quota of 1. The negative control rebuilds exactly that (two-statement count, no locks) with
pause points and shows the oversell; Tillbook counts in one statement and converts under the
quota lock, so the same sequence of events still sells exactly the quota.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pytest
from django.db import connection
from django.db.models import QuerySet, Sum

from tillbook.core.hooks import installed_pause, pause_point
from tillbook.core.models import Business
from tillbook.core.scoping import business_scope
from tillbook.orders import capacity
from tillbook.orders.models import CapacityState, Order, OrderLine
from tillbook.orders.services import order_place
from tillbook.payments.models import Payment
from tillbook.payments.sandbox import sandbox_succeed
from tillbook.payments.services import payment_start

from ..orders.shop import Shop, build_shop
from .race import BARRIER_TIMEOUT, postgresql_only, race

pytestmark = [postgresql_only, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def one_seat(business: Business) -> tuple[Shop, Payment]:
    """A quota of 1, held by buyer A's unpaid (still valid) reservation, A at the processor."""
    with business_scope(business):
        shop = build_shop(business, places=1)
        order = order_place(business=business, items=[shop.ticket(1)], email="a@example.com",
                            name="A")  # fmt: skip
        assert order.payment_request is not None
        payment = payment_start(request=order.payment_request, provider="sandbox",
                                return_url="https://x.test/").payment  # fmt: skip
    return shop, payment


def _sold_or_reserved(business: Business) -> list[tuple[str, str]]:
    with business_scope(business):
        return sorted(
            OrderLine.objects.filter(capacity_state__in=["sold", "reserved"]).values_list(
                "order__email", "capacity_state"
            )
        )


def _buyer_b(shop: Shop) -> Order:
    with business_scope(shop.business):
        return order_place(business=shop.business, items=[shop.ticket(1)],
                           email="b@example.com", name="B")  # fmt: skip


def _buyer_a_pays(payment: Payment) -> bool:
    with business_scope(payment.business):
        return sandbox_succeed(payment).newly_succeeded


def pretix_style_held(quota_ids: Iterable[int], *, now: datetime) -> dict[int, int]:
    """How pretix 2026.8 counts: sold, then (another statement) reserved."""
    ids = sorted(set(quota_ids))

    def count(**condition: Any) -> dict[int, int]:
        rows = (OrderLine.objects.filter(quota_id__in=ids, **condition).order_by()
                .values("quota_id").annotate(n=Sum("quantity")))  # fmt: skip
        return {row["quota_id"]: row["n"] for row in rows}

    sold = count(capacity_state=CapacityState.SOLD)
    pause_point("capacity.between_reads")
    reserved = count(capacity_state=CapacityState.RESERVED, reserved_until__gt=now)
    return {pk: sold.get(pk, 0) + reserved.get(pk, 0) for pk in ids}


def test_negative_control_pretix_counting_sells_two_of_one(
    one_seat: tuple[Shop, Payment], monkeypatch: pytest.MonkeyPatch
) -> None:
    shop, payment = one_seat
    monkeypatch.setattr(capacity, "quotas_held", pretix_style_held)
    monkeypatch.setattr(QuerySet, "select_for_update", lambda self, **kwargs: self)
    b_between_reads = threading.Event()
    a_converted = threading.Event()

    def hold_b() -> None:
        b_between_reads.set()
        assert a_converted.wait(BARRIER_TIMEOUT)

    def a_pays_while_b_is_between_reads() -> bool:
        assert b_between_reads.wait(BARRIER_TIMEOUT)
        try:
            return _buyer_a_pays(payment)
        finally:
            a_converted.set()

    with installed_pause("capacity.between_reads", hold_b):
        b, a = race(lambda: _buyer_b(shop), a_pays_while_b_is_between_reads)

    assert (a.error, b.error) == (None, None)
    assert _sold_or_reserved(shop.business) == [
        ("a@example.com", "sold"), ("b@example.com", "reserved"),
    ]  # fmt: skip  # two places for a quota of one


def _wait_until_someone_waits_for_a_lock(timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            # Activity statistics are a snapshot kept for the whole transaction (this runs
            # inside buyer B's); clear it so each poll sees the present.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("buyer A never waited for the quota lock")


def test_the_same_interleaving_sells_exactly_the_quota(one_seat: tuple[Shop, Payment]) -> None:
    shop, payment = one_seat
    b_locked = threading.Event()

    def hold_b() -> None:
        # B holds the quota lock and has not counted yet; A now tries to convert its
        # reservation. A must wait for the lock (checked in pg_stat_activity) instead of
        # changing what B is about to count.
        b_locked.set()
        _wait_until_someone_waits_for_a_lock()

    def a_pays_while_b_counts() -> bool:
        assert b_locked.wait(BARRIER_TIMEOUT)
        return _buyer_a_pays(payment)

    with installed_pause("order_place.locked", hold_b):
        b, a = race(lambda: _buyer_b(shop), a_pays_while_b_counts)

    assert a.error is None and a.result is True
    assert (
        getattr(b.error, "message", "") == "Sold out: Pricing Workshop (Regular) — none are left."
    )
    assert _sold_or_reserved(shop.business) == [("a@example.com", "sold")]


def test_one_statement_count_alone_is_immune_to_the_interleaving(
    one_seat: tuple[Shop, Payment], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even with every lock off, counting sold and reserved in one statement sees A's place
    once, whichever side of the conversion the statement's snapshot falls on."""
    shop, payment = one_seat
    monkeypatch.setattr(QuerySet, "select_for_update", lambda self, **kwargs: self)
    b_locked = threading.Event()
    a_converted = threading.Event()

    def hold_b() -> None:
        b_locked.set()
        assert a_converted.wait(BARRIER_TIMEOUT)

    def a_pays() -> bool:
        assert b_locked.wait(BARRIER_TIMEOUT)
        try:
            return _buyer_a_pays(payment)
        finally:
            a_converted.set()

    with installed_pause("order_place.locked", hold_b):
        b, a = race(lambda: _buyer_b(shop), a_pays)

    assert a.error is None
    assert "Sold out" in getattr(b.error, "message", "")
    assert _sold_or_reserved(shop.business) == [("a@example.com", "sold")]
