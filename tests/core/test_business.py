from __future__ import annotations

import pytest

from tillbook.core.errors import Conflict, InvalidInput
from tillbook.core.models import AuditEntry, Business, Membership, Role, User
from tillbook.core.scoping import business_scope, unscoped
from tillbook.core.services import business_create, business_update


@pytest.mark.django_db
def test_business_create_makes_the_owner_and_records_it(owner: User) -> None:
    with unscoped():
        business = business_create(
            slug="north-studio",
            name=" North Studio ",
            currency="eur",
            timezone_name="Europe/Berlin",
            locale="de-DE",
            owner=owner,
        )
        membership = Membership.objects.get(business=business)
        entry = AuditEntry.objects.get(business=business)
    assert (business.name, business.currency, business.timezone, business.locale) == (
        "North Studio",
        "EUR",
        "Europe/Berlin",
        "de_DE",
    )
    assert (membership.user, membership.role) == (owner, Role.OWNER)
    assert entry.action == "business.create"
    assert entry.summary == "Created North Studio (EUR, Europe/Berlin)"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("slug", "Not A Slug", "cannot be a business address"),
        ("slug", "admin", "admin is reserved by Tillbook"),
        ("currency", "ABC", "ABC is not an ISO 4217 currency code"),
        # ISO 4217 codes that no one pays in: no currency, testing, gold, special drawing rights.
        ("currency", "XXX", "XXX is not a currency customers pay in; choose one such as USD"),
        ("currency", "XTS", "XTS is not a currency customers pay in; choose one such as USD"),
        ("currency", "XAU", "XAU is not a currency customers pay in; choose one such as USD"),
        ("timezone_name", "Mars/Olympus", "Mars/Olympus is not a time zone"),
        ("timezone_name", "../../etc/passwd", "is not a time zone"),
        ("locale", "xx_YY", "xx_YY is not a known locale"),
        ("name", "   ", "A business needs a name."),
        ("name", "N" * 121, "A business name has at most 120 characters; this one has 121."),
    ],
)
def test_business_create_refuses_bad_input_and_writes_nothing(
    field: str, value: str, message: str
) -> None:
    arguments = {
        "slug": "fine",
        "name": "Fine",
        "currency": "USD",
        "timezone_name": "UTC",
        "locale": "en_US",
    }
    arguments[field] = value
    with unscoped():
        with pytest.raises(InvalidInput, match=message):
            business_create(**arguments)
        assert Business.objects.count() == 0
        assert AuditEntry.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("slug", "cannot be a business address: use 1–50 lowercase letters, digits and hyphens."),
        ("currency", "is not an ISO 4217 currency code (e.g. USD, EUR, GBP)."),
        ("timezone_name", "is not a time zone; use an IANA name such as Europe/Berlin or "
         "America/New_York."),
        ("locale", "is not a known locale (e.g. en_US, de_DE, fr_FR)."),
    ],
)  # fmt: skip
def test_a_long_value_is_repeated_in_its_message_by_its_start_only(
    field: str, message: str
) -> None:
    arguments = {"slug": "fine", "name": "Fine", "currency": "USD", "timezone_name": "UTC"}
    arguments[field] = "Q" * 5000
    with unscoped():
        with pytest.raises(InvalidInput) as refused:
            business_create(**arguments)
        assert Business.objects.count() == 0
    assert str(refused.value) == f"{'Q' * 40}… {message}"


def test_taken_address_is_a_conflict(business: Business) -> None:
    with unscoped(), pytest.raises(Conflict, match="The address acme is already taken"):
        business_create(slug="acme", name="Copy", currency="USD", timezone_name="UTC")
    with unscoped():
        assert Business.objects.count() == 1


def test_profile_update_records_changes_but_never_the_currency(
    business: Business, owner: User
) -> None:
    with business_scope(business):
        business_update(
            business=business,
            actor=owner,
            data={"contact_email": "hi@acme.example.com", "timezone": "Europe/Paris"},
        )
        entry = AuditEntry.objects.filter(action="business.update").get()
        with pytest.raises(InvalidInput, match="cannot be changed here: currency"):
            business_update(business=business, actor=owner, data={"currency": "EUR"})
    business.refresh_from_db()
    assert (business.contact_email, business.timezone, business.currency) == (
        "hi@acme.example.com",
        "Europe/Paris",
        "USD",
    )
    assert entry.changes == {
        "contact_email": ["", "hi@acme.example.com"],
        "timezone": ["America/Chicago", "Europe/Paris"],
    }


def test_bad_brand_colour_is_refused_and_nothing_changes(business: Business, owner: User) -> None:
    with business_scope(business), pytest.raises(InvalidInput) as error:
        business_update(business=business, actor=owner, data={"brand_color": "red"})
    assert "brand_color" in error.value.field_errors
    business.refresh_from_db()
    assert business.brand_color == "#1f6feb"
