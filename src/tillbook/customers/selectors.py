from __future__ import annotations

from django.db.models import Q, QuerySet

from tillbook.core.models import Business
from tillbook.customers.models import Customer, Tag

SORTS = {
    "name": ("name", "email"),
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
    "email": ("email",),
}


def customers_search(
    *,
    business: Business,
    query: str = "",
    tag: str = "",
    consent: bool | None = None,
    sort: str = "name",
) -> QuerySet[Customer]:
    customers = Customer.objects.filter(business=business)
    # PostgreSQL refuses NUL characters in text; nobody searches for one on purpose.
    query = query.replace("\x00", "").strip()
    tag = tag.replace("\x00", "")
    if query:
        digits = "".join(ch for ch in query if ch.isdigit())
        match = Q(name__icontains=query) | Q(email__icontains=query)
        if len(digits) >= 4:
            match |= Q(phone__contains=digits)
        # Phones are stored in E.164 (+447911123456), without the national trunk zero or the
        # international 00 a person types (07911 123456, 0044 7911 123456).
        significant = digits.lstrip("0")
        if len(significant) >= 4 and significant != digits:
            match |= Q(phone__contains=significant)
        customers = customers.filter(match)
    if tag:
        customers = customers.filter(tags__name__iexact=tag)
    if consent is not None:
        customers = customers.filter(marketing_consent=consent)
    return customers.order_by(*SORTS.get(sort, SORTS["name"]))


def customer_get(*, business: Business, customer_id: int) -> Customer | None:
    return Customer.objects.filter(business=business, pk=customer_id).first()


def tags_for_business(*, business: Business) -> QuerySet[Tag]:
    return Tag.objects.filter(business=business).order_by("name")
