from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from tillbook.core.models import Business
from tillbook.payments.models import Payment, PaymentRequest, RefundState


def payment_request_by_token(*, token: str) -> PaymentRequest | None:
    """The request behind a public /pay/<token> link, across businesses (the token says which)."""
    from tillbook.core.scoping import unscoped

    with unscoped():
        return PaymentRequest.objects.filter(token=token).select_related("business").first()


def payments_for_business(*, business: Business) -> QuerySet[Payment]:
    return Payment.objects.filter(business=business).order_by("-created_at", "-id")


def payments_by_checkout(*, business: Business, provider: str, reference: str) -> QuerySet[Payment]:
    """The payment sent to `provider`'s checkout `reference` (a Stripe Checkout Session)."""
    return Payment.objects.filter(
        business=business, provider=provider, checkout_reference=reference
    ).exclude(checkout_reference="")  # payment_checkout_idx's condition: SQLite needs it said


def payments_for_request(*, request: PaymentRequest) -> QuerySet[Payment]:
    return Payment.objects.filter(business=request.business, request=request).order_by("created_at")


def payments_search(
    *,
    business: Business,
    query: str = "",
    state: str = "",
    provider: str = "",
    created_from: date | None = None,
    created_to: date | None = None,
) -> QuerySet[Payment]:
    """Payments for the back-office list and its CSV, newest first, with refunded totals."""
    payments = Payment.objects.filter(business=business).select_related("request")
    if state:
        payments = payments.filter(state=state)
    if provider:
        payments = payments.filter(provider=provider)
    zone = business.zone
    if created_from is not None:
        start = datetime.combine(created_from, time.min, tzinfo=zone)
        payments = payments.filter(created_at__gte=start)
    if created_to is not None:
        end = datetime.combine(created_to + timedelta(days=1), time.min, tzinfo=zone)
        payments = payments.filter(created_at__lt=end)
    query = " ".join(query.replace("\x00", "").split())
    if query:
        condition = (
            Q(customer_email__icontains=query)
            | Q(description__icontains=query)
            | Q(provider_reference__icontains=query)
            | Q(checkout_reference__icontains=query)
            | Q(request__title__icontains=query)
        )
        digits = query.removeprefix("P-").removeprefix("p-")
        if digits.isdecimal() and len(digits) < 18:
            condition |= Q(pk=int(digits))
        payments = payments.filter(condition)
    refunded = Sum("refunds__amount", filter=Q(refunds__state=RefundState.SUCCEEDED))
    return payments.annotate(refunded_amount=Coalesce(refunded, 0)).order_by("-created_at", "-id")


def payment_links_search(
    *, business: Business, query: str = "", state: str = ""
) -> QuerySet[PaymentRequest]:
    links = PaymentRequest.objects.filter(business=business, purpose="link")
    if state:
        links = links.filter(state=state)
    query = " ".join(query.replace("\x00", "").split())
    if query:
        links = links.filter(Q(title__icontains=query) | Q(description__icontains=query))
    return links.annotate(
        payment_count=Count("payments", filter=Q(payments__state="succeeded"))
    ).order_by("-created_at", "-id")
