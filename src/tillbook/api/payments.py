"""Payments, refunds and payment links. Amounts are integers in minor units of the business
currency (1250 = 12.50 USD), as everywhere in Tillbook."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from ninja import Header, Path, Query, Router, Schema, Status
from pydantic import Field

from tillbook.api.base import (
    COMMON_ERRORS,
    WITHOUT_NUL,
    BodySchema,
    ErrorOut,
    current_token,
    plausible_times,
    requires_scope,
)
from tillbook.core.errors import NotFound
from tillbook.core.money import Money
from tillbook.payments.models import Payment, PaymentRequest, Refund
from tillbook.payments.notifications import pay_url
from tillbook.payments.selectors import payment_links_search, payments_search
from tillbook.payments.services import (
    MAX_AMOUNT,
    payment_link_create,
    refund_create,
    refundable,
)

router = Router(tags=["payments"])

MAX_ID = 2**63 - 1


class RefundOut(Schema):
    id: int
    payment_id: int
    state: str = Field(description="pending, succeeded or failed")
    currency: str
    amount: int
    reason: str
    releases_capacity: bool
    provider_reference: str
    failure_reason: str
    created_at: datetime
    succeeded_at: datetime | None

    @staticmethod
    def of(refund: Refund) -> RefundOut:
        return RefundOut(
            id=refund.pk,
            payment_id=refund.payment_id,
            state=refund.state,
            currency=refund.currency,
            amount=refund.amount,
            reason=refund.reason,
            releases_capacity=refund.releases_capacity,
            provider_reference=refund.provider_reference,
            failure_reason=refund.failure_reason,
            created_at=refund.created_at,
            succeeded_at=refund.succeeded_at,
        )


class PaymentOut(Schema):
    id: int
    request_id: int | None
    purpose: str = Field(description="What the payment is for: order, booking, invoice, link…")
    title: str
    provider: str
    state: str = Field(description="created, pending, succeeded, failed or cancelled")
    currency: str
    amount: int = Field(description="Minor units, without the tip")
    tip_amount: int
    fee_amount: int | None = Field(description="The processor's fee, once known")
    net_amount: int | None = Field(description="amount + tip − fee")
    refunded_amount: int
    refundable_amount: int
    method: str
    customer_email: str
    provider_reference: str
    failure_reason: str
    created_at: datetime
    succeeded_at: datetime | None
    refunds: list[RefundOut]

    @staticmethod
    def of(payment: Payment) -> PaymentOut:
        refunds = list(payment.refunds.all())
        net = payment.net
        return PaymentOut(
            id=payment.pk,
            request_id=payment.request_id,
            purpose=payment.request.purpose if payment.request else "",
            title=payment.request.title if payment.request else payment.description,
            provider=payment.provider,
            state=payment.state,
            currency=payment.currency,
            amount=payment.amount,
            tip_amount=payment.tip_amount,
            fee_amount=payment.fee_amount,
            net_amount=net.amount if net is not None else None,
            refunded_amount=sum(r.amount for r in refunds if r.state == "succeeded"),
            refundable_amount=(
                refundable(payment, refunds=refunds).amount if payment.state == "succeeded" else 0
            ),
            method=payment.method,
            customer_email=payment.customer_email,
            provider_reference=payment.provider_reference,
            failure_reason=payment.failure_reason,
            created_at=payment.created_at,
            succeeded_at=payment.succeeded_at,
            refunds=[RefundOut.of(r) for r in sorted(refunds, key=lambda r: r.pk)],
        )


class PaymentPage(Schema):
    count: int
    items: list[PaymentOut]


class RefundIn(BodySchema):
    amount: int | None = Field(
        None, ge=1, le=MAX_AMOUNT, description="Minor units; omit to refund all that is left"
    )
    reason: str = Field("", max_length=300, description="Shown to the buyer in the email")
    releases_capacity: bool = Field(
        False, description="Give the place back (ticket, booking time, stock)"
    )


class PaymentLinkIn(BodySchema):
    title: str = Field(min_length=1, max_length=200)
    amount_type: Literal["fixed", "minimum", "open"] = "fixed"
    amount: int | None = Field(
        None, ge=1, le=MAX_AMOUNT, description="Minor units: the price, or the least accepted"
    )
    description: str = Field("", max_length=5000)
    tip_allowed: bool = False
    is_reusable: bool = False
    expires_at: datetime | None = None
    send_to: str | None = Field(
        None, max_length=254, description="Email the link to this address right away"
    )


class PaymentLinkOut(Schema):
    id: int
    title: str
    description: str
    state: str = Field(description="open, paid, expired or cancelled")
    currency: str
    amount_type: str
    amount: int | None
    amount_paid: int
    tip_allowed: bool
    is_reusable: bool
    expires_at: datetime | None
    url: str = Field(description="The public page where the payer pays: /pay/<token>/")
    created_at: datetime
    paid_at: datetime | None

    @staticmethod
    def of(link: PaymentRequest) -> PaymentLinkOut:
        return PaymentLinkOut(
            id=link.pk,
            title=link.title,
            description=link.description,
            state=link.state,
            currency=link.currency,
            amount_type=link.amount_type,
            amount=link.amount,
            amount_paid=link.amount_paid,
            tip_allowed=link.tip_allowed,
            is_reusable=link.is_reusable,
            expires_at=link.expires_at,
            url=pay_url(link),
            created_at=link.created_at,
            paid_at=link.paid_at,
        )


class PaymentLinkPage(Schema):
    count: int
    items: list[PaymentLinkOut]


def _with_refunds(payments: QuerySet[Payment]) -> QuerySet[Payment]:
    return payments.prefetch_related(
        Prefetch("refunds", queryset=Refund.objects.order_by("pk"))
    ).select_related("request")


@router.get("/payments", response={200: PaymentPage, **COMMON_ERRORS})
@requires_scope("payments:read")
def list_payments(
    request: HttpRequest,
    search: str = Query("", max_length=200, pattern=WITHOUT_NUL),
    state: Literal["", "created", "pending", "succeeded", "failed", "cancelled"] = "",
    provider: str = Query("", max_length=20, pattern=r"^[a-z_]*$"),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> PaymentPage:
    token = current_token(request)
    payments = payments_search(
        business=token.business, query=search, state=state, provider=provider
    )
    page = _with_refunds(payments)[offset : offset + limit]
    return PaymentPage(count=payments.count(), items=[PaymentOut.of(p) for p in page])


def _payment(request: HttpRequest, payment_id: int) -> Payment:
    found = _with_refunds(
        Payment.objects.filter(business=current_token(request).business, pk=payment_id)
    ).first()
    if found is None:
        raise NotFound("No payment with this id.")
    return found


@router.get("/payments/{payment_id}", response={200: PaymentOut, 404: ErrorOut, **COMMON_ERRORS})
@requires_scope("payments:read")
def get_payment(request: HttpRequest, payment_id: int = Path(..., ge=1, le=MAX_ID)) -> PaymentOut:
    return PaymentOut.of(_payment(request, payment_id))


@router.get(
    "/payments/{payment_id}/refunds",
    response={200: list[RefundOut], 404: ErrorOut, **COMMON_ERRORS},
)
@requires_scope("payments:read")
def list_refunds(
    request: HttpRequest, payment_id: int = Path(..., ge=1, le=MAX_ID)
) -> list[RefundOut]:
    payment = _payment(request, payment_id)
    return [RefundOut.of(refund) for refund in payment.refunds.all()]


@router.post(
    "/payments/{payment_id}/refunds",
    response={
        201: RefundOut,
        400: ErrorOut,
        404: ErrorOut,
        409: ErrorOut,
        502: ErrorOut,
        **COMMON_ERRORS,
    },
)
@requires_scope("payments:write")
def create_refund(
    request: HttpRequest,
    payload: RefundIn,
    payment_id: int = Path(..., ge=1, le=MAX_ID),
    idempotency_key: str = Header("", alias="Idempotency-Key", max_length=255, pattern=WITHOUT_NUL),
) -> Status[RefundOut]:
    """Refund all or part of a payment through its provider; the buyer is emailed. The
    refund's state is `pending` when the processor settles it later.

    Send an `Idempotency-Key` header (any unique text, e.g. a UUID) to retry safely: the same
    key for the same payment and amount returns the first refund instead of refunding again;
    the same key for another payment or amount is refused with 409."""
    payment = _payment(request, payment_id)
    refund = refund_create(
        payment=payment,
        amount=None if payload.amount is None else Money(payload.amount, payment.currency),
        reason=payload.reason,
        actor=None,
        releases_capacity=payload.releases_capacity,
        client_key=idempotency_key,
    )
    return Status(201, RefundOut.of(refund))


@router.get("/payment-links", response={200: PaymentLinkPage, **COMMON_ERRORS})
@requires_scope("payments:read")
def list_payment_links(
    request: HttpRequest,
    search: str = Query("", max_length=200, pattern=WITHOUT_NUL),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> PaymentLinkPage:
    links = payment_links_search(business=current_token(request).business, query=search)
    return PaymentLinkPage(
        count=links.count(),
        items=[PaymentLinkOut.of(link) for link in links[offset : offset + limit]],
    )


@router.post("/payment-links", response={201: PaymentLinkOut, 400: ErrorOut, **COMMON_ERRORS})
@requires_scope("payments:write")
def create_payment_link(request: HttpRequest, payload: PaymentLinkIn) -> Status[PaymentLinkOut]:
    plausible_times(expires_at=payload.expires_at)
    token = current_token(request)
    business = token.business
    link = payment_link_create(
        business=business,
        actor=None,
        actor_label=f"API token {token.name}",
        title=payload.title,
        amount=Money(payload.amount, business.currency) if payload.amount is not None else None,
        amount_type=payload.amount_type,
        description=payload.description,
        tip_allowed=payload.tip_allowed,
        is_reusable=payload.is_reusable,
        expires_at=payload.expires_at,
        send_to=payload.send_to or "",
    )
    return Status(201, PaymentLinkOut.of(link))


@router.get(
    "/payment-links/{link_id}", response={200: PaymentLinkOut, 404: ErrorOut, **COMMON_ERRORS}
)
@requires_scope("payments:read")
def get_payment_link(
    request: HttpRequest, link_id: int = Path(..., ge=1, le=MAX_ID)
) -> PaymentLinkOut:
    link = PaymentRequest.objects.filter(
        business=current_token(request).business, purpose="link", pk=link_id
    ).first()
    if link is None:
        raise NotFound("No payment link with this id.")
    return PaymentLinkOut.of(link)
