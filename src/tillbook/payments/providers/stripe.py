"""Stripe through the official SDK: Checkout Sessions, refunds, and reading what Stripe says
about a payment (its PaymentIntent, the charge's fee from the balance transaction) and about a
payout (the balance transactions it carried).

Every call goes to settings.TILLBOOK_STRIPE_API_BASE, so tests and staging can point the
adapter at a server that speaks Stripe's API. Webhooks are verified and handled in
payments.webhooks.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import stripe
from django.conf import settings

from tillbook.core.errors import InvalidInput, TillbookError
from tillbook.core.money import (
    PROCESSOR_THREE_DECIMAL,
    InvalidAmount,
    Money,
    currency_precision,
    is_known_currency,
    processor_precision,
)
from tillbook.payments.models import Payment, PaymentRequest, Refund
from tillbook.payments.providers.base import (
    AccountField,
    CheckoutStart,
    PaymentProvider,
    PollOutcome,
    RefundOutcome,
    RefundPollOutcome,
)

logger = logging.getLogger(__name__)

SECRET_KEY_PREFIXES = ("sk_live_", "sk_test_", "rk_live_", "rk_test_")
# Connection retries by the SDK reuse the request's idempotency key, so they cannot double up.
NETWORK_RETRIES = 2
TIMEOUT_SECONDS = 30


class ProcessorError(TillbookError):
    """The processor could not be reached or refused the call."""

    status_code = 502


@dataclass(frozen=True)
class ChargeDetails:
    """What a succeeded PaymentIntent tells about the money: its id, fee and method."""

    payment_intent_id: str
    status: str
    fee: Money | None
    method: str
    failure_reason: str = ""
    charge_id: str = ""  # the intent's latest charge: how Stripe's exports name the sale


DECLINED = "The payment was declined."
NOT_AUTHENTICATED = "Your bank did not confirm the payment. Please try again, or use another card."


# Stripe's refunds: re_… for cards, pyr_… for bank debits and other non-card methods (the
# refunds it mostly answers "pending" for, and settles days later).
REFUND_PREFIXES = ("re_", "pyr_")


def refund_failure(refund: dict[str, Any]) -> str:
    """Why Stripe did not make a refund, for staff: "expired or canceled card"."""
    reason = str(refund.get("failure_reason") or refund.get("status") or "").replace("_", " ")
    return f"Stripe could not refund: {reason}."


def payer_message(error: object) -> str:
    """What the payer is told of a PaymentIntent's last_payment_error. Stripe's message is
    meant for the payer only for card errors; the others speak of API objects to a
    developer ("The provided PaymentMethod has failed authentication…")."""
    if not isinstance(error, dict) or not error:
        return DECLINED
    if error.get("type") == "card_error" and isinstance(error.get("message"), str):
        return error["message"].strip()[:300] or DECLINED
    if error.get("code") == "payment_intent_authentication_failure":
        return NOT_AUTHENTICATED
    return DECLINED


def _plain(value: Any) -> dict[str, Any]:
    if isinstance(value, stripe.StripeObject):
        return value.to_dict()
    return dict(value or {})


# Stripe's own count of decimals per currency is processor_precision (core.money); Tillbook
# counts minor units as CLDR does (Money), and the two differ: CLDR gives the Colombian peso,
# the Indonesian rupiah, the forint and the króna (among others) no decimals, Stripe two, so
# 50,000 pesos are 50000 in Tillbook and 5000000 at Stripe. Every amount crossing to or from
# Stripe goes through these two functions.


def _stripe_shift(currency: str) -> int:
    code = currency.upper()
    if not is_known_currency(code):
        return 0  # refused where it matters (Money); passed through as it came
    return processor_precision(code) - currency_precision(code)


def stripe_amount(minor: int, currency: str) -> int:
    """Tillbook's minor units of `currency` as Stripe counts them."""
    shift = _stripe_shift(currency)
    if currency.upper() in PROCESSOR_THREE_DECIMAL and minor % 10:
        # Stripe's payment partners need the last of the three digits to be 0.
        raise InvalidInput(
            f"Stripe takes {currency.upper()} amounts in steps of 0.010: "
            f"{Money(minor, currency.upper()).format()} cannot be charged through Stripe."
        )
    if shift >= 0:
        return minor * 10**shift
    factor = 10**-shift
    if minor % factor:
        digits = currency_precision(currency.upper()) + shift
        raise InvalidInput(
            f"Stripe takes {currency.upper()} amounts to {digits} decimals at most: "
            f"{Money(minor, currency.upper()).format()} cannot be charged through Stripe."
        )
    return minor // factor


def tillbook_amount(amount: int, currency: str) -> int:
    """An amount Stripe sent, in Tillbook's minor units of `currency` (rounded half away from
    zero where Stripe counts finer: a forint charge made with fillér in Stripe's dashboard)."""
    shift = _stripe_shift(currency)
    if shift <= 0:
        return amount * 10**-shift
    factor = 10**shift
    whole = (abs(amount) * 2 + factor) // (2 * factor)
    return whole if amount >= 0 else -whole


class StripeProvider(PaymentProvider):
    name = "stripe"
    label = "Card (Stripe)"
    confirms_on_return = True
    description = "Cards, wallets and local payment methods through your own Stripe account."
    account_fields = (
        AccountField(
            "secret_key",
            "Secret key",
            "Starts with sk_live_ (sk_test_ for test mode). Stripe Dashboard → Developers → "
            "API keys. A restricted key (rk_…) needs write access to Checkout Sessions and "
            "Refunds and read access to PaymentIntents, Charges, Payouts and Balance transactions.",
            is_secret=True,
            required=True,
        ),
        AccountField(
            "webhook_secret",
            "Webhook signing secret",
            "Starts with whsec_. Shown when you add the webhook endpoint (address above) in Stripe "
            "Dashboard → Developers → Webhooks.",
            is_secret=True,
            required=True,
        ),
    )

    @classmethod
    def check_account(cls, *, settings: dict[str, str], credentials: dict[str, str]) -> None:
        errors: dict[str, list[str]] = {}
        secret_key = credentials.get("secret_key", "")
        if secret_key and not secret_key.startswith(SECRET_KEY_PREFIXES):
            errors["secret_key"] = ["A Stripe secret key starts with sk_live_ or sk_test_."]
        webhook_secret = credentials.get("webhook_secret", "")
        if webhook_secret and not webhook_secret.startswith("whsec_"):
            errors["webhook_secret"] = ["A webhook signing secret starts with whsec_."]
        if errors:
            raise InvalidInput("Check the Stripe keys.", field_errors=errors)

    @classmethod
    def is_test_account(cls, *, credentials: dict[str, str]) -> bool:
        return credentials.get("secret_key", "").startswith(("sk_test_", "rk_test_"))

    # The SDK client ---------------------------------------------------------------------

    def client(self) -> stripe.StripeClient:
        secret_key = self.credentials().get("secret_key", "")
        if not secret_key:
            raise InvalidInput("Stripe is not set up: enter the secret key in Settings → Payments.")
        return stripe.StripeClient(
            secret_key,
            base_addresses={"api": settings.TILLBOOK_STRIPE_API_BASE},
            max_network_retries=NETWORK_RETRIES,
            http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
        )

    # Checkout ---------------------------------------------------------------------------

    def start_checkout(
        self, *, payment: Payment, request: PaymentRequest, return_url: str, cancel_url: str
    ) -> CheckoutStart:
        currency = payment.currency.lower()
        line_items: list[dict[str, Any]] = [
            {
                "quantity": 1,
                "price_data": {
                    "currency": currency,
                    "unit_amount": stripe_amount(payment.amount, currency),
                    "product_data": {"name": request.title[:250]},
                },
            }
        ]
        if payment.tip_amount:
            line_items.append(
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency,
                        "unit_amount": stripe_amount(payment.tip_amount, currency),
                        "product_data": {"name": "Tip"},
                    },
                }
            )
        # Stripe copies PaymentIntent metadata onto its events: a payment_intent.* event that
        # arrives before checkout.session.completed still names our payment.
        metadata = {
            "tillbook_payment": str(payment.pk),
            "tillbook_request": request.token,
            "tillbook_business": self.business.slug,
        }
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": line_items,
            "success_url": return_url,
            "cancel_url": cancel_url or return_url,
            "client_reference_id": str(payment.pk),
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata, "description": request.title[:500]},
        }
        if payment.customer_email:
            params["customer_email"] = payment.customer_email
        # The key is saved with the payment before the call, so a retry creates no second
        # session (Stripe keeps keys for at least 24 hours).
        key = payment.metadata.get("stripe_idempotency_key") or f"tillbook-cs-{uuid.uuid4()}"
        payment.metadata = {**payment.metadata, "stripe_idempotency_key": key}
        payment.save(update_fields=["metadata"])
        try:
            session = self.client().v1.checkout.sessions.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": key},
            )
        except stripe.StripeError as error:
            logger.warning("Stripe refused a checkout for payment %s: %s", payment.pk, error)
            raise ProcessorError(
                "Stripe could not start the payment. Please try again in a moment."
            ) from error
        return CheckoutStart(
            redirect_url=str(session.url),
            checkout_reference=str(session.id),
            provider_reference=str(session.payment_intent or ""),
        )

    # Reading payments -------------------------------------------------------------------

    def charge_details(self, *, payment_intent_id: str, currency: str) -> ChargeDetails:
        """The PaymentIntent's state, the fee from its charge's balance transaction, and the
        payment method. The fee is None when it is in another currency than the payment
        (Stripe settles in the account's currency) or not known yet."""
        client = self.client()
        intent = _plain(
            client.v1.payment_intents.retrieve(
                payment_intent_id,
                params={"expand": ["latest_charge"]},
            )
        )
        charge = intent.get("latest_charge")
        fee: Money | None = None
        method = ""
        charge_id = str(charge.get("id") or "") if isinstance(charge, dict) else str(charge or "")
        if isinstance(charge, dict):
            details = charge.get("payment_method_details") or {}
            card = details.get("card") or {}
            if card.get("last4"):
                method = f"{card.get('brand') or 'card'} ••••{card['last4']}"[:40]
            else:
                method = str(details.get("type") or "")[:40]
            transaction = charge.get("balance_transaction")
            if isinstance(transaction, str) and transaction:
                transaction = _plain(client.v1.balance_transactions.retrieve(transaction))
            if isinstance(transaction, dict):
                fee = _fee(transaction, currency)
        error = intent.get("last_payment_error")
        return ChargeDetails(
            payment_intent_id=str(intent.get("id") or payment_intent_id),
            status=str(intent.get("status") or ""),
            fee=fee,
            method=method,
            failure_reason=payer_message(error) if error else "",
            charge_id=charge_id[:255],
        )

    def checkout_session(self, session_id: str) -> dict[str, Any]:
        return _plain(self.client().v1.checkout.sessions.retrieve(session_id))

    def poll(self, *, payment: Payment) -> PollOutcome | None:
        """Ask Stripe about a payment still pending here (its webhook may never come)."""
        intent_id = payment.provider_reference
        if payment.checkout_reference:
            session = self.checkout_session(payment.checkout_reference)
            intent_id = str(session.get("payment_intent") or intent_id or "")
            if session.get("status") == "expired":
                return PollOutcome(
                    state="failed", failure_reason="The checkout expired before it was paid."
                )
            if session.get("payment_status") != "paid" or not intent_id:
                return PollOutcome(state="pending")
        if not intent_id:
            return None
        details = self.charge_details(payment_intent_id=intent_id, currency=payment.currency)
        if details.status == "succeeded":
            return PollOutcome(
                state="succeeded",
                provider_reference=details.payment_intent_id,
                fee=details.fee,
                method=details.method,
                other_reference=details.charge_id,
            )
        if details.status == "canceled":
            return PollOutcome(state="failed", failure_reason="The payment was cancelled.")
        return PollOutcome(state="pending")

    def poll_refund(self, *, refund: Refund) -> RefundPollOutcome | None:
        """Ask Stripe how a refund it answered "pending" ended (its update may never come)."""
        if not refund.provider_reference.startswith(REFUND_PREFIXES):
            return None
        found = _plain(self.client().v1.refunds.retrieve(refund.provider_reference))
        status = str(found.get("status") or "")
        if status == "succeeded":
            return RefundPollOutcome(state="succeeded")
        if status in ("failed", "canceled"):
            return RefundPollOutcome(state="failed", failure_reason=refund_failure(found))
        return RefundPollOutcome(state="pending")

    # Payouts ----------------------------------------------------------------------------

    def payout_balance_transactions(self, *, payout_id: str) -> list[dict[str, Any]]:
        """Every balance transaction an automatic payout carried, the payout's own among them,
        each with what moved the money (`source` expanded: the charge, refund or payout).

        Pages of 100 (Stripe's largest) until Stripe says there are no more."""
        try:
            listed = self.client().v1.balance_transactions.list(
                params={"payout": payout_id, "limit": 100, "expand": ["data.source"]}
            )
            return [_plain(item) for item in listed.auto_paging_iter()]
        except stripe.StripeError as error:
            logger.warning("Stripe did not list payout %s: %s", payout_id, error)
            raise ProcessorError(
                f"Stripe did not list the balance transactions of payout {payout_id}."
            ) from error

    # Refunds ----------------------------------------------------------------------------

    def refund(self, *, refund: Refund) -> RefundOutcome:
        payment = refund.payment
        try:
            amount = stripe_amount(refund.amount, refund.currency)
        except InvalidInput as error:  # nothing was sent: the refund fails with the reason
            return RefundOutcome(succeeded=False, failure_reason=error.message[:300])
        params: dict[str, Any] = {
            "amount": amount,
            "metadata": {"tillbook_refund": str(refund.pk), "tillbook_payment": str(payment.pk)},
        }
        # A payment imported from Stripe's exports is known by its charge: ch_…, or py_… for
        # bank debits and other non-card methods.
        if payment.provider_reference.startswith(("ch_", "py_")):
            params["charge"] = payment.provider_reference
        else:
            params["payment_intent"] = payment.provider_reference
        try:
            created = _plain(
                self.client().v1.refunds.create(
                    params=params,  # type: ignore[arg-type]
                    options={"idempotency_key": refund.idempotency_key},
                )
            )
        except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError) as error:
            # The refund may or may not have happened: keep it pending; sending it again
            # with the same idempotency key gets Stripe's first answer instead of a second
            # refund.
            logger.warning("Stripe refund %s: no answer (%s)", refund.pk, error)
            return RefundOutcome(
                succeeded=False,
                is_pending=True,
                failure_reason="Stripe did not answer; send the refund again.",
            )
        except stripe.StripeError as error:
            return RefundOutcome(
                succeeded=False, failure_reason=str(error.user_message or error)[:300]
            )
        status = created.get("status")
        reference = str(created.get("id") or "")
        if status == "succeeded":
            return RefundOutcome(succeeded=True, provider_reference=reference)
        if status in ("failed", "canceled"):
            reason = str(created.get("failure_reason") or status)
            return RefundOutcome(
                succeeded=False, provider_reference=reference, failure_reason=reason
            )
        # "pending" or "requires_action": Stripe settles it later (charge.refunded).
        return RefundOutcome(succeeded=False, is_pending=True, provider_reference=reference)


def _fee(transaction: dict[str, Any], currency: str) -> Money | None:
    transaction_currency = str(transaction.get("currency") or "").upper()
    if transaction_currency != currency or transaction.get("fee") is None:
        return None
    try:
        amount, fee = int(transaction["amount"]), int(transaction["fee"])
        net = int(transaction.get("net", amount - fee))
        # As a payout's lines have it: the rounded gross less the rounded net.
        fee = tillbook_amount(amount, currency) - tillbook_amount(net, currency)
        return Money(fee, currency)
    except (InvalidAmount, KeyError, TypeError, ValueError):
        return None
