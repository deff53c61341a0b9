"""/api/v1/customers: what a client with a token can list, create and edit, and what it cannot."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from tillbook.api.models import ApiToken
from tillbook.api.services import api_token_revoke
from tillbook.core.models import AuditEntry, Business
from tillbook.core.scoping import business_scope, unscoped
from tillbook.customers.models import Customer

URL = "/api/v1/customers"
MISSING_TOKEN = {"detail": "Send an API token in the header: Authorization: Bearer <token>."}
INVALID_TOKEN = {"detail": "The API token is not valid or was revoked."}


def _json(response: Any) -> Any:
    return json.loads(response.content)


def _post(client: Client, data: Any, **extra: Any) -> Any:
    return client.post(URL, data=json.dumps(data), content_type="application/json", **extra)


def _patch(client: Client, customer_id: int, data: Any, **extra: Any) -> Any:
    return client.patch(
        f"{URL}/{customer_id}", data=json.dumps(data), content_type="application/json", **extra
    )


def _bearer(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def _emails(business: Business) -> list[str]:
    with business_scope(business):
        return sorted(Customer.objects.values_list("email", flat=True))


def _audit_actions(business: Business) -> list[str]:
    with business_scope(business):
        return list(AuditEntry.objects.order_by("id").values_list("action", flat=True))


def _snapshot(customer: Customer) -> dict[str, Any]:
    """Every field an API client can change, as stored."""
    with business_scope(customer.business):
        fresh = Customer.objects.get(pk=customer.pk)
        return {
            "email": fresh.email,
            "name": fresh.name,
            "phone": fresh.phone,
            "notes": fresh.notes,
            "tags": sorted(fresh.tags.values_list("name", flat=True)),
            "marketing_consent": fresh.marketing_consent,
            "consent_at": fresh.consent_at,
            "consent_source": fresh.consent_source,
            "updated_at": fresh.updated_at,
        }


@pytest.fixture
def ann(make_customer: Callable[..., Customer], business: Business) -> Customer:
    return make_customer(
        business,
        "ann@example.com",
        name="Ann Archer",
        phone="+14155550123",
        tags=["vip"],
        notes="Prefers mornings",
    )


# Listing


@pytest.fixture
def three_customers(make_customer: Callable[..., Customer], business: Business) -> None:
    """Created in this order, so the newest (Cy) lists first."""
    make_customer(business, "ann@example.com", name="Ann Archer", tags=["VIP"])
    make_customer(
        business,
        "bob@example.org",
        name="Bob Baker",
        phone="+442071838750",
        marketing_consent=True,
        tags=["vip", "newsletter"],
    )
    make_customer(business, "cy@example.net", name="Cy Cooper", marketing_consent=True)


def _listed_emails(response: Any) -> tuple[int, list[str]]:
    assert response.status_code == 200
    body = _json(response)
    return body["count"], [item["email"] for item in body["items"]]


def test_list_shows_every_field_of_a_customer(
    api: Client, make_customer: Callable[..., Customer], business: Business, frozen_now: datetime
) -> None:
    customer = make_customer(
        business,
        "ann@example.com",
        name="Ann Archer",
        phone="+14155550123",
        tags=["vip", "early bird"],
        notes="Prefers mornings",
        marketing_consent=True,
    )

    response = api.get(URL)

    assert response.status_code == 200
    assert _json(response) == {
        "count": 1,
        "items": [
            {
                "id": customer.pk,
                "email": "ann@example.com",
                "name": "Ann Archer",
                "phone": "+14155550123",
                "marketing_consent": True,
                "consent_at": "2025-03-03T14:00:00Z",
                # Created by staff in the back office, not through the API.
                "consent_source": "staff",
                "tags": ["early bird", "vip"],
                "notes": "Prefers mornings",
                "created_at": "2025-03-03T14:00:00Z",
                "updated_at": "2025-03-03T14:00:00Z",
            }
        ],
    }


def test_list_orders_newest_first(api: Client, three_customers: None) -> None:
    assert _listed_emails(api.get(URL)) == (
        3,
        ["cy@example.net", "bob@example.org", "ann@example.com"],
    )


def test_list_searches_name_email_and_phone_digits(api: Client, three_customers: None) -> None:
    assert _listed_emails(api.get(URL, {"search": "baker"})) == (1, ["bob@example.org"])
    assert _listed_emails(api.get(URL, {"search": "EXAMPLE.NET"})) == (1, ["cy@example.net"])
    assert _listed_emails(api.get(URL, {"search": "+44 20 7183 8750"})) == (1, ["bob@example.org"])
    assert _listed_emails(api.get(URL, {"search": "nobody"})) == (0, [])


def test_list_filters_by_tag_ignoring_case(api: Client, three_customers: None) -> None:
    assert _listed_emails(api.get(URL, {"tag": "vip"})) == (
        2,
        ["bob@example.org", "ann@example.com"],
    )
    assert _listed_emails(api.get(URL, {"tag": "Newsletter"})) == (1, ["bob@example.org"])
    assert _listed_emails(api.get(URL, {"tag": "unknown"})) == (0, [])


def test_list_filters_by_marketing_consent(api: Client, three_customers: None) -> None:
    assert _listed_emails(api.get(URL, {"marketing_consent": "true"})) == (
        2,
        ["cy@example.net", "bob@example.org"],
    )
    assert _listed_emails(api.get(URL, {"marketing_consent": "false"})) == (
        1,
        ["ann@example.com"],
    )


def test_list_combines_filters(api: Client, three_customers: None) -> None:
    response = api.get(URL, {"tag": "vip", "marketing_consent": "true", "search": "bob"})

    assert _listed_emails(response) == (1, ["bob@example.org"])


def test_list_pages_with_limit_and_offset_and_counts_every_match(
    api: Client, three_customers: None
) -> None:
    assert _listed_emails(api.get(URL, {"limit": 2})) == (
        3,
        ["cy@example.net", "bob@example.org"],
    )
    assert _listed_emails(api.get(URL, {"limit": 2, "offset": 2})) == (3, ["ann@example.com"])
    assert _listed_emails(api.get(URL, {"limit": 2, "offset": 3})) == (3, [])
    assert _listed_emails(api.get(URL, {"tag": "vip", "limit": 1, "offset": 1})) == (
        2,
        ["ann@example.com"],
    )


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"offset": -1}])
def test_list_rejects_a_page_outside_the_limits(
    api: Client, three_customers: None, params: dict[str, int]
) -> None:
    response = api.get(URL, params)

    assert response.status_code == 422
    assert [error["loc"] for error in _json(response)["detail"]] == [["query", *params]]


def test_list_shows_only_the_token_business_customers(
    client: Client,
    three_customers: None,
    other_business: Business,
    make_customer: Callable[..., Customer],
    make_token: Callable[..., str],
) -> None:
    make_customer(other_business, "rita@example.com", name="Rita Rival")

    response = client.get(URL, **_bearer(make_token(other_business)))

    assert _listed_emails(response) == (1, ["rita@example.com"])


@pytest.mark.parametrize("params", [{"search": "ann\x00"}, {"tag": "\x00vip"}])
def test_list_rejects_a_null_character_in_text_filters(
    api: Client, three_customers: None, params: dict[str, str]
) -> None:
    # PostgreSQL refuses NUL in text; it used to end in a 500 there.
    response = api.get(URL, params)

    assert response.status_code == 422
    assert [error["loc"] for error in _json(response)["detail"]] == [["query", *params]]


# Reading one


def test_get_returns_the_customer(frozen_now: datetime, api: Client, ann: Customer) -> None:
    response = api.get(f"{URL}/{ann.pk}")

    assert response.status_code == 200
    assert _json(response) == {
        "id": ann.pk,
        "email": "ann@example.com",
        "name": "Ann Archer",
        "phone": "+14155550123",
        "marketing_consent": False,
        "consent_at": None,
        "consent_source": "",
        "tags": ["vip"],
        "notes": "Prefers mornings",
        "created_at": "2025-03-03T14:00:00Z",
        "updated_at": "2025-03-03T14:00:00Z",
    }


def test_get_unknown_customer_is_404(api: Client, ann: Customer) -> None:
    response = api.get(f"{URL}/{ann.pk + 1000}")

    assert response.status_code == 404
    assert _json(response) == {"detail": "No customer with this id.", "errors": {}}


# Creating


def test_create_returns_201_with_the_normalised_customer(
    api: Client, business: Business, frozen_now: datetime
) -> None:
    response = _post(
        api,
        {
            "email": "  Ann@Example.COM ",
            "name": "  Ann   Archer ",
            "phone": "+1 (415) 555-0123",
            "tags": ["vip", "Early Bird", "VIP"],
            "notes": " Prefers mornings ",
        },
    )

    assert response.status_code == 201
    with business_scope(business):
        customer = Customer.objects.get()
    assert _json(response) == {
        "id": customer.pk,
        "email": "Ann@example.com",
        "name": "Ann Archer",
        "phone": "+14155550123",
        "marketing_consent": False,
        "consent_at": None,
        "consent_source": "",
        "tags": ["Early Bird", "vip"],
        "notes": "Prefers mornings",
        "created_at": "2025-03-03T14:00:00Z",
        "updated_at": "2025-03-03T14:00:00Z",
    }
    assert _snapshot(customer) == {
        "email": "Ann@example.com",
        "name": "Ann Archer",
        "phone": "+14155550123",
        "notes": "Prefers mornings",
        "tags": ["Early Bird", "vip"],
        "marketing_consent": False,
        "consent_at": None,
        "consent_source": "",
        "updated_at": frozen_now,
    }


def test_create_with_only_an_email_uses_empty_defaults(
    api: Client, business: Business, frozen_now: datetime
) -> None:
    response = _post(api, {"email": "ann@example.com"})

    assert response.status_code == 201
    body = _json(response)
    assert body == {
        "id": body["id"],
        "email": "ann@example.com",
        "name": "",
        "phone": "",
        "marketing_consent": False,
        "consent_at": None,
        "consent_source": "",
        "tags": [],
        "notes": "",
        "created_at": "2025-03-03T14:00:00Z",
        "updated_at": "2025-03-03T14:00:00Z",
    }
    assert _emails(business) == ["ann@example.com"]


def test_create_records_the_token_in_the_audit_log(api: Client, business: Business) -> None:
    response = _post(api, {"email": "ann@example.com"})

    assert response.status_code == 201
    with business_scope(business):
        entry = AuditEntry.objects.get(action="customer.create")
    assert (entry.actor, entry.actor_label, entry.summary) == (
        None,
        "API token Zapier",
        "Added customer ann@example.com",
    )
    assert (entry.target_type, entry.target_id) == (
        "customers.customer",
        str(_json(response)["id"]),
    )


def test_create_with_consent_records_the_api_as_its_source(
    api: Client, business: Business, frozen_now: datetime
) -> None:
    response = _post(api, {"email": "ann@example.com", "marketing_consent": True})

    assert response.status_code == 201
    body = _json(response)
    assert (body["marketing_consent"], body["consent_at"], body["consent_source"]) == (
        True,
        "2025-03-03T14:00:00Z",
        "api",
    )
    with business_scope(business):
        customer = Customer.objects.get()
    assert (customer.consent_at, customer.consent_source) == (frozen_now, "api")


def test_create_with_an_email_taken_in_another_case_is_409_and_creates_nothing(
    api: Client, ann: Customer, business: Business
) -> None:
    response = _post(api, {"email": "ANN@example.com", "name": "Ann Again"})

    assert response.status_code == 409
    assert _json(response) == {
        "detail": "A customer with the email ANN@example.com already exists.",
        "errors": {"email": ["Already used by another customer."]},
    }
    assert _emails(business) == ["ann@example.com"]
    assert _snapshot(ann)["name"] == "Ann Archer"
    assert _audit_actions(business).count("customer.create") == 1


def test_create_may_reuse_an_email_of_another_business(
    api: Client, other_business: Business, make_customer: Callable[..., Customer]
) -> None:
    make_customer(other_business, "ann@example.com")

    response = _post(api, {"email": "ann@example.com"})

    assert response.status_code == 201


def test_create_with_an_invalid_phone_is_400_naming_the_number(
    api: Client, business: Business
) -> None:
    response = _post(api, {"email": "ann@example.com", "phone": "555 01"})

    assert response.status_code == 400
    message = (
        "“555 01” is not a valid phone number. Include the country code, e.g. +1 415 555 0123."
    )
    assert _json(response) == {"detail": message, "errors": {"phone": [message]}}
    assert _emails(business) == []
    assert "customer.create" not in _audit_actions(business)


def test_create_with_an_invalid_email_is_400(api: Client, business: Business) -> None:
    response = _post(api, {"email": "ann@example"})

    assert response.status_code == 400
    message = "“ann@example” is not a valid email address."
    assert _json(response) == {"detail": message, "errors": {"email": [message]}}
    assert _emails(business) == []


def test_create_with_an_empty_email_is_400(api: Client, business: Business) -> None:
    response = _post(api, {"email": "   "})

    assert response.status_code == 400
    message = "An email address is required."
    assert _json(response) == {"detail": message, "errors": {"email": [message]}}
    assert _emails(business) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Ann\x00Archer"),
        ("email", "ann\x00@example.com"),
        ("notes", "\x00"),
        ("phone", "+1415555\x000123"),
        ("tags", ["vip", "new\x00s"]),
    ],
)
def test_create_with_a_null_character_is_400_and_creates_nothing(
    api: Client, business: Business, field: str, value: Any
) -> None:
    data = {"email": "ann@example.com", field: value}

    response = _post(api, data)

    assert response.status_code == 400
    assert _json(response) == {
        "detail": f"The {field} contains a null character; remove it and try again.",
        "errors": {field: ["Contains a null character."]},
    }
    assert _emails(business) == []
    assert "customer.create" not in _audit_actions(business)


def test_create_without_an_email_is_422_and_creates_nothing(
    api: Client, business: Business
) -> None:
    response = _post(api, {"name": "Ann Archer"})

    assert response.status_code == 422
    assert [error["loc"] for error in _json(response)["detail"]] == [["body", "payload", "email"]]
    assert _emails(business) == []


def test_create_with_a_body_that_is_not_json_is_400(api: Client, business: Business) -> None:
    response = api.post(URL, data="{email:", content_type="application/json")

    assert response.status_code == 400
    assert _json(response) == {"detail": "Cannot parse request body"}
    assert _emails(business) == []


@pytest.mark.parametrize("body", [[], ["ann@example.com"], "ann@example.com", 42, None])
def test_create_with_a_body_that_is_not_an_object_is_422(
    api: Client, business: Business, body: Any
) -> None:
    response = _post(api, body)

    assert response.status_code == 422
    assert [error["loc"] for error in _json(response)["detail"]] == [["body", "payload"]]
    assert _emails(business) == []


def test_create_with_an_email_too_long_once_normalised_is_400(
    api: Client, business: Business
) -> None:
    # 188 characters as sent; lowercasing turns each İ into two (i + U+0307), 368 in all, more
    # than the column holds (a DataError and a 500 on PostgreSQL, a 368-character row on SQLite).
    email = "ann@" + ".".join(["İ" * 60] * 3) + ".com"

    response = _post(api, {"email": email})

    assert response.status_code == 400
    message = "The email address is longer than 254 characters."
    assert _json(response) == {"detail": message, "errors": {"email": [message]}}
    assert _emails(business) == []


def test_create_with_a_tag_the_database_sees_as_an_existing_one_reuses_it(
    api: Client, business: Business, make_customer: Callable[..., Customer]
) -> None:
    make_customer(business, "ann@example.com", tags=["i"])

    response = _post(api, {"email": "bob@example.com", "tags": ["İ"]})

    # Tags are unique by the database's LOWER(). PostgreSQL lowers İ to i, so the existing
    # tag is reused; SQLite lowers only ASCII letters, so İ is a tag of its own. Python's
    # str.lower() gives a third answer (i + U+0307), which used to end in a KeyError and a 500.
    assert response.status_code == 201
    expected = ["i"] if connection.vendor == "postgresql" else ["İ"]
    assert _json(response)["tags"] == expected


# Editing


def test_patch_changes_only_the_given_fields(
    api: Client, ann: Customer, business: Business, frozen_now: datetime
) -> None:
    before = _snapshot(ann)

    response = _patch(api, ann.pk, {"name": "Ann Lee"})

    assert response.status_code == 200
    assert _snapshot(ann) == {**before, "name": "Ann Lee", "updated_at": frozen_now}
    body = _json(response)
    assert (body["name"], body["email"], body["phone"], body["tags"], body["notes"]) == (
        "Ann Lee",
        "ann@example.com",
        "+14155550123",
        ["vip"],
        "Prefers mornings",
    )
    assert body["updated_at"] == "2025-03-03T14:00:00Z"


def test_patch_records_the_change_in_the_audit_log(
    api: Client, ann: Customer, business: Business
) -> None:
    _patch(api, ann.pk, {"name": "Ann Lee", "tags": ["vip", "regular"]})

    with business_scope(business):
        entry = AuditEntry.objects.get(action="customer.update")
    assert (entry.actor, entry.actor_label, entry.summary) == (
        None,
        "API token Zapier",
        "Edited customer ann@example.com",
    )
    assert entry.changes == {
        "name": ["Ann Archer", "Ann Lee"],
        "tags": [["vip"], ["regular", "vip"]],
    }


def test_patch_with_null_values_leaves_those_fields_alone(
    api: Client, ann: Customer, business: Business, frozen_now: datetime
) -> None:
    before = _snapshot(ann)

    response = _patch(api, ann.pk, {"phone": None, "tags": None, "marketing_consent": None})

    assert response.status_code == 200
    assert _snapshot(ann) == {**before, "updated_at": frozen_now}
    assert "customer.update" not in _audit_actions(business)


def test_patch_with_an_empty_phone_clears_it(api: Client, ann: Customer) -> None:
    response = _patch(api, ann.pk, {"phone": ""})

    assert response.status_code == 200
    assert _json(response)["phone"] == ""
    assert _snapshot(ann)["phone"] == ""


def test_patch_giving_consent_records_the_api_as_its_source(
    api: Client, ann: Customer, frozen_now: datetime
) -> None:
    response = _patch(api, ann.pk, {"marketing_consent": True})

    assert response.status_code == 200
    body = _json(response)
    assert (body["marketing_consent"], body["consent_at"], body["consent_source"]) == (
        True,
        "2025-03-03T14:00:00Z",
        "api",
    )


def test_patch_to_an_email_taken_in_another_case_is_409_and_changes_nothing(
    api: Client, ann: Customer, make_customer: Callable[..., Customer], business: Business
) -> None:
    bob = make_customer(business, "bob@example.com", name="Bob Baker")
    before = _snapshot(bob)

    response = _patch(api, bob.pk, {"email": "Ann@Example.com", "name": "Bob Changed"})

    assert response.status_code == 409
    assert _json(response) == {
        "detail": "A customer with the email Ann@example.com already exists.",
        "errors": {"email": ["Already used by another customer."]},
    }
    assert _snapshot(bob) == before
    assert "customer.update" not in _audit_actions(business)


def test_patch_with_an_invalid_phone_is_400_and_changes_nothing(
    api: Client, ann: Customer, business: Business
) -> None:
    before = _snapshot(ann)

    response = _patch(api, ann.pk, {"name": "Ann Lee", "phone": "+1 555"})

    assert response.status_code == 400
    message = "“+1 555” is not a valid phone number."
    assert _json(response) == {"detail": message, "errors": {"phone": [message]}}
    assert _snapshot(ann) == before
    assert "customer.update" not in _audit_actions(business)


def test_patch_with_a_null_character_is_400_and_changes_nothing(api: Client, ann: Customer) -> None:
    before = _snapshot(ann)

    response = _patch(api, ann.pk, {"notes": "a\x00b"})

    assert response.status_code == 400
    assert _json(response)["errors"] == {"notes": ["Contains a null character."]}
    assert _snapshot(ann) == before


@pytest.mark.parametrize("body", [[], [None, None], "Ann Lee", 0, None])
def test_patch_with_a_body_that_is_not_an_object_is_422_and_changes_nothing(
    api: Client, ann: Customer, business: Business, body: Any
) -> None:
    # Found by schema fuzzing: `[null, null]` used to pass as an empty object and answer 200.
    before = _snapshot(ann)

    response = _patch(api, ann.pk, body)

    assert response.status_code == 422
    assert [error["loc"] for error in _json(response)["detail"]] == [["body", "payload"]]
    assert _snapshot(ann) == before


def test_patch_unknown_customer_is_404(api: Client, ann: Customer) -> None:
    response = _patch(api, ann.pk + 1000, {"name": "Nobody"})

    assert response.status_code == 404
    assert _json(response) == {"detail": "No customer with this id.", "errors": {}}


# Authentication


def test_request_without_a_token_is_401_with_a_hint(
    client: Client, ann: Customer, business: Business
) -> None:
    before = _snapshot(ann)

    responses = [
        client.get(URL),
        client.get(f"{URL}/{ann.pk}"),
        _post(client, {"email": "new@example.com"}),
        _patch(client, ann.pk, {"name": "Changed"}),
    ]

    assert [(r.status_code, _json(r)) for r in responses] == [(401, MISSING_TOKEN)] * 4
    assert _emails(business) == ["ann@example.com"]
    assert _snapshot(ann) == before


@pytest.mark.parametrize(
    "header",
    ["Token tb_abc", "Basic YW5uOnNlY3JldA==", "tb_abcdefgh_secret"],
)
def test_request_with_another_scheme_is_401_with_a_hint(
    client: Client, business: Business, header: str
) -> None:
    response = _post(client, {"email": "new@example.com"}, HTTP_AUTHORIZATION=header)

    assert (response.status_code, _json(response)) == (401, MISSING_TOKEN)
    assert _emails(business) == []


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "nonsense",
        "tb_abcdefgh_" + "x" * 43,
        "tb_" + "x" * 300,
        "tb_abcdefgh_\x00",
    ],
)
def test_request_with_an_unknown_token_is_401(
    client: Client, business: Business, make_token: Callable[..., str], secret: str
) -> None:
    make_token(business)

    response = _post(client, {"email": "new@example.com"}, **_bearer(secret))

    assert (response.status_code, _json(response)) == (401, INVALID_TOKEN)
    assert _emails(business) == []


def test_request_with_a_token_missing_one_character_is_401(
    client: Client, business: Business, make_token: Callable[..., str]
) -> None:
    secret = make_token(business)

    response = client.get(URL, **_bearer(secret[:-1]))

    assert (response.status_code, _json(response)) == (401, INVALID_TOKEN)


def test_request_with_a_revoked_token_is_401(
    client: Client, business: Business, ann: Customer, make_token: Callable[..., str]
) -> None:
    secret = make_token(business)
    with business_scope(business):
        api_token_revoke(token=ApiToken.objects.get(), actor=None)
    before = _snapshot(ann)

    responses = [
        client.get(URL, **_bearer(secret)),
        _post(client, {"email": "new@example.com"}, **_bearer(secret)),
        _patch(client, ann.pk, {"name": "Changed"}, **_bearer(secret)),
    ]

    assert [(r.status_code, _json(r)) for r in responses] == [(401, INVALID_TOKEN)] * 3
    assert _emails(business) == ["ann@example.com"]
    assert _snapshot(ann) == before


def test_request_for_a_deactivated_business_is_401(
    client: Client, business: Business, make_token: Callable[..., str]
) -> None:
    secret = make_token(business)
    with unscoped():
        Business.objects.filter(pk=business.pk).update(is_active=False)

    response = _post(client, {"email": "new@example.com"}, **_bearer(secret))

    assert (response.status_code, _json(response)) == (401, INVALID_TOKEN)
    assert _emails(business) == []


def test_request_marks_when_the_token_was_last_used(
    client: Client, business: Business, make_token: Callable[..., str], frozen_now: datetime
) -> None:
    secret = make_token(business)

    client.get(URL, **_bearer(secret))

    with business_scope(business):
        assert ApiToken.objects.get().last_used_at == frozen_now


# Scopes


def test_read_only_token_cannot_create(
    client: Client, business: Business, make_token: Callable[..., str]
) -> None:
    secret = make_token(business, scopes=["customers:read"])

    response = _post(client, {"email": "new@example.com"}, **_bearer(secret))

    assert response.status_code == 403
    assert _json(response) == {
        "detail": "This token does not have the customers:write scope.",
        "errors": {},
    }
    assert _emails(business) == []
    assert "customer.create" not in _audit_actions(business)


def test_read_only_token_cannot_edit(
    client: Client, business: Business, ann: Customer, make_token: Callable[..., str]
) -> None:
    secret = make_token(business, scopes=["customers:read"])
    before = _snapshot(ann)

    response = _patch(client, ann.pk, {"name": "Changed"}, **_bearer(secret))

    assert response.status_code == 403
    assert _json(response)["detail"] == "This token does not have the customers:write scope."
    assert _snapshot(ann) == before


def test_read_only_token_can_read(
    client: Client, business: Business, ann: Customer, make_token: Callable[..., str]
) -> None:
    secret = make_token(business, scopes=["customers:read"])

    assert client.get(URL, **_bearer(secret)).status_code == 200
    assert client.get(f"{URL}/{ann.pk}", **_bearer(secret)).status_code == 200


def test_write_only_token_cannot_read(
    client: Client, business: Business, ann: Customer, make_token: Callable[..., str]
) -> None:
    secret = make_token(business, scopes=["customers:write"])

    responses = [
        client.get(URL, **_bearer(secret)),
        client.get(f"{URL}/{ann.pk}", **_bearer(secret)),
    ]

    assert [(r.status_code, _json(r)) for r in responses] == [
        (403, {"detail": "This token does not have the customers:read scope.", "errors": {}})
    ] * 2


# Tenancy


def test_token_of_another_business_cannot_read_this_business_customer(
    client: Client, ann: Customer, other_business: Business, make_token: Callable[..., str]
) -> None:
    response = client.get(f"{URL}/{ann.pk}", **_bearer(make_token(other_business)))

    assert response.status_code == 404
    assert _json(response) == {"detail": "No customer with this id.", "errors": {}}


def test_token_of_another_business_cannot_edit_this_business_customer(
    client: Client,
    ann: Customer,
    business: Business,
    other_business: Business,
    make_token: Callable[..., str],
) -> None:
    before = _snapshot(ann)

    response = _patch(
        client,
        ann.pk,
        {"name": "Hijacked", "email": "rita@example.com", "marketing_consent": True},
        **_bearer(make_token(other_business)),
    )

    assert response.status_code == 404
    assert _json(response) == {"detail": "No customer with this id.", "errors": {}}
    assert _snapshot(ann) == before
    assert _audit_actions(business).count("customer.update") == 0
    assert "customer.update" not in _audit_actions(other_business)


def test_creating_with_another_business_token_lands_in_that_business(
    client: Client,
    ann: Customer,
    business: Business,
    other_business: Business,
    make_token: Callable[..., str],
) -> None:
    # The same email as this business's customer is no conflict over there.
    response = _post(client, {"email": "ann@example.com"}, **_bearer(make_token(other_business)))

    assert response.status_code == 201
    assert _emails(other_business) == ["ann@example.com"]
    assert _emails(business) == ["ann@example.com"]
    with business_scope(business):
        assert Customer.objects.get().pk == ann.pk
