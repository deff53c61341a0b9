from __future__ import annotations

import json
import re
from typing import Any

from django.test import Client

from tillbook.catalog.models import OfferingState
from tillbook.core.models import Business

from ..orders.shop import Shop


def test_business_page_lists_published_offerings_only(client: Client, shop: Shop) -> None:
    shop.course.state = OfferingState.HIDDEN
    shop.course.save()
    shop.shirt.state = OfferingState.DRAFT
    shop.shirt.save()
    page = client.get("/acme/").content.decode()
    assert "Pricing Workshop" in page and "Pricing Workbook" in page
    assert "Coaching 101" not in page and "Maple T-shirt" not in page
    # Hidden: reachable by its link, not indexed; draft: not reachable at all.
    hidden = client.get("/acme/p/coaching-101/")
    assert hidden.status_code == 200
    assert '<meta name="robots" content="noindex">' in hidden.content.decode()
    assert client.get("/acme/p/maple-t-shirt/").status_code == 404


def _json_ld(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert match
    return json.loads(match.group(1))


def test_event_page_has_meta_open_graph_and_event_json_ld(client: Client, shop: Shop) -> None:
    html = client.get("/acme/p/pricing-workshop/").content.decode()
    assert '<meta name="description" content="Half a day on pricing your services.">' in html
    assert '<meta property="og:title" content="Pricing Workshop">' in html
    assert (
        '<link rel="canonical" href="https://shop.example.test/acme/p/pricing-workshop/">' in html
    )
    data = _json_ld(html)
    assert data["@type"] == "Event"
    assert data["location"] == {
        "@type": "Place",
        "name": "Maple Studio",
        "address": "220 W Huron St, Chicago",
    }
    # Regular at the workshop's 40.00, Student at 25.00: the range, not the base price.
    assert (data["offers"]["@type"], data["offers"]["lowPrice"], data["offers"]["highPrice"]) == (
        "AggregateOffer",
        "25.00",
        "40.00",
    )
    assert data["offers"]["priceCurrency"] == "USD"
    assert data["offers"]["availability"] == "https://schema.org/InStock"
    assert data["startDate"].endswith(("-05:00", "-06:00"))  # Chicago's offset, DST-aware


def test_product_page_json_ld_says_sold_out(client: Client, shop: Shop) -> None:
    from tillbook.catalog.services import variant_save

    variant_save(offering=shop.shirt, variant=shop.shirt_medium, name="Medium", stock=0)
    html = client.get("/acme/p/maple-t-shirt/").content.decode()
    data = _json_ld(html)
    assert data["@type"] == "Product"
    assert data["offers"]["availability"] == "https://schema.org/SoldOut"
    assert "Sold out." in html


def test_sitemap_and_robots_per_business(client: Client, shop: Shop) -> None:
    sitemap = client.get("/acme/sitemap.xml")
    assert sitemap["Content-Type"] == "application/xml; charset=utf-8"
    locations = re.findall(r"<loc>(.*?)</loc>", sitemap.content.decode())
    assert locations == [
        "https://shop.example.test/acme/",
        "https://shop.example.test/acme/p/pricing-workshop/",
        "https://shop.example.test/acme/p/pricing-workbook/",
        "https://shop.example.test/acme/p/coaching-101/",
        "https://shop.example.test/acme/p/maple-t-shirt/",
    ]
    robots = client.get("/acme/robots.txt").content.decode()
    assert "Disallow: /acme/orders/" in robots
    assert "Sitemap: https://shop.example.test/acme/sitemap.xml" in robots


def test_unknown_business_slug_is_a_clear_404(client: Client, db: None) -> None:
    response = client.get("/no-such-shop/")
    assert response.status_code == 404
    assert client.get("/no-such-shop/p/anything/").status_code == 404
    assert client.post("/no-such-shop/cart/add/", {"offering": "1"}).status_code == 404


def test_reserved_paths_still_reach_tillbook(client: Client, business: Business) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/manage/login/").status_code == 200


def test_lesson_html_is_sanitised(shop: Shop) -> None:
    lesson = shop.course.lessons.get()
    assert lesson.body == "<p>Hello <strong>there</strong></p>"


def test_the_business_page_offers_its_bookable_services(client: Any, business: Any) -> None:
    from tillbook.core.scoping import business_scope
    from tillbook.scheduling.models import Service

    with business_scope(business):
        Service(business=business, name="Discovery call", slug="discovery-call").save()
    page = client.get(f"/{business.slug}/").content.decode()
    assert "Book a session" in page
    assert f'href="/{business.slug}/book/discovery-call/"' in page


def _priced_like_a_buyer_pays(shop: Shop) -> None:
    """A free-entry workshop whose tickets cost 25.00 and 40.00 (one more, cheaper, withdrawn),
    a T-shirt whose only size costs 30.00 instead of the shirt's 25.00, a free course."""
    from tillbook.catalog.services import ticket_type_save, variant_save

    shop.workshop.price = 0
    shop.workshop.save()
    ticket_type_save(
        offering=shop.workshop,
        ticket_type=shop.regular,
        name="Regular",
        price=4000,
        quota=shop.quota,
    )
    ticket_type_save(
        offering=shop.workshop, name="Early bird", price=1000, quota=None, is_active=False
    )
    variant_save(offering=shop.shirt, variant=shop.shirt_medium, name="Medium", stock=5, price=3000)
    shop.course.price = 0
    shop.course.save()


def _price_shown(page: str, title: str) -> str:
    match = re.search(rf">{re.escape(title)}</a></h2>.*?<p><strong>(.*?)</strong>", page, re.S)
    assert match, page
    return match.group(1)


def test_the_business_page_shows_what_a_buyer_pays_not_the_base_price(
    client: Client, shop: Shop
) -> None:
    _priced_like_a_buyer_pays(shop)
    page = client.get("/acme/").content.decode()
    assert _price_shown(page, "Pricing Workshop") == "from $25.00"
    assert _price_shown(page, "Maple T-shirt") == "$30.00"
    assert _price_shown(page, "Pricing Workbook") == "$19.00"
    assert _price_shown(page, "Coaching 101") == "Free"
    # A free ticket among paid ones: not "from $0.00".
    from tillbook.catalog.models import TicketType

    assert TicketType.objects.filter(offering=shop.workshop, price=2500).update(price=0) == 1
    page = client.get("/acme/").content.decode()
    assert _price_shown(page, "Pricing Workshop") == "Free – $40.00"
    # Free only when every ticket is.
    TicketType.objects.filter(offering=shop.workshop).update(price=0)
    page = client.get("/acme/").content.decode()
    assert _price_shown(page, "Pricing Workshop") == "Free"


def test_json_ld_offers_the_range_a_buyer_pays_or_the_one_price(client: Client, shop: Shop) -> None:
    _priced_like_a_buyer_pays(shop)
    event_page = client.get("/acme/p/pricing-workshop/").content.decode()
    offers = _json_ld(event_page)["offers"]
    assert (offers["@type"], offers["lowPrice"], offers["highPrice"], offers["offerCount"]) == (
        "AggregateOffer",
        "25.00",
        "40.00",
        2,
    )
    assert offers["priceCurrency"] == "USD"
    assert "price" not in offers
    assert '<meta property="product:price:amount" content="25.00">' in event_page
    shirt_page = client.get("/acme/p/maple-t-shirt/").content.decode()
    offers = _json_ld(shirt_page)["offers"]
    assert (offers["@type"], offers["price"], offers["priceCurrency"]) == ("Offer", "30.00", "USD")
    assert "lowPrice" not in offers
    assert '<meta property="product:price:amount" content="30.00">' in shirt_page
    course = _json_ld(client.get("/acme/p/coaching-101/").content.decode())["offers"]
    assert (course["@type"], course["price"]) == ("Offer", "0.00")


def test_an_event_that_has_started_is_not_listed_and_its_page_offers_no_tickets(
    client: Client, shop: Shop
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from tillbook.catalog.models import Event

    Event.objects.filter(offering=shop.workshop).update(
        starts_at=timezone.now() - timedelta(minutes=5)
    )
    home = client.get("/acme/").content.decode()
    assert "Pricing Workshop" not in home
    assert "Pricing Workbook" in home
    sitemap = client.get("/acme/sitemap.xml").content.decode()
    assert "/acme/p/pricing-workshop/" not in sitemap
    page = client.get("/acme/p/pricing-workshop/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "This event has started; tickets are no longer on sale." in html
    assert "/acme/cart/add/" not in html
    assert "Buy now" not in html and "Add to cart" not in html
    assert "product:price:amount" not in html
    assert "offers" not in _json_ld(html)


def test_an_offering_whose_options_are_all_withdrawn_is_not_listed_and_not_priced(
    client: Client, shop: Shop
) -> None:
    from tillbook.catalog.models import TicketType

    shop.shirt_medium.is_active = False
    shop.shirt_medium.save()
    TicketType.objects.filter(offering=shop.workshop).update(is_active=False)
    home = client.get("/acme/").content.decode()
    assert "Maple T-shirt" not in home and "Pricing Workshop" not in home
    assert "Pricing Workbook" in home
    for slug in ("maple-t-shirt", "pricing-workshop"):
        html = client.get(f"/acme/p/{slug}/").content.decode()
        assert "This is no longer on sale." in html
        assert "/acme/cart/add/" not in html
        assert "Buy now" not in html and "Add to cart" not in html
        # Not the base price ($25.00, $40.00) as if it could be bought.
        assert "$25.00" not in html and "$40.00" not in html
        assert "product:price:amount" not in html
        assert "offers" not in _json_ld(html)


def test_an_event_without_a_date_yet_is_not_listed_and_offers_no_tickets(
    client: Client, shop: Shop
) -> None:
    from tillbook.catalog.models import Event

    Event.objects.filter(offering=shop.workshop).delete()
    assert "Pricing Workshop" not in client.get("/acme/").content.decode()
    html = client.get("/acme/p/pricing-workshop/").content.decode()
    assert "This is not on sale yet." in html
    assert "/acme/cart/add/" not in html
