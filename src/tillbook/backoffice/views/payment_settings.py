"""Settings → Payments: which providers payers may use, and their keys (owners only: keys move
money). Saved secrets are never shown back, only their last four characters."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from tillbook.backoffice.access import business_of, business_view, page, user_of
from tillbook.backoffice.payment_forms import provider_form
from tillbook.backoffice.views.helpers import apply_error
from tillbook.core.errors import TillbookError
from tillbook.core.links import absolute_url
from tillbook.core.models import Role
from tillbook.payments.provider_accounts import (
    provider_account_save,
    provider_setup,
    provider_setups,
)
from tillbook.payments.providers import provider_classes


@business_view(Role.OWNER)
def settings_payments(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    return page(
        request,
        "backoffice/settings/payments.html",
        {"setups": provider_setups(business=business)},
        section="settings",
    )


@business_view(Role.OWNER)
@require_http_methods(["GET", "POST"])
def settings_payment_provider(request: HttpRequest, provider: str) -> HttpResponse:
    business = business_of(request)
    if provider not in provider_classes():
        raise Http404("No such payment provider.")
    setup = provider_setup(business=business, provider=provider)
    initial = {"is_enabled": setup.is_enabled, **setup.settings}
    form = provider_form(
        setup.provider, setup.saved_secrets, request.POST if request.method == "POST" else None
    )
    if request.method == "GET":
        form.initial = initial
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            fields = setup.provider.account_fields
            try:
                provider_account_save(
                    business=business,
                    provider=provider,
                    actor=user_of(request),
                    is_enabled=data["is_enabled"],
                    settings={f.name: data[f.name] for f in fields if not f.is_secret},
                    credentials={f.name: data[f.name] for f in fields if f.is_secret},
                )
            except TillbookError as error:
                apply_error(form, error)
                status = error.status_code
            else:
                messages.success(request, f"Saved {setup.provider.label}.")
                return redirect("backoffice:settings_payments", business.slug)
    webhook_url = ""
    if provider == "stripe":
        webhook_url = absolute_url(reverse("storefront:stripe_webhook", args=[business.slug]))
    return page(
        request,
        "backoffice/settings/payment_provider.html",
        {"setup": setup, "form": form, "webhook_url": webhook_url},
        status=status,
        section="settings",
    )
