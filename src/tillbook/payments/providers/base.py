from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from tillbook.core.models import Business
    from tillbook.payments.models import Payment, PaymentRequest, ProviderAccount, Refund


@dataclass(frozen=True)
class CheckoutStart:
    """Where to send the payer, and the processor's ids known so far."""

    redirect_url: str
    checkout_reference: str = ""
    provider_reference: str = ""


@dataclass(frozen=True)
class RefundOutcome:
    succeeded: bool
    provider_reference: str = ""
    failure_reason: str = ""


class PaymentProvider:
    """Base of every processor adapter. Subclasses set `name` and `label` and implement the
    calls they support; webhook handling lives with each adapter's HTTP endpoint."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    # Payers pay online (redirect); False for cash and bank transfer recorded by staff.
    is_online: ClassVar[bool] = True
    # The business must configure the provider (credentials) before it can be used.
    needs_account: ClassVar[bool] = True
    supports_refunds: ClassVar[bool] = True
    is_test: ClassVar[bool] = False

    def __init__(self, *, business: Business, account: ProviderAccount | None) -> None:
        self.business = business
        self.account = account

    def start_checkout(
        self, *, payment: Payment, request: PaymentRequest, return_url: str, cancel_url: str
    ) -> CheckoutStart:
        raise NotImplementedError(f"{self.label} does not take online payments.")

    def refund(self, *, refund: Refund) -> RefundOutcome:
        raise NotImplementedError(f"{self.label} cannot refund through Tillbook.")

    def instructions(self) -> str:
        """What the payer is told to do (manual providers), shown on the order page."""
        return ""
