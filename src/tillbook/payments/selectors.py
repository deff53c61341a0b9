from __future__ import annotations

from django.db.models import QuerySet

from tillbook.core.models import Business
from tillbook.payments.models import Payment, PaymentRequest


def payment_request_by_token(*, token: str) -> PaymentRequest | None:
    """The request behind a public /pay/<token> link, across businesses (the token says which)."""
    from tillbook.core.scoping import unscoped

    with unscoped():
        return PaymentRequest.objects.filter(token=token).select_related("business").first()


def payments_for_business(*, business: Business) -> QuerySet[Payment]:
    return Payment.objects.filter(business=business).order_by("-created_at", "-id")


def payments_for_request(*, request: PaymentRequest) -> QuerySet[Payment]:
    return Payment.objects.filter(business=request.business, request=request).order_by("created_at")
