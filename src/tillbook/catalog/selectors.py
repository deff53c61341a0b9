from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from tillbook.catalog.models import (
    Event,
    Offering,
    OfferingKind,
    OfferingState,
    TicketType,
    Variant,
)
from tillbook.core.models import Business
from tillbook.core.money import Money


def offerings_published(*, business: Business) -> QuerySet[Offering]:
    """What the business page lists (hidden offerings are reachable by their link only): only
    what can be bought now, so not an event that has started nor an offering whose every
    ticket type or variant was withdrawn (the same rules orders.pricing refuses a cart by)."""
    upcoming = Event.objects.filter(offering=OuterRef("pk"), starts_at__gt=timezone.now())
    ticket_types = TicketType.objects.filter(offering=OuterRef("pk"), is_active=True)
    variants = Variant.objects.filter(offering=OuterRef("pk"), is_active=True)
    return (
        Offering.objects.filter(business=business, state=OfferingState.PUBLISHED)
        .exclude(kind=OfferingKind.SERVICE)
        .filter(
            Q(Exists(upcoming), Exists(ticket_types), kind=OfferingKind.TICKET)
            | Q(Exists(variants), kind=OfferingKind.PHYSICAL)
            | ~Q(kind__in=(OfferingKind.TICKET, OfferingKind.PHYSICAL))
        )
    )


def offering_closed_reason(offering: Offering, options: list[Any]) -> str:
    """Why a buyer cannot buy `offering` now, from its active `options` (offering_options);
    empty when they can. The offering page says this instead of offering a buy form."""
    if offering.kind == OfferingKind.TICKET:
        event = getattr(offering, "event", None)
        if event is not None and event.starts_at <= timezone.now():
            return "This event has started; tickets are no longer on sale."
        if event is None:
            return "This is not on sale yet."
    if offering.kind in (OfferingKind.TICKET, OfferingKind.PHYSICAL) and not options:
        return "This is no longer on sale."
    return ""


def offering_public(*, business: Business, slug: str) -> Offering | None:
    return (
        Offering.objects.filter(
            business=business,
            slug=slug,
            state__in=(OfferingState.PUBLISHED, OfferingState.HIDDEN),
        )
        .select_related("event", "tax_class")
        .first()
    )


def offering_options(offering: Offering) -> list[Any]:
    """The active choices a buyer makes for an offering (variants or ticket types), each with
    its quota, in one query; empty for kinds without choices."""
    if offering.kind == OfferingKind.PHYSICAL:
        return list(offering.variants.filter(is_active=True).select_related("quota"))
    if offering.kind == OfferingKind.TICKET:
        return list(offering.ticket_types.filter(is_active=True).select_related("quota"))
    return []


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


@dataclass(frozen=True)
class OfferingPrice:
    """What a buyer pays for an offering: the cheapest and dearest of its active options (a
    variant or ticket type without a price of its own costs the offering's price), or the
    offering's price when it has no options to choose. The base price alone misleads: a
    free-entry event whose tickets cost money is not free."""

    low: Money
    high: Money
    options: int

    @property
    def is_free(self) -> bool:
        return self.high.amount == 0

    @property
    def varies(self) -> bool:
        return self.low != self.high


def offering_price(offering: Offering, option_prices: Iterable[int | None]) -> OfferingPrice:
    """The price of `offering` from the prices of its active options (None: the offering's)."""
    prices = [offering.price if price is None else price for price in option_prices]
    count = len(prices)
    prices = prices or [offering.price]  # nothing to choose: the offering's own price
    return OfferingPrice(
        Money(min(prices), offering.currency), Money(max(prices), offering.currency), count
    )


def offering_prices(offerings: list[Offering]) -> dict[int, OfferingPrice]:
    """offering_price for each offering by id, in one query per kind of option."""
    option_prices: dict[int, list[int | None]] = {offering.pk: [] for offering in offerings}
    for kind, model in ((OfferingKind.PHYSICAL, Variant), (OfferingKind.TICKET, TicketType)):
        ids = [offering.pk for offering in offerings if offering.kind == kind]
        if ids:
            rows = model.objects.filter(offering_id__in=ids, is_active=True)
            for offering_id, price in rows.values_list("offering_id", "price"):
                option_prices[offering_id].append(price)
    return {
        offering.pk: offering_price(offering, option_prices[offering.pk]) for offering in offerings
    }
