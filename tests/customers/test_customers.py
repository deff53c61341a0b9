from __future__ import annotations

import pytest

from tillbook.core.errors import Conflict, InvalidInput
from tillbook.core.models import AuditEntry, Business, User
from tillbook.customers.models import Customer, Tag
from tillbook.customers.selectors import customers_search
from tillbook.customers.services import customer_create, customer_update


def test_create_normalises_and_records(scoped: Business, owner: User) -> None:
    customer = customer_create(
        business=scoped,
        actor=owner,
        email="Ann.Example@EXAMPLE.com ",
        name="  Ann   Example ",
        phone="(312) 555-0123",
        tags=["VIP", "vip", "newsletter"],
        marketing_consent=True,
    )
    assert customer.email == "Ann.Example@example.com"
    assert customer.name == "Ann Example"
    assert customer.phone == "+13125550123"
    assert sorted(customer.tags.values_list("name", flat=True)) == ["VIP", "newsletter"]
    assert customer.marketing_consent is True
    assert customer.consent_source == "staff"
    assert customer.consent_at == customer.created_at
    entry = AuditEntry.objects.get(action="customer.create")
    assert (entry.summary, entry.actor, entry.target_id) == (
        "Added customer Ann.Example@example.com",
        owner,
        str(customer.pk),
    )


def test_phone_is_read_in_the_business_country(scoped: Business, owner: User) -> None:
    scoped.country = "DE"
    scoped.save()
    customer = customer_create(
        business=scoped, actor=owner, email="k@example.de", phone="030 1234567"
    )
    assert customer.phone == "+49301234567"


def test_email_is_unique_ignoring_case(scoped: Business, owner: User) -> None:
    customer_create(business=scoped, actor=owner, email="ann@example.com")
    with pytest.raises(Conflict, match=r"the email ANN@example\.com already exists"):
        customer_create(business=scoped, actor=owner, email="ANN@Example.com")
    assert Customer.objects.count() == 1


def test_the_same_email_may_exist_in_two_businesses(
    business: Business, other_business: Business, owner: User
) -> None:
    from tillbook.core.scoping import business_scope

    with business_scope(business):
        customer_create(business=business, actor=owner, email="ann@example.com")
    with business_scope(other_business):
        customer_create(business=other_business, actor=None, email="ann@example.com")
        assert Customer.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": "not-an-email"}, "“not-an-email” is not a valid email address."),
        ({"email": ""}, "An email address is required."),
        ({"phone": "555-12"}, "“555-12” is not a valid phone number. Include the country code"),
        ({"tags": ["x" * 51]}, "longer than 50 characters"),
        ({"name": "Ann\x00"}, "The name contains a null character"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    scoped: Business, owner: User, fields: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {"email": "ok@example.com", **fields}
    with pytest.raises(InvalidInput) as error:
        customer_create(business=scoped, actor=owner, **arguments)  # type: ignore[arg-type]
    assert message in error.value.message
    assert Customer.objects.count() == 0
    assert Tag.objects.count() == 0
    assert AuditEntry.objects.filter(action="customer.create").count() == 0


def test_update_changes_given_fields_and_records_them(scoped: Business, owner: User) -> None:
    customer = customer_create(business=scoped, actor=owner, email="ann@example.com", name="Ann")
    customer_update(
        customer=customer,
        actor=owner,
        data={"name": "Ann Example", "tags": ["vip"], "marketing_consent": True},
    )
    customer.refresh_from_db()
    assert (customer.name, customer.marketing_consent, customer.consent_source) == (
        "Ann Example",
        True,
        "staff",
    )
    entry = AuditEntry.objects.get(action="customer.update")
    assert entry.changes == {
        "name": ["Ann", "Ann Example"],
        "tags": [[], ["vip"]],
        "marketing_consent": [False, True],
    }


def test_update_to_a_taken_email_changes_nothing(scoped: Business, owner: User) -> None:
    customer_create(business=scoped, actor=owner, email="ann@example.com")
    bob = customer_create(business=scoped, actor=owner, email="bob@example.com", name="Bob")
    with pytest.raises(Conflict, match="already exists"):
        customer_update(customer=bob, actor=owner, data={"email": "ANN@example.com", "name": "X"})
    bob.refresh_from_db()
    assert (bob.email, bob.name) == ("bob@example.com", "Bob")


def test_search_finds_a_phone_typed_with_its_national_zero(scoped: Business, owner: User) -> None:
    # Stored as +44 7911 123456; a British owner types it as 07911 123456 (or 0044 …).
    customer_create(business=scoped, actor=owner, email="ann@example.co.uk", phone="+447911123456")
    customer_create(business=scoped, actor=owner, email="bob@example.com", phone="+13125550123")

    def emails(query: str) -> list[str]:
        return list(customers_search(business=scoped, query=query).values_list("email", flat=True))

    assert emails("07911 123456") == ["ann@example.co.uk"]
    assert emails("0044 7911 123456") == ["ann@example.co.uk"]
    assert emails("0123") == ["bob@example.com"]


def test_search_and_filters(scoped: Business, owner: User) -> None:
    customer_create(
        business=scoped,
        actor=owner,
        email="ann@example.com",
        name="Ann Lee",
        phone="+13125550123",
        tags=["vip"],
        marketing_consent=True,
    )
    customer_create(business=scoped, actor=owner, email="bob@example.org", name="Bob Stone")
    customer_create(
        business=scoped, actor=owner, email="cy@example.org", name="Cy Leeds", tags=["VIP"]
    )

    def emails(**filters: object) -> list[str]:
        return list(customers_search(business=scoped, **filters).values_list("email", flat=True))  # type: ignore[arg-type]

    assert emails(query="lee") == ["ann@example.com", "cy@example.org"]
    assert emails(query="EXAMPLE.ORG") == ["bob@example.org", "cy@example.org"]
    assert emails(query="555-0123") == ["ann@example.com"]
    assert emails(tag="vip") == ["ann@example.com", "cy@example.org"]
    assert emails(consent=True) == ["ann@example.com"]
    assert emails(consent=False, tag="vip") == ["cy@example.org"]
