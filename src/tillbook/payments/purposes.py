"""What a payment request pays for, and what happens when it is paid.

Payments never import the packages that sell things; instead each of them registers a purpose
("order", "booking", "invoice") whose handler `payment_confirm` calls explicitly, inside the
same transaction that marks the request paid, so fulfilment happens exactly once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tillbook.payments.models import Payment, PaymentRequest, Refund


class PaymentPurpose:
    name = ""
    label = ""

    def on_paid(self, *, request: PaymentRequest, payment: Payment) -> None:
        """The request is now paid in full. Runs inside the confirming transaction, with the
        request row locked; raise to roll the confirmation back."""

    def on_payment(self, *, request: PaymentRequest, payment: Payment) -> None:
        """A payment succeeded towards the request (partial payments included)."""

    def on_refunded(self, *, refund: Refund) -> None:
        """A refund succeeded. `refund.releases_capacity` says whether to give the place back."""

    def on_expired(self, *, request: PaymentRequest) -> None:
        """The request expired unpaid: release what it held."""

    def link_for_staff(self, *, request: PaymentRequest) -> str:
        """Where staff see what this request pays for (a back-office path), or ""."""
        return ""


class PaymentLinkPurpose(PaymentPurpose):
    """A stand-alone payment link: nothing to fulfil but the payer's receipt."""

    name = "link"
    label = "Payment link"

    def on_paid(self, *, request: PaymentRequest, payment: Payment) -> None:
        from tillbook.payments.notifications import payment_receipt_send

        payment_receipt_send(request=request, payment=payment)

    def link_for_staff(self, *, request: PaymentRequest) -> str:
        from django.urls import reverse

        return reverse(
            "backoffice:payment_request_detail", args=[request.business.slug, request.pk]
        )


_purposes: dict[str, PaymentPurpose] = {}


def register_purpose(purpose: PaymentPurpose) -> None:
    if not purpose.name:
        raise ValueError("A payment purpose needs a name.")
    _purposes[purpose.name] = purpose


def purpose_for(name: str) -> PaymentPurpose:
    try:
        return _purposes[name]
    except KeyError:
        raise LookupError(f"No payment purpose {name!r} is registered.") from None
