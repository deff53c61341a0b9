from __future__ import annotations

from django.urls import reverse

from tillbook.core.links import absolute_url
from tillbook.core.tokens import hash_secret
from tillbook.payments.models import Payment, PaymentRequest, Refund
from tillbook.payments.providers.base import (
    CheckoutStart,
    PaymentProvider,
    PollOutcome,
    RefundOutcome,
)


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
    description = "Tillbook's test processor: a hosted page that succeeds or fails on request."
    needs_account = False
    is_test = True

    @classmethod
    def enabled_without_account(cls) -> bool:
        # Anyone can "pay" on the sandbox page, so a production business must switch it on
        # knowingly in Settings → Payments; development and the demo have it by default.
        from django.conf import settings

        return bool(settings.TILLBOOK_SANDBOX_ON_BY_DEFAULT)

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

    def poll(self, *, payment: Payment) -> PollOutcome | None:
        """The sandbox knows only one stuck case: "confirm a few seconds later" was chosen and
        its delayed webhook task never ran (lost with a worker). Anything else is a payer who
        has not decided yet, left alone."""
        from tillbook.payments.sandbox import sandbox_fee

        if payment.metadata.get("sandbox_outcome") != "succeed_later":
            return PollOutcome(state="pending")
        return PollOutcome(
            state="succeeded",
            provider_reference=f"sbx_pi_{payment.pk}",
            fee=sandbox_fee(payment),
            method="card",
        )
