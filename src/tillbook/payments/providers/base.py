from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from tillbook.core.models import Business
    from tillbook.core.money import Money
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
    # Neither succeeded nor failed yet (the processor settles it later, or did not answer):
    # the refund stays pending and can be sent again with the same idempotency key.
    is_pending: bool = False


@dataclass(frozen=True)
class PollOutcome:
    """What the processor says about a payment that is still pending on our side."""

    state: str  # "succeeded", "failed" or "pending"
    provider_reference: str = ""
    fee: Money | None = None
    method: str = ""
    failure_reason: str = ""
    other_reference: str = ""  # another id of the payment (Stripe: its charge)


@dataclass(frozen=True)
class RefundPollOutcome:
    """What the processor says about a refund still pending on our side."""

    state: str  # "succeeded", "failed" or "pending"
    failure_reason: str = ""


@dataclass(frozen=True)
class AccountField:
    """One setting a business enters for a provider in Settings → Payments."""

    name: str
    label: str
    help_text: str = ""
    # Secrets are encrypted at rest and never shown back in full.
    is_secret: bool = False
    # Needed before the provider can be switched on.
    required: bool = False
    multiline: bool = False


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
    # What the owner enters in Settings → Payments.
    account_fields: ClassVar[tuple[AccountField, ...]] = ()
    description: ClassVar[str] = ""
    # The payer's return page asks the processor (poll) instead of waiting for the webhook.
    confirms_on_return: ClassVar[bool] = False

    def __init__(self, *, business: Business, account: ProviderAccount | None) -> None:
        self.business = business
        self.account = account

    @classmethod
    def enabled_without_account(cls) -> bool:
        """Whether a business that never configured this provider can use it."""
        return not cls.needs_account

    @classmethod
    def check_account(cls, *, settings: dict[str, str], credentials: dict[str, str]) -> None:
        """Raise InvalidInput (with field_errors) when the entered values cannot work."""

    @classmethod
    def is_test_account(cls, *, credentials: dict[str, str]) -> bool:
        return cls.is_test

    def credentials(self) -> dict[str, str]:
        from tillbook.payments.credentials import credentials_decrypt

        if self.account is None:
            return {}
        return credentials_decrypt(self.account.credentials_encrypted)

    def start_checkout(
        self, *, payment: Payment, request: PaymentRequest, return_url: str, cancel_url: str
    ) -> CheckoutStart:
        raise NotImplementedError(f"{self.label} does not take online payments.")

    def refund(self, *, refund: Refund) -> RefundOutcome:
        raise NotImplementedError(f"{self.label} cannot refund through Tillbook.")

    def poll(self, *, payment: Payment) -> PollOutcome | None:
        """Ask the processor about a payment stuck in pending; None when it cannot be asked."""
        return None

    def poll_refund(self, *, refund: Refund) -> RefundPollOutcome | None:
        """Ask the processor about a refund it answered "pending"; None when it cannot be
        asked."""
        return None

    def instructions(self) -> str:
        """What the payer is told to do (manual providers), shown on the order page."""
        return ""
