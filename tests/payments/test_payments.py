from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tillbook.core.errors import Conflict, InvalidInput
from tillbook.core.models import AuditEntry, Business, User
from tillbook.core.money import Money
from tillbook.payments.models import (
    AmountType,
    Payment,
    PaymentRequest,
    PaymentState,
    ProcessorEvent,
    Refund,
    RefundState,
    RequestState,
)
from tillbook.payments.sandbox import sandbox_fee, sandbox_succeed
from tillbook.payments.services import (
    manual_payment_record,
    payment_confirm,
    payment_request_create,
    payment_start,
    refund_create,
    refundable,
)

from .fixtures import RecordingPurpose


def usd(amount: int) -> Money:
    return Money(amount, "USD")


def make_request(business: Business, **extra: object) -> PaymentRequest:
    arguments: dict[str, object] = {"title": "Workshop ticket", "amount": usd(5000), **extra}
    return payment_request_create(business=business, purpose="test", **arguments)  # type: ignore[arg-type]


def start(request: PaymentRequest, **extra: object) -> Payment:
    return payment_start(
        request=request,
        provider="sandbox",
        return_url="https://shop.example.test/done",
        **extra,  # type: ignore[arg-type]
    ).payment


def test_sandbox_payment_confirms_once_and_fulfils_once(
    scoped: Business, purpose: RecordingPurpose
) -> None:
    request = make_request(scoped)
    payment = start(request)
    assert (payment.state, payment.amount, payment.checkout_reference) == (
        PaymentState.PENDING,
        5000,
        f"sbx_cs_{payment.pk}",
    )
    first = sandbox_succeed(payment)
    # The same webhook again, and the buyer's return page confirming too.
    second = sandbox_succeed(payment)
    third = payment_confirm(payment=payment)
    assert [first.newly_succeeded, second.newly_succeeded, third.newly_succeeded] == [
        True,
        False,
        False,
    ]
    payment.refresh_from_db()
    request.refresh_from_db()
    assert (payment.state, payment.fee_amount, payment.provider_reference) == (
        PaymentState.SUCCEEDED,
        175,
        f"sbx_pi_{payment.pk}",  # 2.9 % of 50.00 = 1.45, + 0.30
    )
    assert payment.net == usd(4825)
    assert (request.state, request.amount_paid) == (RequestState.PAID, 5000)
    assert purpose.paid == [(request.pk, payment.pk)]
    assert ProcessorEvent.objects.count() == 1


def test_an_event_replayed_on_another_payment_changes_nothing(
    scoped: Business, purpose: RecordingPurpose
) -> None:
    request = make_request(scoped, is_reusable=True)
    one, two = start(request), start(request)
    event = {"id": "evt_1", "type": "payment.succeeded", "payload": {}}
    assert payment_confirm(payment=one, event=event).newly_succeeded is True
    assert payment_confirm(payment=two, event=event).newly_succeeded is False
    two.refresh_from_db()
    assert two.state == PaymentState.PENDING
    assert purpose.paid == [(request.pk, one.pk)]


def test_requests_refuse_bad_amounts_and_write_nothing(
    scoped: Business, purpose: RecordingPurpose
) -> None:
    with pytest.raises(InvalidInput, match="is in EUR, but Acme Coaching sells in USD"):
        make_request(scoped, amount=Money(100, "EUR"))
    with pytest.raises(InvalidInput, match="must be more than zero"):
        make_request(scoped, amount=usd(0))
    with pytest.raises(InvalidInput, match="too large"):
        make_request(scoped, amount=usd(10**14))
    with pytest.raises(LookupError, match="No payment purpose 'nope'"):
        payment_request_create(business=scoped, purpose="nope", title="x", amount=usd(1))
    assert PaymentRequest.objects.count() == 0


def test_a_fixed_amount_cannot_be_tampered_with(
    scoped: Business, purpose: RecordingPurpose
) -> None:
    request = make_request(scoped)
    with pytest.raises(
        InvalidInput, match=r"This request is for \$50\.00; the amount cannot be changed"
    ):
        start(request, amount=usd(1))
    with pytest.raises(InvalidInput, match="Tips are not accepted here"):
        start(request, tip=usd(500))
    with pytest.raises(InvalidInput, match="'square' is not a payment provider Tillbook knows"):
        payment_start(request=request, provider="square", return_url="https://x.test/")
    with pytest.raises(InvalidInput, match=r"Card \(Stripe\) is not switched on for Acme"):
        payment_start(request=request, provider="stripe", return_url="https://x.test/")
    assert Payment.objects.count() == 0


def test_minimum_and_open_amounts_with_a_tip(scoped: Business, purpose: RecordingPurpose) -> None:
    request = make_request(
        scoped, amount_type=AmountType.MINIMUM, amount=usd(1000), tip_allowed=True
    )
    with pytest.raises(InvalidInput, match=r"at least \$10\.00"):
        start(request, amount=usd(999))
    payment = start(request, amount=usd(2500), tip=usd(300))
    assert (payment.amount, payment.tip_amount, payment.total) == (2500, 300, usd(2800))
    sandbox_succeed(payment)
    payment.refresh_from_db()
    assert payment.fee == sandbox_fee(payment) == usd(111)  # 2.9 % of 28.00 = 0.81, + 0.30


def test_expired_or_paid_requests_take_no_payment(
    scoped: Business, purpose: RecordingPurpose
) -> None:
    expired = make_request(scoped, expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(Conflict, match="has expired"):
        start(expired)
    paid = make_request(scoped)
    sandbox_succeed(start(paid))
    paid.refresh_from_db()
    with pytest.raises(Conflict, match="already been paid"):
        start(paid)
    assert Payment.objects.filter(request=expired).count() == 0
    assert Payment.objects.filter(request=paid).count() == 1


def test_manual_partial_payments_complete_the_request(
    scoped: Business, owner: User, purpose: RecordingPurpose
) -> None:
    from tillbook.customers.models import Customer

    ann = Customer.objects.create(business=scoped, email="ann@example.com", name="Ann")
    request = make_request(scoped, customer=ann)
    manual_payment_record(
        request=request, amount=usd(2000), method="cash", note="deposit", actor=owner
    )
    request.refresh_from_db()
    assert (request.state, request.amount_paid, purpose.paid) == (RequestState.OPEN, 2000, [])
    with pytest.raises(InvalidInput, match=r"Only \$30\.00 is still due"):
        manual_payment_record(
            request=request, amount=usd(3500), method="cash", note="", actor=owner
        )
    last = manual_payment_record(
        request=request, amount=usd(3000), method="bank_transfer", note="", actor=owner
    )
    request.refresh_from_db()
    assert (request.state, request.amount_paid) == (RequestState.PAID, 5000)
    assert purpose.paid == [(request.pk, last.pk)]
    assert len(purpose.payments) == 2
    assert AuditEntry.objects.filter(action="payment.manual").count() == 2
    # Counted for its customer (new and returning, cohorts) like a card payment is.
    assert sorted(Payment.objects.values_list("pk", "customer_email")) == [
        (pk, "ann@example.com") for pk in sorted(purpose.payments)
    ]


def test_refunds_partial_then_full_never_more_than_paid(
    scoped: Business, owner: User, purpose: RecordingPurpose
) -> None:
    request = make_request(scoped)
    payment = start(request)
    sandbox_succeed(payment)
    payment.refresh_from_db()
    first = refund_create(payment=payment, amount=usd(1000), reason="Missed a session", actor=owner)
    assert (first.state, first.provider_reference) == (RefundState.SUCCEEDED, f"sbx_re_{first.pk}")
    assert first.idempotency_key.startswith("tillbook-refund-")
    assert refundable(payment) == usd(4000)
    with pytest.raises(InvalidInput, match=r"At most \$40\.00 can still be refunded"):
        refund_create(payment=payment, amount=usd(4001), reason="", actor=owner)
    refund_create(payment=payment, amount=usd(4000), reason="", actor=owner)
    assert refundable(payment) == usd(0)
    assert Refund.objects.filter(state=RefundState.SUCCEEDED).count() == 2
    assert len(purpose.refunded) == 2


def test_unpaid_payments_cannot_be_refunded(
    scoped: Business, owner: User, purpose: RecordingPurpose
) -> None:
    payment = start(make_request(scoped))
    with pytest.raises(Conflict, match="Only a successful payment can be refunded"):
        refund_create(payment=payment, amount=usd(100), reason="", actor=owner)
    assert Refund.objects.count() == 0


def test_closing_a_request_stops_payments_but_never_reopens(
    scoped: Business, purpose: RecordingPurpose
) -> None:
    from tillbook.payments.services import payment_request_close

    request = make_request(scoped)
    assert payment_request_close(request_id=request.pk, state=RequestState.CANCELLED) is True
    assert payment_request_close(request_id=request.pk, state=RequestState.EXPIRED) is False
    request.refresh_from_db()
    assert request.state == RequestState.CANCELLED
    with pytest.raises(Conflict, match="no longer open"):
        start(request)
    with pytest.raises(InvalidInput, match="closes as expired or cancelled"):
        payment_request_close(request_id=request.pk, state=RequestState.PAID)
    assert Payment.objects.count() == 0


def test_a_payment_of_a_processor_tillbook_cannot_refund_through_is_refused_and_nothing_is_kept(
    scoped: Business, owner: User
) -> None:
    # As the PayPal activity import lands a sale.
    payment = Payment.objects.create(
        business=scoped,
        provider="paypal",
        source="import",
        state=PaymentState.SUCCEEDED,
        currency="USD",
        amount=5000,
        provider_reference="8MC585209K746392H",
        succeeded_at=timezone.now(),
    )
    with pytest.raises(Conflict, match="Tillbook cannot refund paypal payments"):
        refund_create(payment=payment, amount=usd(1000), reason="", actor=owner)
    assert Refund.objects.count() == 0
    assert refundable(payment) == usd(5000)
    assert AuditEntry.objects.filter(action="refund.create").count() == 0
