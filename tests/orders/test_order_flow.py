from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tillbook.core.errors import Conflict, InvalidInput, NotFound
from tillbook.core.money import Money
from tillbook.messaging.models import OutboxMessage
from tillbook.orders.fulfilment import download_take, order_refund
from tillbook.orders.models import (
    CapacityState,
    DownloadGrant,
    ImmutableLine,
    Order,
    OrderLine,
    OrderState,
    Ticket,
)
from tillbook.orders.pricing import CartItem
from tillbook.orders.services import order_cancel, order_expire, order_place
from tillbook.payments.models import Payment, PaymentRequest, RequestState
from tillbook.payments.sandbox import sandbox_succeed
from tillbook.payments.services import payment_start

from .shop import Shop


def place(shop: Shop, items: list[Any], **extra: Any) -> Order:
    arguments: dict[str, Any] = {"email": "ann@example.com", "name": "Ann Buyer", **extra}
    return order_place(business=shop.business, items=items, **arguments)


def pay(order: Order) -> None:
    assert order.payment_request is not None
    started = payment_start(
        request=order.payment_request, provider="sandbox", return_url="https://x.test/"
    )
    sandbox_succeed(started.payment)


def expire_and_sell_its_places_to_bob(shop: Shop, order: Order) -> None:
    """The order's reservation runs out and it expires; then Bob buys 10 tickets, its places."""
    Order.objects.filter(pk=order.pk).update(reserved_until=timezone.now() - timedelta(seconds=1))
    OrderLine.objects.filter(order=order).update(
        reserved_until=timezone.now() - timedelta(seconds=1)
    )
    order_expire(order=order)
    place(shop, [shop.ticket(10)], email="bob@example.com", name="Bob")


def test_placing_an_order_snapshots_lines_and_reserves_places(shop: Shop) -> None:
    order = place(shop, [shop.ticket(2), shop.book()])
    assert (order.number, order.state, order.total, order.currency) == (
        1001,
        "pending",
        9900,
        "USD",
    )
    lines = list(order.lines.order_by("pk"))
    assert [(x.title, x.variant_name, x.unit_price, x.quantity, x.total) for x in lines] == [
        ("Pricing Workshop", "Regular", 4000, 2, 8000),
        ("Pricing Workbook", "", 1900, 1, 1900),
    ]
    assert [x.capacity_state for x in lines] == [CapacityState.RESERVED, CapacityState.NONE]
    request = PaymentRequest.objects.get()
    assert (request.purpose, request.purpose_id, request.amount) == ("order", str(order.pk), 9900)
    assert request.expires_at == order.reserved_until
    assert order.customer is not None and order.customer.email == "ann@example.com"
    assert place(shop, [shop.book()]).number == 1002


def test_paying_fulfils_once_with_tickets_grants_and_one_receipt(
    shop: Shop, django_capture_on_commit_callbacks: Any, run_tasks: Callable[[], int]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        order = place(shop, [shop.ticket(2), shop.book(), CartItem(shop.course.pk, 1)])
        pay(order)
    order.refresh_from_db()
    assert order.state == OrderState.FULFILLED
    assert Ticket.objects.filter(order=order).count() == 2
    assert DownloadGrant.objects.get(order=order).max_downloads == 2
    assert list(order.lines.values_list("capacity_state", flat=True).order_by("pk")) == [
        "sold",
        "none",
        "none",
    ]
    receipts = OutboxMessage.objects.filter(template="order_receipt")
    assert [(m.to_email, m.dedupe_key) for m in receipts] == [
        ("ann@example.com", f"receipt:order:{order.pk}")
    ]
    assert "Your order page" in receipts[0].body_text
    assert receipts[0].body_html.startswith("<!doctype html>")
    assert PaymentRequest.objects.get().state == RequestState.PAID


def test_sold_out_refuses_and_writes_nothing(shop: Shop) -> None:
    place(shop, [shop.ticket(8)])
    before = (Order.objects.count(), OrderLine.objects.count(), PaymentRequest.objects.count())
    with pytest.raises(Conflict) as error:
        place(shop, [shop.ticket(2), shop.ticket(1, student=True)])
    assert error.value.message == (
        "Sold out: Pricing Workshop (Regular), Pricing Workshop (Student) — only 2 left."
    )
    assert (
        Order.objects.count(),
        OrderLine.objects.count(),
        PaymentRequest.objects.count(),
    ) == before


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        (0, "Quantities must be at least 1."),
        (-3, "Quantities must be at least 1."),
        (10**9, "At most 100 of one item per order."),
        (11, "At most 10 of “Pricing Workshop” per order."),
    ],
)
def test_bad_quantities_are_refused(shop: Shop, quantity: int, message: str) -> None:
    with pytest.raises(InvalidInput) as error:
        place(shop, [shop.ticket(quantity)])
    assert error.value.message == message
    assert Order.objects.count() == 0


def test_the_limit_per_order_counts_every_ticket_type_of_the_offering(shop: Shop) -> None:
    shop.workshop.max_per_order = 4
    shop.workshop.save()
    before = (Order.objects.count(), OrderLine.objects.count(), PaymentRequest.objects.count())
    with pytest.raises(InvalidInput) as error:
        place(shop, [shop.ticket(3), shop.ticket(2, student=True)])
    assert error.value.message == "At most 4 of “Pricing Workshop” per order."
    assert (
        Order.objects.count(),
        OrderLine.objects.count(),
        PaymentRequest.objects.count(),
    ) == before
    assert place(shop, [shop.ticket(2), shop.ticket(2, student=True)]).total == 13000


def test_a_cancelled_order_can_no_longer_be_paid(shop: Shop, owner: Any) -> None:
    order = place(shop, [shop.ticket(2)])
    order_cancel(order=order, actor=owner, reason="Duplicate")
    assert order.payment_request is not None
    request = PaymentRequest.objects.get(pk=order.payment_request.pk)
    assert request.state == RequestState.CANCELLED
    with pytest.raises(Conflict) as error:
        payment_start(request=request, provider="sandbox", return_url="https://x.test/")
    assert error.value.message == "This payment request is no longer open."
    assert Payment.objects.count() == 0
    order.refresh_from_db()
    assert order.state == OrderState.CANCELLED
    assert Ticket.objects.filter(order=order).count() == 0


def test_another_currency_and_a_changed_total_are_refused(shop: Shop) -> None:
    with pytest.raises(InvalidInput) as error:
        place(shop, [shop.book()], currency="EUR")
    assert error.value.message == "Acme Coaching sells in USD, not EUR."
    with pytest.raises(Conflict) as conflict:
        place(shop, [shop.book()], expected_total=Money(100, "USD"))
    assert conflict.value.message.startswith("The total is now $19.00, not $1.00")
    assert Order.objects.count() == 0


def test_a_draft_offering_is_not_for_sale(shop: Shop) -> None:
    shop.ebook.state = "draft"
    shop.ebook.save()
    with pytest.raises(NotFound):
        place(shop, [shop.book()])


def test_expired_reservation_is_released_and_its_place_sold_again(shop: Shop) -> None:
    first = place(shop, [shop.ticket(10)])
    with pytest.raises(Conflict):
        place(shop, [shop.ticket(1)])
    later = timezone.now() + timedelta(minutes=16)
    # Capacity counting ignores a lapsed reservation even before the sweep runs.
    second = place(shop, [shop.ticket(10)], now=later)
    expired = order_expire(order=first, now=later)
    assert expired.state == OrderState.EXPIRED
    assert first.lines.get().capacity_state == CapacityState.RELEASED
    assert second.lines.get().capacity_state == CapacityState.RESERVED


def test_an_expired_order_closes_its_payment_request_as_expired(shop: Shop) -> None:
    order = place(shop, [shop.ticket(2)])
    assert order.payment_request is not None
    later = timezone.now() + timedelta(minutes=16)
    order_expire(order=order, now=later)
    request = PaymentRequest.objects.get(pk=order.payment_request.pk)
    assert request.state == RequestState.EXPIRED
    assert PaymentRequest.objects.filter(state=RequestState.OPEN).count() == 0
    with pytest.raises(Conflict) as error:
        payment_start(request=request, provider="sandbox", return_url="https://x.test/")
    assert error.value.message == "This payment request is no longer open."
    assert Payment.objects.count() == 0


def test_an_order_still_within_its_reservation_keeps_its_payment_request_open(
    shop: Shop,
) -> None:
    order = place(shop, [shop.ticket(2)])
    assert order.payment_request is not None
    assert order_expire(order=order).state == OrderState.PENDING
    request = PaymentRequest.objects.get(pk=order.payment_request.pk)
    assert request.state == RequestState.OPEN


def test_payment_after_the_place_was_sold_keeps_the_order_and_alerts(
    shop: Shop, django_capture_on_commit_callbacks: Any
) -> None:
    shop.business.contact_email = "owner@acme.test"
    shop.business.save()
    late = place(shop, [shop.ticket(10)])
    assert late.payment_request is not None
    started = payment_start(
        request=late.payment_request, provider="sandbox", return_url="https://x.test/"
    )
    # The reservation runs out while the buyer is on the processor's page; someone else buys.
    expire_and_sell_its_places_to_bob(shop, late)
    with django_capture_on_commit_callbacks(execute=True):
        sandbox_succeed(started.payment)
    late.refresh_from_db()
    assert (late.state, late.capacity_shortfall) == (OrderState.PAID, True)
    assert late.lines.get().capacity_state == CapacityState.SHORT
    assert Ticket.objects.filter(order=late).count() == 0
    assert OutboxMessage.objects.filter(template="order_shortfall").count() == 1


def test_refund_with_release_gives_the_places_back(
    shop: Shop, owner: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        order = place(shop, [shop.ticket(10)])
        pay(order)
        order_refund(
            order=order, amount=Money(40000, "USD"), reason="", actor=owner, releases_capacity=True
        )
    order.refresh_from_db()
    assert (order.state, order.refunded_total) == (OrderState.REFUNDED, 40000)
    assert order.lines.get().capacity_state == CapacityState.RELEASED
    assert not Ticket.objects.filter(order=order, is_valid=True).exists()
    assert place(shop, [shop.ticket(10)], email="bob@example.com").state == "pending"


def test_partial_refund_without_release_keeps_the_places(shop: Shop, owner: Any) -> None:
    order = place(shop, [shop.ticket(10)])
    pay(order)
    order_refund(
        order=order,
        amount=Money(1000, "USD"),
        reason="goodwill",
        actor=owner,
        releases_capacity=False,
    )
    order.refresh_from_db()
    assert order.state == OrderState.PARTIALLY_REFUNDED
    assert order.lines.get().capacity_state == CapacityState.SOLD
    with pytest.raises(Conflict):
        place(shop, [shop.ticket(1)])


def test_download_limit_is_enforced(shop: Shop) -> None:
    order = place(shop, [shop.book()])
    pay(order)
    grant = DownloadGrant.objects.get(order=order)
    download_take(grant=grant)
    download_take(grant=grant)
    with pytest.raises(Conflict) as error:
        download_take(grant=grant)
    assert error.value.message == "This file was already downloaded 2 times, the limit."
    grant.refresh_from_db()
    assert grant.downloads_used == 2


def test_order_lines_are_immutable(shop: Shop) -> None:
    line = place(shop, [shop.book()]).lines.get()
    line.unit_price = 1
    with pytest.raises(ImmutableLine):
        line.save()
    line.capacity_state = CapacityState.RELEASED
    line.save(update_fields=["capacity_state"])  # bookkeeping fields may change


def test_a_returning_buyer_who_ticks_the_marketing_box_consents(shop: Shop) -> None:
    """The box was read for new customers only: a returning buyer who ticked it stayed
    without consent. Not ticking it later withdraws nothing."""
    from tillbook.customers.models import ConsentSource, Customer

    place(shop, [shop.book()])
    customer = Customer.objects.get(email="ann@example.com")
    assert (customer.marketing_consent, customer.consent_source) == (False, "")
    place(shop, [shop.book()], email="Ann@Example.com", marketing_consent=True)
    customer.refresh_from_db()
    assert (customer.marketing_consent, customer.consent_source) == (True, ConsentSource.CHECKOUT)
    assert customer.consent_at is not None
    place(shop, [shop.book()], marketing_consent=False)
    customer.refresh_from_db()
    assert customer.marketing_consent is True
    assert Customer.objects.count() == 1


def test_the_receipt_of_a_payment_that_found_no_place_says_so_and_offers_no_tickets(
    shop: Shop, django_capture_on_commit_callbacks: Any
) -> None:
    """The buyer whose payment arrived after the last ticket was sold got the usual receipt,
    "Your tickets (show the QR code at the entrance)", for tickets that were never issued;
    only the order page said there was no place."""
    late = place(shop, [shop.ticket(10), shop.book()])
    assert late.payment_request is not None
    started = payment_start(
        request=late.payment_request, provider="sandbox", return_url="https://x.test/"
    )
    expire_and_sell_its_places_to_bob(shop, late)
    with django_capture_on_commit_callbacks(execute=True):
        sandbox_succeed(started.payment)
    ticket_line = late.lines.get(kind="ticket")
    receipt = OutboxMessage.objects.get(template="order_receipt")
    text = receipt.body_text
    assert "show the QR code" not in text and "Your tickets" not in receipt.body_html
    notice = (
        f"Your payment arrived after the last place was taken for: {ticket_line.quantity} × "
        f"{ticket_line.label}. {shop.business.name} has been told and will contact you."
    )
    assert notice in text
    assert notice in receipt.body_html.replace("&#x27;", "'")
    assert "Your downloads: https://" in text  # the book was delivered


def test_the_receipt_says_the_discount_is_already_in_the_line_amounts(
    shop: Shop, django_capture_on_commit_callbacks: Any
) -> None:
    """The lines are what the buyer pays for them, discount taken off; a bare "Discount −$9.90"
    under them read as taken off a second time (the lines then did not add up to the total)."""
    from tillbook.catalog.services import discount_code_save

    discount_code_save(business=shop.business, code="TENOFF", kind="percent", value=10)
    order = place(shop, [shop.ticket(2), shop.book()], discount_code="TENOFF")
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
    receipt = OutboxMessage.objects.get(template="order_receipt")
    lines = [line for line in receipt.body_text.splitlines() if ": $" in line or "−" in line]
    assert lines == [
        "2 × Pricing Workshop — Regular: $72.00",
        "1 × Pricing Workbook: $17.10",
        "Discount (included above): −$9.90",
        "Total: $89.10",
    ]
    assert "<td>Discount (included above)</td>" in receipt.body_html
