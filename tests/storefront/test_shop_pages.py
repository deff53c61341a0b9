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
    assert data["location"] == {"@type": "Place", "name": "Maple Studio",
                                "address": "220 W Huron St, Chicago"}  # fmt: skip
    assert data["offers"]["price"] == "40.00"
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
