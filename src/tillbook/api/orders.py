"""Orders and checkouts. A checkout places an order (holding its places for the reservation
time) and answers with the URL where the buyer pays. Amounts are minor units (cents)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
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
from tillbook.core.errors import InvalidInput, NotFound
from tillbook.core.links import absolute_url
from tillbook.core.money import Money
from tillbook.orders.links import order_url
from tillbook.orders.models import Order, OrderState
from tillbook.orders.pricing import CartItem
from tillbook.orders.selectors import orders_search
from tillbook.orders.services import order_place

router = Router(tags=["orders"])
MAX_ID = 2**63 - 1


class LineOut(Schema):
    offering_id: int | None
    kind: str
    title: str
    option: str
    unit_price: int
    quantity: int
    discount: int
    tax_rate: str
    tax: int
    total: int
    capacity: str
    released: int = Field(
        description=(
            "Places of the line given back by refunds (a part refund gives back only the "
            "places it pays for; the line holds quantity - released)"
        )
    )


class OrderOut(Schema):
    id: int
    number: int
    state: str
    email: str
    name: str
    currency: str
    subtotal: int
    discount: int
    shipping: int
    tax: int
    total: int
    refunded: int
    created_at: datetime
    paid_at: datetime | None
    reserved_until: datetime | None
    paid_without_place: bool
    lines: list[LineOut]
    order_url: str = Field(description="The buyer's private order page")
    payment_url: str = Field(description="Where the buyer pays; empty once paid or for free orders")
    utm_source: str
    utm_medium: str
    utm_campaign: str

    @staticmethod
    def of(order: Order) -> OrderOut:
        pay = ""
        if order.state == OrderState.PENDING and order.payment_request is not None:
            pay = absolute_url(reverse("storefront:pay", args=[order.payment_request.token]))
        return OrderOut(
            id=order.pk,
            number=order.number,
            state=order.state,
            email=order.email,
            name=order.name,
            currency=order.currency,
            subtotal=order.subtotal,
            discount=order.discount_total,
            shipping=order.shipping_total,
            tax=order.tax_total,
            total=order.total,
            refunded=order.refunded_total,
            created_at=order.created_at,
            paid_at=order.paid_at,
            reserved_until=order.reserved_until,
            paid_without_place=order.capacity_shortfall,
            lines=[
                LineOut(
                    offering_id=line.offering_id,
                    kind=line.kind,
                    title=line.title,
                    option=line.variant_name,
                    unit_price=line.unit_price,
                    quantity=line.quantity,
                    discount=line.discount,
                    tax_rate=str(line.tax_rate),
                    tax=line.tax_amount,
                    total=line.total,
                    capacity=line.capacity_state,
                    released=line.released_quantity,
                )
                for line in order.lines.all()
            ],
            order_url=order_url(order),
            payment_url=pay,
            utm_source=order.utm_source,
            utm_medium=order.utm_medium,
            utm_campaign=order.utm_campaign,
        )


class OrderPage(Schema):
    count: int
    items: list[OrderOut]


class ItemIn(Schema):
    offering_id: int = Field(ge=1, le=MAX_ID)
    quantity: int = Field(ge=1, le=100)
    variant_id: int | None = Field(None, ge=1, le=MAX_ID)
    ticket_type_id: int | None = Field(None, ge=1, le=MAX_ID)


class AddressIn(Schema):
    line1: str = Field("", max_length=200)
    line2: str = Field("", max_length=200)
    city: str = Field("", max_length=200)
    region: str = Field("", max_length=200)
    postal_code: str = Field("", max_length=40)
    country: str = Field("", max_length=2)


class CheckoutIn(BodySchema):
    items: list[ItemIn] = Field(min_length=1, max_length=50)
    email: str = Field(max_length=254)
    name: str = Field(max_length=200)
    phone: str = Field("", max_length=40)
    currency: str | None = Field(None, max_length=3, description="Must be the business's")
    expected_total: int | None = Field(
        None, ge=0, le=10**13, description="Refuse (409) unless the total is this (minor units)"
    )
    discount_code: str = Field("", max_length=40)
    shipping_rate_id: int | None = Field(None, ge=1, le=MAX_ID)
    shipping_address: AddressIn | None = None
    marketing_consent: bool = False
    attribution: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description='{"first": touch, "latest": touch}; touch keys: landing, referrer, utm_*',
    )
    provider: str = Field(
        "", max_length=20, description="Start the payment now (e.g. sandbox) for a direct URL"
    )


class CheckoutOut(Schema):
    order: OrderOut
    payment_url: str = Field(description="Tillbook's pay page for this order")
    checkout_url: str = Field(description="The provider's page, when `provider` was given")


def _orders(queryset: QuerySet[Order]) -> QuerySet[Order]:
    return queryset.select_related("payment_request", "business").prefetch_related("lines")


@router.get("/orders", response={200: OrderPage, **COMMON_ERRORS})
@requires_scope("orders:read")
def list_orders(
    request: HttpRequest,
    search: str = Query("", max_length=200, pattern=WITHOUT_NUL),
    state: OrderState | None = None,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> OrderPage:
    orders = orders_search(
        business=current_token(request).business, query=search, state=state or ""
    )
    page = _orders(orders)[offset : offset + limit]
    return OrderPage(count=orders.count(), items=[OrderOut.of(o) for o in page])


@router.get("/orders/{order_id}", response={200: OrderOut, 404: ErrorOut, **COMMON_ERRORS})
@requires_scope("orders:read")
def get_order(request: HttpRequest, order_id: int = Path(..., ge=1, le=MAX_ID)) -> OrderOut:
    order = _orders(
        Order.objects.filter(business=current_token(request).business, pk=order_id)
    ).first()
    if order is None:
        raise NotFound("No order with this id.")
    return OrderOut.of(order)


@router.post(
    "/checkouts",
    response={201: CheckoutOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut, **COMMON_ERRORS},
)
@requires_scope("orders:write")
def create_checkout(request: HttpRequest, payload: CheckoutIn) -> Status[CheckoutOut]:
    from tillbook.payments.providers import provider_for
    from tillbook.payments.services import payment_start

    business = current_token(request).business
    if payload.provider:
        # Refuse a provider that cannot start a payment before placing the order: afterwards the
        # 400 would leave an order holding its places that the client believes was never made.
        adapter = provider_for(business=business, name=payload.provider)
        if not adapter.is_online:
            raise InvalidInput(
                f"{adapter.label} is paid outside Tillbook: follow the instructions."
            )
    address: dict[str, Any] | None = (
        payload.shipping_address.dict() if payload.shipping_address else None
    )
    order = order_place(
        business=business,
        items=[
            CartItem(i.offering_id, i.quantity, i.variant_id, i.ticket_type_id)
            for i in payload.items
        ],
        email=payload.email,
        name=payload.name,
        phone=payload.phone,
        currency=payload.currency,
        discount_code=payload.discount_code,
        shipping_rate_id=payload.shipping_rate_id,
        shipping_address=address,
        expected_total=(
            Money(payload.expected_total, business.currency)
            if payload.expected_total is not None
            else None
        ),
        attribution=payload.attribution,
        marketing_consent=payload.marketing_consent,
        source="api",
    )
    pay_url = checkout_url = ""
    if order.payment_request is not None:
        pay_url = absolute_url(reverse("storefront:pay", args=[order.payment_request.token]))
        if payload.provider:
            started = payment_start(
                request=order.payment_request,
                provider=payload.provider,
                return_url=order_url(order),
                cancel_url=order_url(order),
                customer_email=order.email,
            )
            checkout_url = started.redirect_url
    return Status(
        201, CheckoutOut(order=OrderOut.of(order), payment_url=pay_url, checkout_url=checkout_url)
    )
