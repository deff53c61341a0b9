"""Offerings: list, read, create and edit. Amounts are integers in minor units (cents)."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from django.utils import timezone
from ninja import Path, Query, Router, Schema, Status
from pydantic import Field

from tillbook.api.base import (
    COMMON_ERRORS,
    WITHOUT_NUL,
    BodySchema,
    ErrorOut,
    current_token,
    requires_scope,
)
from tillbook.catalog.models import Offering, OfferingKind, OfferingState, Quota
from tillbook.catalog.selectors import offerings_search
from tillbook.catalog.services import offering_create, offering_update
from tillbook.core.errors import NotFound
from tillbook.core.links import absolute_url
from tillbook.orders.capacity import quotas_available

router = Router(tags=["catalog"])
MAX_ID = 2**63 - 1


class OptionOut(Schema):
    id: int
    name: str
    price: int = Field(description="Minor units (e.g. cents)")
    available: int | None = Field(description="Places or items left; null when unlimited")


class EventOut(Schema):
    starts_at: datetime
    ends_at: datetime | None
    timezone: str
    venue_name: str
    venue_address: str
    online_url: str


class OfferingOut(Schema):
    id: int
    kind: str
    state: str
    title: str
    slug: str
    summary: str
    description: str = Field(description="Sanitised HTML")
    price: int = Field(description="Minor units (e.g. cents)")
    currency: str
    max_per_order: int
    url: str = Field(description="The public page (published and hidden offerings)")
    variants: list[OptionOut]
    ticket_types: list[OptionOut]
    event: EventOut | None

    @staticmethod
    def of(offering: Offering, *, with_availability: bool = False) -> OfferingOut:
        available: dict[int, int | None] = {}
        if with_availability:
            quotas = {q.pk: q for q in Quota.objects.filter(offering=offering)}
            available = quotas_available(quotas, now=timezone.now())

        def option(item: object) -> OptionOut:
            quota_id = getattr(item, "quota_id", None)
            price = getattr(item, "price", None)
            return OptionOut(
                id=item.pk,  # type: ignore[attr-defined]
                name=item.name,  # type: ignore[attr-defined]
                price=offering.price if price is None else price,
                available=available.get(quota_id) if quota_id else None,
            )

        event = getattr(offering, "event", None) if offering.kind == OfferingKind.TICKET else None
        return OfferingOut(
            id=offering.pk,
            kind=offering.kind,
            state=offering.state,
            title=offering.title,
            slug=offering.slug,
            summary=offering.summary,
            description=offering.description,
            price=offering.price,
            currency=offering.currency,
            max_per_order=offering.max_per_order,
            url=absolute_url(f"/{offering.business.slug}/p/{offering.slug}/"),
            variants=[option(v) for v in offering.variants.all() if v.is_active],
            ticket_types=[option(t) for t in offering.ticket_types.all() if t.is_active],
            event=EventOut(
                starts_at=event.starts_at,
                ends_at=event.ends_at,
                timezone=event.timezone,
                venue_name=event.venue_name,
                venue_address=event.venue_address,
                online_url=event.online_url,
            )
            if event is not None
            else None,
        )


class OfferingPage(Schema):
    count: int
    items: list[OfferingOut]


class OfferingIn(BodySchema):
    kind: OfferingKind
    title: str = Field(max_length=200)
    price: int = Field(0, ge=0, le=10**11, description="Minor units (e.g. cents)")
    state: OfferingState = OfferingState.DRAFT
    summary: str = Field("", max_length=300)
    description: str = Field("", max_length=100_000, description="HTML; sanitised")
    slug: str = Field("", max_length=80)
    max_per_order: int = Field(10, ge=1, le=10_000)


class OfferingPatch(BodySchema):
    title: str | None = Field(None, max_length=200)
    price: int | None = Field(None, ge=0, le=10**11)
    state: OfferingState | None = None
    summary: str | None = Field(None, max_length=300)
    description: str | None = Field(None, max_length=100_000)
    slug: str | None = Field(None, max_length=80)
    max_per_order: int | None = Field(None, ge=1, le=10_000)


def _related(queryset: object) -> object:
    return queryset.select_related("event", "business").prefetch_related(  # type: ignore[attr-defined]
        "variants", "ticket_types"
    )


@router.get("/offerings", response={200: OfferingPage, **COMMON_ERRORS})
@requires_scope("catalog:read")
def list_offerings(
    request: HttpRequest,
    search: str = Query("", max_length=200, pattern=WITHOUT_NUL),
    kind: OfferingKind | None = None,
    state: OfferingState | None = None,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> OfferingPage:
    offerings = offerings_search(
        business=current_token(request).business, query=search, kind=kind or "", state=state or ""
    )
    page = _related(offerings)[offset : offset + limit]  # type: ignore[index]
    return OfferingPage(count=offerings.count(), items=[OfferingOut.of(o) for o in page])


def _get(request: HttpRequest, offering_id: int) -> Offering:
    offering = _related(
        Offering.objects.filter(business=current_token(request).business, pk=offering_id)
    ).first()  # type: ignore[attr-defined]
    if offering is None:
        raise NotFound("No offering with this id.")
    return offering


@router.get("/offerings/{offering_id}", response={200: OfferingOut, 404: ErrorOut, **COMMON_ERRORS})
@requires_scope("catalog:read")
def get_offering(
    request: HttpRequest, offering_id: int = Path(..., ge=1, le=MAX_ID)
) -> OfferingOut:
    return OfferingOut.of(_get(request, offering_id), with_availability=True)


@router.post(
    "/offerings", response={201: OfferingOut, 400: ErrorOut, 409: ErrorOut, **COMMON_ERRORS}
)
@requires_scope("catalog:write")
def create_offering(request: HttpRequest, payload: OfferingIn) -> Status[OfferingOut]:
    token = current_token(request)
    data = payload.dict()
    offering = offering_create(
        business=token.business,
        actor=None,
        kind=data.pop("kind"),
        title=data.pop("title"),
        price=data.pop("price"),
        **data,
    )
    return Status(201, OfferingOut.of(offering))


@router.patch(
    "/offerings/{offering_id}",
    response={200: OfferingOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut, **COMMON_ERRORS},
)
@requires_scope("catalog:write")
def update_offering(
    request: HttpRequest, payload: OfferingPatch, offering_id: int = Path(..., ge=1, le=MAX_ID)
) -> OfferingOut:
    offering = offering_update(
        offering=_get(request, offering_id),
        actor=None,
        data=payload.dict(exclude_unset=True, exclude_none=True),
    )
    return OfferingOut.of(offering)
