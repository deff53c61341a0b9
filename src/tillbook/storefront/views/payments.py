"""Public payment pages: a payment request's page (/pay/<token>/), the page the payer returns
to, and the sandbox processor's hosted test page."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from tillbook.core.errors import TillbookError
from tillbook.core.links import absolute_url
from tillbook.core.money import InvalidAmount, Money
from tillbook.core.scoping import business_scope, unscoped
from tillbook.core.tokens import secrets_match
from tillbook.payments.models import AmountType, Payment, PaymentState, RequestState
from tillbook.payments.polling import payment_confirm_on_return
from tillbook.payments.providers import enabled_providers
from tillbook.payments.providers.sandbox import sandbox_signature
from tillbook.payments.sandbox import sandbox_decline, sandbox_succeed, sandbox_succeed_later
from tillbook.payments.selectors import payment_request_by_token
from tillbook.payments.services import payment_start, request_is_payable


def _money_field(request: HttpRequest, name: str, currency: str, locale: str) -> Money | None:
    text = request.POST.get(name, "").strip()
    return Money.from_typed(text, currency, locale) if text else None


@require_http_methods(["GET", "POST"])
def pay(request: HttpRequest, token: str) -> HttpResponse:
    payment_request = payment_request_by_token(token=token)
    if payment_request is None:
        raise Http404("No payment request at this address.")
    business = payment_request.business
    with business_scope(business):
        providers = [
            p
            for p in enabled_providers(business=business)
            if not payment_request.allowed_providers or p.name in payment_request.allowed_providers
        ]
        error = ""
        status = 200
        try:
            request_is_payable(payment_request)
        except TillbookError as closed:
            error, status = closed.message, 410
        if request.method == "POST" and not error:
            try:
                currency, locale = payment_request.currency, business.locale
                amount = _money_field(request, "amount", currency, locale)
                tip = _money_field(request, "tip", currency, locale)
                return_url = absolute_url(reverse("storefront:pay_return", args=[token]))
                started = payment_start(
                    request=payment_request,
                    provider=request.POST.get("provider", ""),
                    amount=amount,
                    tip=tip,
                    return_url=return_url,
                    cancel_url=absolute_url(reverse("storefront:pay", args=[token])),
                    customer_email=request.POST.get("email", "").strip()[:254],
                )
            except InvalidAmount as bad:
                error, status = f"The amount is not valid: {bad}", 400
            except TillbookError as problem:
                error, status = problem.message, problem.status_code
            else:
                return redirect(started.redirect_url)
        return render(
            request,
            "storefront/pay.html",
            {
                "business": business,
                "payment_request": payment_request,
                "online_providers": [p for p in providers if p.is_online],
                "offline_providers": [p for p in providers if not p.is_online],
                "asks_amount": payment_request.amount_type != AmountType.FIXED,
                "error": error,
            },
            status=status,
        )


def pay_return(request: HttpRequest, token: str) -> HttpResponse:
    payment_request = payment_request_by_token(token=token)
    if payment_request is None:
        raise Http404("No payment request at this address.")
    with business_scope(payment_request.business):
        latest = (
            Payment.objects.filter(business=payment_request.business, request=payment_request)
            .order_by("-created_at", "-id")
            .first()
        )
        if latest is not None and latest.state == PaymentState.PENDING:
            payment_confirm_on_return(payment=latest)
            latest.refresh_from_db()
            payment_request.refresh_from_db()
        return render(
            request,
            "storefront/pay_return.html",
            {
                "business": payment_request.business,
                "payment_request": payment_request,
                "payment": latest,
                "is_paid": payment_request.state == RequestState.PAID,
                "is_waiting": latest is not None and latest.state == PaymentState.PENDING,
            },
        )


@require_http_methods(["GET", "POST"])
def sandbox_checkout(request: HttpRequest, payment_id: int, signature: str) -> HttpResponse:
    with unscoped():
        payment = (
            Payment.objects.select_related("business", "request").filter(pk=payment_id).first()
        )
    if (
        payment is None
        or payment.provider != "sandbox"
        or not secrets_match(sandbox_signature(payment), signature)
    ):
        raise Http404("No test payment at this address.")
    with business_scope(payment.business):
        if request.method == "POST" and payment.state in (
            PaymentState.CREATED,
            PaymentState.PENDING,
        ):
            outcome = request.POST.get("outcome")
            if outcome == "succeed":
                sandbox_succeed(payment)
            elif outcome == "decline":
                sandbox_decline(payment)
            elif outcome == "succeed_later":
                sandbox_succeed_later(payment)
            else:
                return HttpResponse("Choose an outcome.", status=400)
            target = payment.metadata.get("return_url") or absolute_url("/")
            return redirect(target)
        return render(
            request,
            "storefront/sandbox_checkout.html",
            {"business": payment.business, "payment": payment},
        )
