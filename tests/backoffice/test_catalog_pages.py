from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tillbook.catalog.models import (
    DigitalFile,
    DiscountCode,
    Event,
    Lesson,
    Offering,
    Quota,
    ShippingRate,
    TaxClass,
    TicketType,
    Variant,
)
from tillbook.catalog.services import offering_create
from tillbook.core.models import Business
from tillbook.core.scoping import business_scope

from ..access import database_fingerprint


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def create(client: Client, kind: str, title: str, price: str = "10.00") -> Offering:
    response = client.post(
        f"/manage/acme/catalog/new/{kind}/",
        {
            "title": title,
            "state": "published",
            "price": price,
            "max_per_order": "10",
            "download_limit": "3",
            "download_days": "7",
            "position": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()
    return Offering.objects.get(title=title)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Q" * 5000])
def test_an_event_in_a_time_zone_that_is_not_one_is_refused(
    owner_client: Client, scoped: Business, zone: str
) -> None:
    event = create(owner_client, "ticket", "Workshop", "40.00")
    # 5,000 characters were a server error: the zone database refused the name as a file name.
    response = owner_client.post(
        f"/manage/acme/catalog/{event.pk}/event/",
        {"starts_at": "2030-03-10T14:00", "timezone": zone, "venue_name": "Studio"},
        follow=True,
    )
    assert response.redirect_chain == [(f"/manage/acme/catalog/{event.pk}/", 302)]
    shown = zone if len(zone) <= 40 else f"{zone[:40]}…"
    assert (
        f"{shown} is not a time zone; use an IANA name such as Europe/Berlin or America/New_York."
        in response.content.decode()
    )
    assert Event.objects.count() == 0


def test_edit_every_kind(owner_client: Client, scoped: Business) -> None:
    event = create(owner_client, "ticket", "Workshop", "40.00")
    base = f"/manage/acme/catalog/{event.pk}"
    owner_client.post(
        f"{base}/event/",
        {"starts_at": "2030-03-10T14:00", "timezone": "America/Chicago", "venue_name": "Studio"},
    )
    # 10 March 2030 is the day Chicago moves to daylight time: 14:00 CDT is 19:00 UTC.
    assert Event.objects.get().starts_at.isoformat() == "2030-03-10T19:00:00+00:00"
    owner_client.post(f"{base}/quotas/", {"name": "Seats", "size": "30"})
    quota = Quota.objects.get(name="Seats")
    owner_client.post(f"{base}/ticket-types/", {"name": "Regular", "quota": quota.pk})
    owner_client.post(
        f"{base}/ticket-types/", {"name": "Student", "price": "25", "quota": quota.pk}
    )
    assert list(TicketType.objects.values_list("name", "price", "quota__size")) == [
        ("Regular", None, 30),
        ("Student", 2500, 30),
    ]
    shirt = create(owner_client, "physical", "Shirt", "25.00")
    owner_client.post(f"/manage/acme/catalog/{shirt.pk}/variants/", {"name": "Large", "stock": "4"})
    assert [
        (v.name, v.quota.size if v.quota else None) for v in Variant.objects.order_by("pk")
    ] == [
        ("Standard", None),
        ("Large", 4),
    ]
    ebook = create(owner_client, "download", "E-book", "9.00")
    owner_client.post(
        f"/manage/acme/catalog/{ebook.pk}/files/",
        {"file": SimpleUploadedFile("book.pdf", b"%PDF", "application/pdf")},
    )
    item = DigitalFile.objects.get()
    assert "private" in item.file.path and item.size == 4
    course = create(owner_client, "course", "Course", "99.00")
    owner_client.post(
        f"/manage/acme/catalog/{course.pk}/lessons/",
        {
            "title": "Intro",
            "body": "<p onclick='x()'>Hi<script>bad()</script></p>",
            "video_url": "https://vimeo.com/123456",
        },
    )
    assert Lesson.objects.get().body == "<p>Hi</p>"
    bad_video = owner_client.post(
        f"/manage/acme/catalog/{course.pk}/lessons/",
        {"title": "X", "video_url": "javascript:alert(1)"},
    )
    assert bad_video.status_code == 302
    assert Lesson.objects.count() == 1
    page = owner_client.get(f"/manage/acme/catalog/{course.pk}/").content.decode()
    assert "YouTube, Vimeo or Loom" in page  # the refusal, shown on the page
    listing = owner_client.get("/manage/acme/catalog/").content.decode()
    for title in ("Workshop", "Shirt", "E-book", "Course"):
        assert title in listing


def test_offering_form_refuses_bad_prices(owner_client: Client, scoped: Business) -> None:
    response = owner_client.post(
        "/manage/acme/catalog/new/download/",
        {
            "title": "X",
            "state": "draft",
            "price": "1.234",
            "max_per_order": "1",
            "download_limit": "1",
            "download_days": "1",
        },
    )
    assert response.status_code == 400
    assert "Not an amount." in response.content.decode()
    assert Offering.objects.count() == 0


@pytest.mark.parametrize("price", ["1e999999", "Infinity", "NaN", str(10**19), "1e16"])
def test_offering_form_refuses_huge_prices_with_400_and_writes_nothing(
    owner_client: Client, scoped: Business, price: str
) -> None:
    before = database_fingerprint()
    response = owner_client.post(
        "/manage/acme/catalog/new/download/",
        {
            "title": "X",
            "state": "draft",
            "price": price,
            "max_per_order": "1",
            "download_limit": "1",
            "download_days": "1",
        },
    )
    assert response.status_code == 400
    assert "Not an amount." in response.content.decode()
    assert database_fingerprint() == before


@pytest.mark.parametrize(
    ("position", "message"),
    [
        (str(10**25), "Ensure this value is less than or equal to 1000000."),
        ("1000001", "Ensure this value is less than or equal to 1000000."),
        (str(-(10**25)), "Ensure this value is greater than or equal to -1000000."),
    ],
)
def test_offering_form_refuses_a_huge_position_with_400_and_writes_nothing(
    owner_client: Client, scoped: Business, position: str, message: str
) -> None:
    offering = create(owner_client, "download", "E-book", "9.00")
    before = database_fingerprint()
    fields = {
        "state": "draft",
        "price": "9.00",
        "max_per_order": "1",
        "download_limit": "1",
        "download_days": "1",
        "position": position,
    }
    created = owner_client.post("/manage/acme/catalog/new/download/", {"title": "X", **fields})
    edited = owner_client.post(
        f"/manage/acme/catalog/{offering.pk}/", {"title": "E-book", **fields}
    )
    for response in (created, edited):
        assert response.status_code == 400
        assert message in response.content.decode()
    assert database_fingerprint() == before


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [
        ("quotas/", {"name": "Seats", "size": "²"}, "The size is a whole number"),
        ("quotas/", {"id": "¹", "name": "Seats", "size": "5"}, "Unknown item."),
        ("variants/", {"name": "Large", "stock": "³"}, "The stock is a whole number"),
        ("lessons/", {"title": "Intro", "position": "²"}, "The position is a whole number"),
        # Numbers the database cannot hold (a server error when they reached it).
        ("lessons/", {"title": "Intro", "position": str(10**25)}, "The position is at most"),
        ("quotas/", {"name": "Seats", "size": "9" * 5000}, "The size is at most 1,000,000,000"),
        ("quotas/", {"id": "9" * 5000, "name": "Seats", "size": "5"}, "Unknown item."),
    ],
)
def test_numbers_typed_with_superscript_digits_are_refused_with_a_message(
    owner_client: Client, scoped: Business, path: str, data: dict[str, str], message: str
) -> None:
    offering = create(owner_client, "ticket", "Workshop", "40.00")
    before = database_fingerprint()
    response = owner_client.post(f"/manage/acme/catalog/{offering.pk}/{path}", data, follow=True)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert database_fingerprint() == before


@pytest.mark.parametrize("which", ["superscript", "another business's"])
def test_a_discount_for_an_offering_not_in_the_list_is_refused_not_made_shop_wide(
    owner_client: Client, scoped: Business, other_business: Business, which: str
) -> None:
    with business_scope(other_business):
        foreign = offering_create(business=other_business, actor=None, kind="course", title="C")
    before = database_fingerprint()
    response = owner_client.post(
        "/manage/acme/catalog/discounts/",
        {
            "code": "SPRING10",
            "kind": "percent",
            "value": "10",
            "offering": "¹" if which == "superscript" else str(foreign.pk),
        },
    )
    assert response.status_code == 400
    assert "Choose an offering from the list." in response.content.decode()
    assert database_fingerprint() == before


def test_settings_taxes_shipping_and_discounts(owner_client: Client, scoped: Business) -> None:
    owner_client.post(
        "/manage/acme/catalog/settings/",
        {
            "prices_include_tax": "on",
            "reservation_minutes": "20",
            "oversold_policy": "refund",
        },
    )
    owner_client.post("/manage/acme/catalog/taxes/", {"name": "VAT", "rate": "20"})
    owner_client.post(
        "/manage/acme/catalog/shipping/", {"name": "EU", "amount": "7.50", "countries": "de, fr"}
    )
    owner_client.post(
        "/manage/acme/catalog/discounts/",
        {"code": "SPRING10", "kind": "percent", "value": "10", "max_uses": "5"},
    )
    from tillbook.catalog.models import ShopSettings

    settings = ShopSettings.objects.get()
    assert (
        settings.prices_include_tax,
        settings.reservation_minutes,
        settings.oversold_policy,
    ) == (
        True,
        20,
        "refund",
    )
    assert str(TaxClass.objects.get().rate) == "20.000"
    assert list(ShippingRate.objects.values_list("countries", "amount")) == [("DE,FR", 750)]
    assert list(DiscountCode.objects.values_list("code", "value", "max_uses")) == [
        ("SPRING10", 10, 5)
    ]
    duplicate = owner_client.post(
        "/manage/acme/catalog/discounts/", {"code": "spring10", "kind": "fixed", "value": "5"}
    )
    assert duplicate.status_code == 409
    assert DiscountCode.objects.count() == 1


@pytest.mark.parametrize("rate", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_a_tax_rate_that_is_not_a_number_is_refused_with_a_message(
    owner_client: Client, scoped: Business, rate: str
) -> None:
    before = database_fingerprint()
    response = owner_client.post(
        "/manage/acme/catalog/taxes/", {"name": "VAT", "rate": rate}, follow=True
    )
    assert response.redirect_chain == [("/manage/acme/catalog/settings/", 302)]
    assert response.status_code == 200
    assert "The rate is a percentage, e.g. 8.25." in response.content.decode()
    assert database_fingerprint() == before
