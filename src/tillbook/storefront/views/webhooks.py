"""Processor webhooks: /hooks/stripe/<business-slug>/. The view only finds the business and
hands the raw body to payments.webhooks, which verifies and handles it."""

from __future__ import annotations

from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tillbook.core.models import Business
from tillbook.core.scoping import business_scope
from tillbook.payments.webhooks import stripe_webhook_receive


@csrf_exempt  # Stripe signs its deliveries; there is no session or form to protect
@require_POST
def stripe_webhook(request: HttpRequest, business_slug: str) -> JsonResponse:
    business = Business.objects.filter(slug=business_slug, is_active=True).first()
    if business is None:
        raise Http404("No business at this address.")
    with business_scope(business):
        result = stripe_webhook_receive(
            business=business,
            payload=request.body,
            header=request.headers.get("Stripe-Signature", ""),
        )
    return JsonResponse(
        {"received": result.status == 200, "detail": result.outcome}, status=result.status
    )
