from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tillbook.payments.models import Payment, PaymentRequest, Refund
from tillbook.payments.purposes import PaymentPurpose, _purposes, register_purpose


@dataclass
class RecordingPurpose(PaymentPurpose):
    """A purpose that remembers what it was told, to prove each call happens once."""

    name: str = "test"
    label: str = "Test"
    paid: list[tuple[int, int]] = field(default_factory=list)
    payments: list[int] = field(default_factory=list)
    refunded: list[int] = field(default_factory=list)

    def on_paid(self, *, request: PaymentRequest, payment: Payment) -> None:
        self.paid.append((request.pk, payment.pk))

    def on_payment(self, *, request: PaymentRequest, payment: Payment) -> None:
        self.payments.append(payment.pk)

    def on_refunded(self, *, refund: Refund) -> None:
        self.refunded.append(refund.pk)


@pytest.fixture
def purpose() -> Iterator[RecordingPurpose]:
    recording = RecordingPurpose()
    register_purpose(recording)
    try:
        yield recording
    finally:
        _purposes.pop("test", None)
