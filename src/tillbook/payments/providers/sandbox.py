from __future__ import annotations

from django.urls import reverse

from tillbook.core.links import absolute_url
from tillbook.core.tokens import hash_secret
from tillbook.payments.models import Payment, PaymentRequest, Refund
from tillbook.payments.providers.base import CheckoutStart, PaymentProvider, RefundOutcome


def sandbox_signature(payment: Payment) -> str:
    """Binds the hosted test page to one payment so its URL cannot be guessed or reused."""
    from django.conf import settings

    return hash_secret(
        f"sandbox:{payment.pk}:{payment.created_at.isoformat()}:{settings.SECRET_KEY}"
    )[:32]


class SandboxProvider(PaymentProvider):
    """Tillbook's own test processor. Its hosted page lets the payer succeed, fail, or succeed
    with a delayed webhook; nothing real is charged. Used by the demo and browser tests."""

    name = "sandbox"
    label = "Sandbox (test payments)"
    needs_account = False
    is_test = True

    def start_checkout(
        self, *, payment: Payment, request: PaymentRequest, return_url: str, cancel_url: str
    ) -> CheckoutStart:
        path = reverse("storefront:sandbox_checkout", args=[payment.pk, sandbox_signature(payment)])
        payment.metadata = {**payment.metadata, "return_url": return_url, "cancel_url": cancel_url}
        payment.save(update_fields=["metadata"])
        return CheckoutStart(
            redirect_url=absolute_url(path), checkout_reference=f"sbx_cs_{payment.pk}"
        )

    def refund(self, *, refund: Refund) -> RefundOutcome:
        return RefundOutcome(succeeded=True, provider_reference=f"sbx_re_{refund.pk}")
