"""First-party attribution: landing page, referrer and UTM parameters of the first and latest
visit, kept in a cookie only with consent, copied onto the customer and the order."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client

from tillbook.customers.attribution import UTM_KEYS, utm_from
from tillbook.orders.models import Order

from ..orders.shop import Shop

AD = (
    "/acme/p/pricing-workbook/?utm_content=Blue&utm_medium=cpc&utm_source=Google"
    "&utm_campaign=Spring-Sale&utm_term=pricing&utm_id=42&utm_source_platform=Google+Ads"
    "&utm_creative_format=video&utm_marketing_tactic=prospecting&gclid=abc"
)


def buy_workbook(client: Client, email: str = "ann@example.com") -> Order:
    from tillbook.catalog.models import Offering
    from tillbook.core.scoping import unscoped

    with unscoped():
        offering = Offering.objects.get(slug="pricing-workbook")
    client.post("/acme/cart/add/", {"offering": offering.pk, "quantity": "1"})
    page = client.get("/acme/checkout/").content.decode()
    total = re.search(r'name="expected_total" value="([^"]*)"', page)
    assert total
    response = client.post("/acme/checkout/", {"email": email, "name": "Ann",
                                               "expected_total": total.group(1)})  # fmt: skip
    assert response.status_code == 302, response.content.decode()
    with unscoped():
        return Order.objects.get(email=email)


def test_utm_parameters_are_read_case_sensitively_in_any_order() -> None:
    params = {"utm_campaign": "Spring", "UTM_SOURCE": "ignored", "utm_source": "Newsletter",
              "utm_marketing_tactic": "remarketing"}  # fmt: skip
    assert utm_from(params) == {"utm_source": "Newsletter", "utm_campaign": "Spring",
                                "utm_marketing_tactic": "remarketing"}  # fmt: skip
    assert len(UTM_KEYS) == 9


def test_with_consent_first_and_latest_touch_are_kept_and_copied(
    client: Client, shop: Shop
) -> None:
    client.post("/acme/consent/", {"answer": "yes", "next": "/acme/"})
    client.get(AD, HTTP_REFERER="https://www.google.com/")
    client.get("/acme/")  # a page inside the same visit changes nothing
    client.get("/acme/?utm_source=newsletter&utm_medium=email&utm_campaign=June")
    assert "tb_attr" in client.cookies
    order = buy_workbook(client)
    first, latest = order.attribution["first"], order.attribution["latest"]
    assert first["landing"] == AD
    assert first["referrer"] == "https://www.google.com/"
    assert {key: first[key] for key in UTM_KEYS} == {
        "utm_source": "Google", "utm_medium": "cpc", "utm_campaign": "Spring-Sale",
        "utm_term": "pricing", "utm_content": "Blue", "utm_id": "42",
        "utm_source_platform": "Google Ads", "utm_creative_format": "video",
        "utm_marketing_tactic": "prospecting",
    }  # fmt: skip
    assert "gclid" not in first
    assert (latest["utm_source"], latest["utm_campaign"]) == ("newsletter", "June")
    assert (order.utm_source, order.utm_medium, order.utm_campaign) == (
        "newsletter", "email", "June",
    )  # fmt: skip
    customer = order.customer
    assert customer is not None
    assert customer.first_touch["utm_campaign"] == "Spring-Sale"
    assert (customer.acquisition_source, customer.acquisition_campaign) == ("Google", "Spring-Sale")
    assert customer.latest_touch["utm_campaign"] == "June"


def test_without_consent_no_cookie_and_only_this_visit_in_the_session(
    client: Client, shop: Shop
) -> None:
    client.get("/acme/")
    assert "tb_attr" not in client.cookies
    assert "sessionid" not in client.cookies  # a plain visit stores nothing
    client.get(AD)
    assert "tb_attr" not in client.cookies
    order = buy_workbook(client)
    assert order.attribution["first"]["utm_campaign"] == "Spring-Sale"
    assert order.utm_campaign == "Spring-Sale"


def test_declining_removes_the_attribution_cookie(client: Client, shop: Shop) -> None:
    client.post("/acme/consent/", {"answer": "yes", "next": "/acme/"})
    client.get(AD)
    assert client.cookies["tb_attr"].value
    response = client.post("/acme/consent/", {"answer": "no", "next": "https://evil.test/"})
    assert response["Location"] == "/acme/"
    assert client.cookies["tb_attr"].value == ""
    assert client.cookies["tb_consent"].value == "no"


def test_consent_banner_is_shown_until_answered(client: Client, shop: Shop) -> None:
    assert "Cookie consent" in client.get("/acme/").content.decode()
    client.post("/acme/consent/", {"answer": "no", "next": "/acme/"})
    assert "Cookie consent" not in client.get("/acme/").content.decode()


def test_a_forged_attribution_cookie_is_ignored(client: Client, shop: Shop, **_: Any) -> None:
    client.cookies["tb_consent"] = "yes"
    client.cookies["tb_attr"] = '{"first": {"utm_source": "forged"}}'
    order = buy_workbook(client)
    assert order.attribution == {}
