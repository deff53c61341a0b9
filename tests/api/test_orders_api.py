"""/api/v1/offerings and /api/v1/checkouts: a client lists what is for sale, creates a checkout,
gets its payment URL, and reads the order once paid."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tillbook.core.models import Business
from tillbook.core.money import Money
from tillbook.core.scoping import business_scope
from tillbook.orders.fulfilment import order_refund
from tillbook.orders.models import Order
from tillbook.orders.services import order_place
from tillbook.payments.models import Payment
from tillbook.payments.sandbox import sandbox_succeed
from tillbook.payments.services import payment_start

from ..access import database_fingerprint
from ..orders.shop import Shop, build_shop


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def shop(business: Business) -> Shop:
    with business_scope(business):
        return build_shop(business, places=3)


def post(api: Client, path: str, body: Any) -> Any:
    return api.post(path, json.dumps(body), content_type="application/json")


def test_list_and_read_offerings_with_availability(api: Client, shop: Shop) -> None:
    listing = api.get("/api/v1/offerings?kind=ticket").json()
    assert listing["count"] == 1
    detail = api.get(f"/api/v1/offerings/{shop.workshop.pk}").json()
    assert [(t["name"], t["price"], t["available"]) for t in detail["ticket_types"]] == [
        ("Regular", 4000, 3),
        ("Student", 2500, 3),
    ]
    assert detail["event"]["venue_name"] == "Maple Studio"
    assert detail["url"] == "https://shop.example.test/acme/p/pricing-workshop/"


def test_create_an_offering_sanitises_its_description(api: Client, shop: Shop) -> None:
    created = post(
        api,
        "/api/v1/offerings",
        {
            "kind": "download",
            "title": "Guide",
            "price": 500,
            "state": "published",
            "description": "<p>Hi<img src=x onerror=alert(1)></p>",
        },
    )
    assert created.status_code == 201
    assert created.json()["description"] == '<p>Hi<img src="x"></p>'
    assert created.json()["slug"] == "guide"


def test_checkout_gives_a_payment_url_and_the_order_reads_paid(api: Client, shop: Shop) -> None:
    response = post(
        api,
        "/api/v1/checkouts",
        {
            "items": [
                {"offering_id": shop.workshop.pk, "ticket_type_id": shop.regular.pk, "quantity": 2}
            ],
            "email": "ann@example.com",
            "name": "Ann",
            "expected_total": 8000,
            "provider": "sandbox",
            "attribution": {"latest": {"utm_source": "partner", "utm_campaign": "May"}},
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["payment_url"].startswith("https://shop.example.test/pay/")
    assert body["checkout_url"].startswith("https://shop.example.test/sandbox-pay/")
    order = body["order"]
    assert (order["number"], order["state"], order["total"]) == (1001, "pending", 8000)
    assert order["lines"][0]["capacity"] == "reserved"
    assert order["utm_campaign"] == "May"
    with business_scope(shop.business):
        sandbox_succeed(Payment.objects.get())
    paid = api.get(f"/api/v1/orders/{order['id']}").json()
    assert (paid["state"], paid["payment_url"], paid["lines"][0]["capacity"]) == (
        "fulfilled",
        "",
        "sold",
    )


@pytest.mark.parametrize("search", ["²", "#¹²"])
def test_an_order_search_with_digits_that_are_not_ascii_finds_nothing_instead_of_failing(
    api: Client, shop: Shop, search: str
) -> None:
    placed = post(
        api,
        "/api/v1/checkouts",
        {
            "items": [{"offering_id": shop.ebook.pk, "quantity": 1}],
            "email": "ann@example.com",
            "name": "Ann",
        },
    )
    assert placed.json()["order"]["number"] == 1001
    response = api.get("/api/v1/orders", {"search": search})
    assert response.status_code == 200
    assert response.json() == {"count": 0, "items": []}
    assert api.get("/api/v1/orders", {"search": "#1001"}).json()["count"] == 1


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"currency": "EUR"}, 400, "Acme Coaching sells in USD, not EUR."),
        ({"expected_total": 1}, 409, "The total is now $40.00, not $0.01"),
        (
            {"items": [{"offering_id": 999999, "quantity": 1}]},
            404,
            "One of the items in your cart is no longer for sale.",
        ),
        ({"quantity": 4}, 409, "Sold out: Pricing Workshop (Regular) — only 3 left."),
    ],
)
def test_bad_checkouts_change_nothing(
    api: Client, shop: Shop, body: dict[str, Any], status: int, detail: str
) -> None:
    item = {
        "offering_id": shop.workshop.pk,
        "ticket_type_id": shop.regular.pk,
        "quantity": body.pop("quantity", 1),
    }
    request = {"items": [item], "email": "ann@example.com", "name": "Ann", **body}
    before = database_fingerprint()
    response = post(api, "/api/v1/checkouts", request)
    assert response.status_code == status
    assert response.json()["detail"].startswith(detail)
    assert database_fingerprint() == before


@pytest.mark.parametrize(
    ("provider", "detail"),
    [
        ("nope", "'nope' is not a payment provider Tillbook knows."),
        ("stripe", "Card (Stripe) is not switched on for Acme Coaching."),
        ("manual", "Cash or bank transfer is paid outside Tillbook: follow the instructions."),
    ],
)
def test_a_checkout_with_a_provider_it_cannot_start_places_no_order(
    api: Client, shop: Shop, provider: str, detail: str
) -> None:
    before = database_fingerprint()
    response = post(
        api,
        "/api/v1/checkouts",
        {
            "items": [
                {"offering_id": shop.workshop.pk, "ticket_type_id": shop.regular.pk, "quantity": 1}
            ],
            "email": "ann@example.com",
            "name": "Ann",
            "provider": provider,
        },
    )
    assert response.status_code == 400
    assert response.json()["detail"] == detail
    assert database_fingerprint() == before


@pytest.mark.parametrize("quantity", [0, -1, 101, 10**20])
def test_out_of_range_quantities_are_422(api: Client, shop: Shop, quantity: int) -> None:
    response = post(
        api,
        "/api/v1/checkouts",
        {
            "items": [{"offering_id": shop.ebook.pk, "quantity": quantity}],
            "email": "ann@example.com",
            "name": "Ann",
        },
    )
    assert response.status_code == 422
    with business_scope(shop.business):
        assert Order.objects.count() == 0


def test_a_read_only_token_cannot_check_out(
    client: Client, shop: Shop, make_token: Callable[..., str]
) -> None:
    token = make_token(shop.business, scopes=["catalog:read", "orders:read"])
    response = client.post(
        "/api/v1/checkouts",
        json.dumps(
            {
                "items": [{"offering_id": shop.ebook.pk, "quantity": 1}],
                "email": "ann@example.com",
                "name": "Ann",
            }
        ),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "This token does not have the orders:write scope."


def test_the_same_item_listed_twice_counts_together_against_the_limit_of_100(
    api: Client, shop: Shop
) -> None:
    """Two lines of 100 Regular tickets are 200 of one item, over the limit of 100 per item,
    even when the workshop allows more per order and has the places."""
    with business_scope(shop.business):
        shop.workshop.max_per_order = 1000
        shop.workshop.save()
        shop.quota.size = None
        shop.quota.save()
    item = {"offering_id": shop.workshop.pk, "ticket_type_id": shop.regular.pk, "quantity": 100}
    before = database_fingerprint()
    response = post(
        api,
        "/api/v1/checkouts",
        {"items": [item, item], "email": "ann@example.com", "name": "Ann"},
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "At most 100 of one item per order."
    assert database_fingerprint() == before


def test_an_order_read_says_how_many_places_of_a_line_a_part_refund_gave_back(
    api: Client, shop: Shop, owner: Any
) -> None:
    """A part refund that releases keeps the line "sold" with fewer places held: without the
    count, the API read three places sold where two are held."""
    with business_scope(shop.business):
        order = order_place(
            business=shop.business, items=[shop.ticket(3)], email="ann@example.com", name="Ann"
        )
        assert order.payment_request is not None
        started = payment_start(
            request=order.payment_request, provider="sandbox", return_url="https://x.test/"
        )
        sandbox_succeed(started.payment)
        order_refund(
            order=order, amount=Money(4000, "USD"), reason="", actor=owner, releases_capacity=True
        )
    line = api.get(f"/api/v1/orders/{order.pk}").json()["lines"][0]
    assert (line["quantity"], line["capacity"], line["released"]) == (3, "sold", 1)
