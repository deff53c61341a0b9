from __future__ import annotations

from django.db.models import QuerySet

from tillbook.catalog.models import Offering, OfferingState
from tillbook.core.models import Business


def offerings_published(*, business: Business) -> QuerySet[Offering]:
    """What the business page lists (hidden offerings are reachable by their link only)."""
    return Offering.objects.filter(business=business, state=OfferingState.PUBLISHED).exclude(
        kind="service"
    )


def offering_public(*, business: Business, slug: str) -> Offering | None:
    return (
        Offering.objects.filter(
            business=business,
            slug=slug,
            state__in=(OfferingState.PUBLISHED, OfferingState.HIDDEN),
        )
        .select_related("event", "tax_class")
        .prefetch_related("variants", "ticket_types")
        .first()
    )


def offerings_search(
    *, business: Business, query: str = "", kind: str = "", state: str = ""
) -> QuerySet[Offering]:
    offerings = Offering.objects.filter(business=business)
    query = query.replace("\x00", "").strip()
    if query:
        offerings = offerings.filter(title__icontains=query)
    if kind:
        offerings = offerings.filter(kind=kind)
    if state:
        offerings = offerings.filter(state=state)
    return offerings.order_by("position", "title")
