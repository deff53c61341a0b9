"""The web checkout a buyer uses, request by request, with the sandbox processor."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tillbook.core.scoping import business_scope
from tillbook.customers.models import Customer
from tillbook.messaging.models import OutboxMessage
from tillbook.orders.models import Order, OrderLine, OrderState, Ticket
from tillbook.payments.models import Payment, PaymentRequest

from ..access import database_fingerprint
from ..orders.shop import FILE_BYTES, Shop

BUYER = {"email": "ann@example.com", "name": "Ann Buyer"}


def add(client: Client, shop: Shop, **fields: Any) -> Any:
    return client.post("/acme/cart/add/", fields)


def checkout(client: Client, **fields: Any) -> Any:
    page = client.get("/acme/checkout/").content.decode()
    total = re.search(r'name="expected_total" value="([^"]*)"', page)
    assert total, page
    data = {**BUYER, "expected_total": total.group(1), "provider": "sandbox", **fields}
    return client.post("/acme/checkout/", data)


def test_buy_a_ticket_and_a_download_pay_and_download(
    client: Client,
    shop: Shop,
    django_capture_on_commit_callbacks: Any,
    run_tasks: Callable[[], int],
) -> None:
    assert (
        add(client, shop, offering=shop.workshop.pk, **{f"qty_ticket_{shop.regular.pk}": "2"})[
            "Location"
        ]
        == "/acme/cart/"
    )
    add(client, shop, offering=shop.ebook.pk, quantity="1")
    cart = client.get("/acme/cart/").content.decode()
    assert "$99.00" in cart  # 2 × 40.00 + 19.00
    response = checkout(client)
    sandbox = response["Location"]
    assert sandbox.startswith("https://shop.example.test/sandbox-pay/")
    path = sandbox.removeprefix("https://shop.example.test")
    assert "Test mode" in client.get(path).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        back = client.post(path, {"outcome": "succeed"})
    run_tasks()
    order = Order.objects.get()
    assert back["Location"].startswith(f"https://shop.example.test/acme/orders/{order.pk}.")
    order_path = back["Location"].removeprefix("https://shop.example.test")
    page = client.get(order_path)
    html = page.content.decode()
    assert page["Cache-Control"] == "private, no-store"
    assert "Thank you — paid" in html
    assert html.count("<svg") == 2  # one QR code per ticket
    receipt = OutboxMessage.objects.get(template="order_receipt")
    assert f"https://shop.example.test{order_path}" in receipt.body_text
    link = re.search(r'href="(/acme/orders/[^"]+/downloads/[^"]+)"', html)
    assert link
    download = client.get(link.group(1))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == FILE_BYTES  # type: ignore[attr-defined]
    assert client.get(link.group(1)).status_code == 200
    past_limit = client.get(link.group(1))
    assert past_limit.status_code == 410
    assert "already downloaded 2 times, the limit" in past_limit.content.decode()
    assert Ticket.objects.filter(order=order).count() == 2
    assert client.get("/acme/cart/").content.decode().count("Your cart is empty") == 1


def test_order_page_needs_the_exact_secret(client: Client, shop: Shop) -> None:
    add(client, shop, offering=shop.ebook.pk, quantity="1")
    checkout(client, provider="")
    order = Order.objects.get()
    assert (
        client.get(f"/acme/orders/{order.pk}.0123456789abcdef0123456789abcdef/").status_code == 404
    )
    assert client.get(f"/acme/orders/{order.pk}/").status_code == 404
    assert client.get("/acme/orders/x/").status_code == 404


def test_tampered_expected_total_changes_nothing(client: Client, shop: Shop) -> None:
    add(client, shop, offering=shop.ebook.pk, quantity="1")
    before = database_fingerprint()
    response = client.post(
        "/acme/checkout/", {**BUYER, "expected_total": "0.01", "provider": "sandbox"}
    )
    assert response.status_code == 409
    assert "The total is now $19.00, not $0.01" in response.content.decode()
    after = database_fingerprint()
    after.pop("sessions.session", None), before.pop("sessions.session", None)
    assert after == before
    missing = client.post("/acme/checkout/", {**BUYER, "provider": "sandbox"})
    assert missing.status_code == 400
    assert Order.objects.count() == 0


def test_bad_quantities_are_refused_with_a_message(client: Client, shop: Shop) -> None:
    cases = [
        ("-1", 400, "at least 1"),
        ("0", 400, "Choose how many"),
        ("1000000000000", 400, "At most 100"),
        ("abc", 400, "whole numbers"),
        ("11", 400, "At most 10 of"),
    ]
    for quantity, status, message in cases:
        response = add(
            client, shop, offering=shop.workshop.pk, **{f"qty_ticket_{shop.regular.pk}": quantity}
        )
        assert response.status_code == status, quantity
        assert message in response.content.decode(), quantity
    assert add(client, shop, offering=999999, quantity="1").status_code == 404
    assert client.get("/acme/cart/").content.decode().count("Your cart is empty") == 1


def test_a_ticket_type_of_another_event_is_refused(client: Client, shop: Shop) -> None:
    response = add(client, shop, offering=shop.ebook.pk, **{f"qty_ticket_{shop.regular.pk}": "1"})
    assert response.status_code == 400
    assert "has no options to choose" in response.content.decode()


def test_an_expired_checkout_cannot_be_paid(client: Client, shop: Shop) -> None:
    add(client, shop, offering=shop.workshop.pk, **{f"qty_ticket_{shop.regular.pk}": "1"})
    checkout(client, provider="")
    order = Order.objects.get()
    past = timezone.now() - timedelta(minutes=1)
    PaymentRequest.objects.filter(pk=order.payment_request_id).update(expires_at=past)
    Order.objects.filter(pk=order.pk).update(reserved_until=past)
    OrderLine.objects.filter(order=order).update(reserved_until=past)
    request = PaymentRequest.objects.get()
    response = client.post(f"/pay/{request.token}/", {"provider": "sandbox"})
    assert response.status_code == 410
    assert "expired" in response.content.decode()
    assert Payment.objects.count() == 0


def test_shipping_needs_an_address_unless_picked_up(client: Client, shop: Shop) -> None:
    add(client, shop, offering=shop.shirt.pk, **{f"qty_variant_{shop.shirt_medium.pk}": "1"})
    from tillbook.catalog.models import ShippingRate

    with business_scope(shop.business):
        standard = ShippingRate.objects.get(name="US standard").pk
        pickup = ShippingRate.objects.get(is_pickup=True).pk
    no_address = checkout(client, shipping_rate=str(standard), provider="")
    assert no_address.status_code == 400
    assert "Enter the shipping address" in no_address.content.decode()
    shipped = checkout(
        client,
        shipping_rate=str(standard),
        provider="",
        address_line1="1 Main St",
        address_city="Chicago",
        address_postal_code="60601",
        address_country="us",
    )
    assert shipped.status_code == 302
    order = Order.objects.get()
    assert (order.total, order.shipping_total, order.shipping_address["country"]) == (
        3000,
        500,
        "US",
    )
    add(client, shop, offering=shop.shirt.pk, **{f"qty_variant_{shop.shirt_medium.pk}": "1"})
    picked = checkout(client, shipping_rate=str(pickup), provider="", email="bo@example.com")
    assert picked.status_code == 302
    assert Order.objects.filter(is_pickup=True, shipping_address={}).count() == 1


def test_digital_orders_never_ask_for_an_address(client: Client, shop: Shop) -> None:
    add(client, shop, offering=shop.ebook.pk, quantity="1")
    page = client.get("/acme/checkout/").content.decode()
    assert "address_line1" not in page
    assert checkout(client, provider="").status_code == 302
    assert Customer.objects.filter(email="ann@example.com").exists()
    assert Order.objects.get().state == OrderState.PENDING


def test_a_paid_course_opens_from_the_order_page(client: Client, shop: Shop) -> None:
    from tillbook.orders.links import order_token
    from tillbook.payments.sandbox import sandbox_succeed
    from tillbook.payments.services import payment_start

    add(client, shop, offering=shop.course.pk, quantity="1")
    checkout(client, provider="")
    order = Order.objects.get()
    base = f"/acme/orders/{order_token(order)}/"
    line = order.lines.get()
    assert client.get(f"{base}courses/{line.pk}/").status_code == 404  # not paid yet
    assert order.payment_request is not None
    sandbox_succeed(
        payment_start(
            request=order.payment_request, provider="sandbox", return_url="https://x.test/"
        ).payment
    )
    assert "Open “Coaching 101”" in client.get(base).content.decode()
    lesson = client.get(f"{base}courses/{line.pk}/").content.decode()
    assert "<strong>there</strong>" in lesson and "<script>" not in lesson
    assert "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ" in lesson
    assert client.get(f"/acme/orders/{order.pk}.forged/courses/{line.pk}/").status_code == 404
    # A token with a character beyond ASCII is as wrong (it was a server error).
    assert client.get(f"/acme/orders/{order.pk}.caf%C3%A9/").status_code == 404


def test_a_refused_shipping_option_shows_the_form_again_and_changes_nothing(
    client: Client, shop: Shop
) -> None:
    from tillbook.catalog.models import ShippingRate

    with business_scope(shop.business):
        standard = ShippingRate.objects.get(name="US standard").pk
    add(client, shop, offering=shop.shirt.pk, **{f"qty_variant_{shop.shirt_medium.pk}": "1"})
    page = client.get("/acme/checkout/").content.decode()
    total = re.search(r'name="expected_total" value="([^"]*)"', page)
    assert total
    before = database_fingerprint()
    abroad = client.post(
        "/acme/checkout/",
        {
            **BUYER,
            "expected_total": total.group(1),
            "shipping_rate": str(standard),
            "provider": "",
            "address_line1": "1 King St W",
            "address_city": "Toronto",
            "address_postal_code": "M5H 1A1",
            "address_country": "CA",
        },
    )
    assert abroad.status_code == 400
    html = abroad.content.decode()
    assert "Choose a shipping option that delivers to your country." in html
    assert 'name="expected_total" value="25.00"' in html  # the form is there to choose again
    assert 'value="Toronto"' in html
    # A code that does not exist and a shipping option that no longer does: both refused on
    # the form, not a server error.
    both = client.post(
        "/acme/checkout/",
        {"action": "apply", "discount_code": "NOPE", "shipping_rate": "999999"},
    )
    assert both.status_code == 400
    # Both said at once, not the second only after the buyer mended the first.
    assert "The discount code NOPE is not valid." in both.content.decode()
    assert "Choose a shipping option that delivers to your country." in both.content.decode()
    assert 'name="expected_total" value="25.00"' in both.content.decode()
    after = database_fingerprint()
    after.pop("sessions.session", None), before.pop("sessions.session", None)
    assert after == before


def test_a_country_typed_with_a_space_or_in_lower_case_ships(client: Client, shop: Shop) -> None:
    from tillbook.catalog.models import ShippingRate

    with business_scope(shop.business):
        standard = ShippingRate.objects.get(name="US standard").pk
    add(client, shop, offering=shop.shirt.pk, **{f"qty_variant_{shop.shirt_medium.pk}": "1"})
    response = checkout(
        client,
        shipping_rate=str(standard),
        provider="",
        address_line1="1 Main St",
        address_city="Chicago",
        address_postal_code="60601",
        address_country=" us ",
    )
    assert response.status_code == 302
    order = Order.objects.get()
    assert (order.total, order.shipping_total, order.shipping_address["country"]) == (
        3000,
        500,
        "US",
    )


def test_an_offering_id_too_large_for_the_database_is_not_for_sale(
    client: Client, shop: Shop
) -> None:
    before = database_fingerprint()
    response = add(client, shop, offering="9" * 30, quantity="1")
    assert response.status_code == 404
    assert "One of the items in your cart is no longer for sale." in response.content.decode()
    assert client.get("/acme/cart/").content.decode().count("Your cart is empty") == 1
    after = database_fingerprint()
    after.pop("sessions.session", None), before.pop("sessions.session", None)
    assert after == before


def test_the_checkout_never_offers_to_pay_a_total_without_the_shipping_to_come(
    client: Client, shop: Shop
) -> None:
    add(client, shop, offering=shop.shirt.pk, **{f"qty_variant_{shop.shirt_medium.pk}": "1"})
    page = client.get("/acme/checkout/").content.decode()
    assert '<th>Total</th><th class="num">$25.00 + shipping</th>' in page
    assert "Pay $25.00" not in page
    assert "Pay (test payment)" in page


def _unpublish(shop: Shop) -> None:
    shop.workshop.state = "draft"
    shop.workshop.save()


def _deactivate_ticket_type(shop: Shop) -> None:
    shop.regular.is_active = False
    shop.regular.save()


def _start_event(shop: Shop) -> None:
    from tillbook.catalog.models import Event

    Event.objects.filter(offering=shop.workshop).update(
        starts_at=timezone.now() - timedelta(minutes=5)
    )


@pytest.mark.parametrize(
    ("make_unavailable", "problem"),
    [
        (_unpublish, "One of the items in your cart is no longer for sale."),
        (
            _deactivate_ticket_type,
            "The ticket “Regular” for “Pricing Workshop” is no longer on sale.",
        ),
        (_start_event, "“Pricing Workshop” has already started; tickets are closed."),
    ],
)
def test_an_item_no_longer_for_sale_is_removed_alone_and_the_rest_checks_out(
    client: Client, shop: Shop, make_unavailable: Callable[[Shop], None], problem: str
) -> None:
    add(client, shop, offering=shop.workshop.pk, **{f"qty_ticket_{shop.regular.pk}": "2"})
    add(client, shop, offering=shop.ebook.pk, quantity="1")
    make_unavailable(shop)

    cart = client.get("/acme/cart/")
    assert cart.status_code == 409
    html = cart.content.decode()
    assert f"{problem} Remove it from the cart." in html
    workshop = re.search(
        r'name="item" value="([^"]+)" aria-label="Remove Pricing Workshop — Regular"', html
    )
    assert workshop, html
    assert 'aria-label="Remove Pricing Workbook"' in html
    checkout_page = client.get("/acme/checkout/").content.decode()
    assert problem in checkout_page
    assert '<a class="button" href="/acme/cart/">Back to your cart</a>' in checkout_page

    # Without the form's CSRF token, or by GET, nothing is removed.
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = client.cookies
    assert strict.post("/acme/cart/remove/", {"item": workshop.group(1)}).status_code == 403
    assert client.get("/acme/cart/remove/").status_code == 405
    assert client.get("/acme/cart/").status_code == 409

    removed = client.post("/acme/cart/remove/", {"item": workshop.group(1)})
    assert removed.status_code == 302
    assert removed["Location"] == "/acme/cart/"
    cart = client.get("/acme/cart/")
    assert cart.status_code == 200
    html = cart.content.decode()
    assert "Pricing Workbook" in html and "Pricing Workshop" not in html
    assert '<span class="value">$19.00</span>' in html
    assert checkout(client, provider="").status_code == 302
    line = OrderLine.objects.get()
    assert (line.title, line.quantity, line.total) == ("Pricing Workbook", 1, 1900)
