from __future__ import annotations

import pytest

from tillbook.core.models import Business
from tillbook.core.scoping import ScopeMissing, business_scope, unscoped
from tillbook.customers.models import Customer


def test_query_without_a_business_scope_fails_loudly(business: Business) -> None:
    with pytest.raises(ScopeMissing, match="Customer was queried without a business scope"):
        list(Customer.objects.all())
    with pytest.raises(ScopeMissing):
        Customer.objects.filter(email="a@example.com").exists()
    with pytest.raises(ScopeMissing):
        Customer.objects.count()


def test_scope_filters_every_query_to_its_business(
    business: Business, other_business: Business
) -> None:
    Customer(business=business, email="mine@example.com").save()
    Customer(business=other_business, email="theirs@example.com").save()
    with business_scope(business):
        assert list(Customer.objects.values_list("email", flat=True)) == ["mine@example.com"]
        # Even asking for the other business's rows by name returns nothing.
        assert Customer.objects.filter(business=other_business).count() == 0
    with unscoped():
        assert Customer.objects.count() == 2


def test_saving_a_row_of_another_business_inside_a_scope_is_refused(
    business: Business, other_business: Business
) -> None:
    with business_scope(business), pytest.raises(ScopeMissing, match="Refusing to save"):
        Customer(business=other_business, email="sneaky@example.com").save()
    with unscoped():
        assert Customer.objects.count() == 0


def test_scope_needs_a_saved_business() -> None:
    with pytest.raises(ValueError, match="saved business"), business_scope(Business(slug="x")):
        pass
