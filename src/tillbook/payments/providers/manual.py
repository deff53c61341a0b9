from __future__ import annotations

from tillbook.payments.models import Refund
from tillbook.payments.providers.base import AccountField, PaymentProvider, RefundOutcome


class ManualProvider(PaymentProvider):
    """Cash, bank transfer, Venmo/Zelle and the like: the payer follows instructions and staff
    record what arrived. Refunds are money handed back outside Tillbook, recorded here."""

    name = "manual"
    label = "Cash or bank transfer"
    is_online = False
    needs_account = False
    description = (
        "Cash, bank transfer, Venmo or Zelle: payers follow your instructions and you record "
        "what arrived."
    )
    account_fields = (
        AccountField(
            "instructions",
            "Instructions for payers",
            "Shown on payment pages: bank details, a Venmo or Zelle handle, or where to pay "
            "in cash.",
            multiline=True,
        ),
    )

    def instructions(self) -> str:
        if self.account is None:
            return ""
        return str(self.account.settings.get("instructions", ""))

    def refund(self, *, refund: Refund) -> RefundOutcome:
        return RefundOutcome(succeeded=True, provider_reference=f"manual-{refund.pk}")
