from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
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
from tillbook.core.errors import NotFound
from tillbook.customers.models import ConsentSource, Customer
from tillbook.customers.selectors import customer_get, customers_search
from tillbook.customers.services import customer_create, customer_update

router = Router(tags=["customers"])

MAX_ID = 2**63 - 1


class CustomerOut(Schema):
    id: int
    email: str
    name: str
    phone: str = Field(description="E.164, e.g. +14155550123; empty when unknown")
    marketing_consent: bool
    consent_at: datetime | None
    consent_source: str
    tags: list[str]
    notes: str
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def of(customer: Customer) -> CustomerOut:
        return CustomerOut(
            id=customer.pk,
            email=customer.email,
            name=customer.name,
            phone=customer.phone,
            marketing_consent=customer.marketing_consent,
            consent_at=customer.consent_at,
            consent_source=customer.consent_source,
            tags=sorted(tag.name for tag in customer.tags.all()),
            notes=customer.notes,
            created_at=customer.created_at,
            updated_at=customer.updated_at,
        )


class CustomerPage(Schema):
    count: int
    items: list[CustomerOut]


class CustomerIn(BodySchema):
    email: str = Field(max_length=254)
    name: str = Field("", max_length=200)
    phone: str = Field("", max_length=40, description="Any format with a country code")
    notes: str = Field("", max_length=10_000)
    tags: list[str] = Field(default_factory=list, max_length=50)
    marketing_consent: bool = False


class CustomerPatch(BodySchema):
    email: str | None = Field(None, max_length=254)
    name: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=40)
    notes: str | None = Field(None, max_length=10_000)
    tags: list[str] | None = Field(None, max_length=50)
    marketing_consent: bool | None = None


@router.get("/customers", response={200: CustomerPage, **COMMON_ERRORS})
@requires_scope("customers:read")
def list_customers(
    request: HttpRequest,
    search: str = Query("", max_length=200, pattern=WITHOUT_NUL),
    tag: str = Query("", max_length=50, pattern=WITHOUT_NUL),
    marketing_consent: bool | None = None,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> CustomerPage:
    token = current_token(request)
    customers = customers_search(
        business=token.business, query=search, tag=tag, consent=marketing_consent, sort="-created"
    )
    page = customers.prefetch_related("tags")[offset : offset + limit]
    return CustomerPage(count=customers.count(), items=[CustomerOut.of(c) for c in page])


@router.post(
    "/customers", response={201: CustomerOut, 400: ErrorOut, 409: ErrorOut, **COMMON_ERRORS}
)
@requires_scope("customers:write")
def create_customer(request: HttpRequest, payload: CustomerIn) -> Status[CustomerOut]:
    token = current_token(request)
    customer = customer_create(
        business=token.business,
        actor=None,
        actor_label=f"API token {token.name}",
        consent_source=ConsentSource.API,
        **payload.dict(),
    )
    return Status(201, CustomerOut.of(customer))


def _get(request: HttpRequest, customer_id: int) -> Customer:
    customer = customer_get(business=current_token(request).business, customer_id=customer_id)
    if customer is None:
        raise NotFound("No customer with this id.")
    return customer


@router.get("/customers/{customer_id}", response={200: CustomerOut, 404: ErrorOut, **COMMON_ERRORS})
@requires_scope("customers:read")
def get_customer(
    request: HttpRequest, customer_id: int = Path(..., ge=1, le=MAX_ID)
) -> CustomerOut:
    return CustomerOut.of(_get(request, customer_id))


@router.patch(
    "/customers/{customer_id}",
    response={200: CustomerOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut, **COMMON_ERRORS},
)
@requires_scope("customers:write")
def update_customer(
    request: HttpRequest, payload: CustomerPatch, customer_id: int = Path(..., ge=1, le=MAX_ID)
) -> CustomerOut:
    token = current_token(request)
    customer = customer_update(
        customer=_get(request, customer_id),
        actor=None,
        actor_label=f"API token {token.name}",
        consent_source=ConsentSource.API,
        data=payload.dict(exclude_unset=True, exclude_none=True),
    )
    return CustomerOut.of(customer)
