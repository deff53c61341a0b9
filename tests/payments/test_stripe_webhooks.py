"""Stripe's webhook endpoint against the fake Stripe server: signatures, duplicates, events out
of order, unknown events and payments, and the fee read from the balance transaction."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tillbook.core.models import Business
from tillbook.core.money import Money
from tillbook.core.scoping import business_scope
from tillbook.messaging.models import OutboxMessage
from tillbook.payments.models import (
    Payment,
    PaymentRequest,
    PaymentState,
    ProcessorEvent,
    RequestState,
)
from tillbook.payments.services import payment_request_create, payment_start
from tillbook.payments.webhooks import SignatureInvalid, stripe_signature_verify

from ..fakes.stripe_server import FakeStripe, sign, webhook_body
from .fixtures import WEBHOOK_SECRET, RecordingPurpose, deliver


def stripe_payment(
    business: Business,
    *,
    purpose: str = "test",
    email: str = "ann@example.com",
    amount: Money | None = None,
) -> Payment:
    with business_scope(business):
        request = payment_request_create(
            business=business,
            purpose=purpose,
            title="Workshop ticket",
            amount=amount or Money(5000, "USD"),
        )
        return payment_start(
            request=request,
            provider="stripe",
            return_url=f"https://shop.example.test/pay/{request.token}/done/",
            customer_email=email,
        ).payment


def state_of(payment: Payment) -> tuple[str, int | None, str, str]:
    with business_scope(payment.business):
        payment.refresh_from_db()
    return payment.state, payment.fee_amount, payment.provider_reference, payment.method


def events_stored(business: Business) -> list[str]:
    with business_scope(business):
        return list(ProcessorEvent.objects.order_by("pk").values_list("event_type", flat=True))


def test_checkout_session_is_created_with_the_payment_named_in_it(
    stripe_business: Business, fake_stripe: FakeStripe, purpose: RecordingPurpose
) -> None:
    payment = stripe_payment(stripe_business)
    (session,) = fake_stripe.sessions.values()
    assert payment.checkout_reference == session["id"]
    assert payment.state == PaymentState.PENDING
    assert session["client_reference_id"] == str(payment.pk)
    assert session["metadata"]["tillbook_payment"] == str(payment.pk)
    assert session["_intent_data"]["metadata"]["tillbook_payment"] == str(payment.pk)
    assert (session["amount_total"], session["currency"], session["customer_email"]) == (
        5000,
        "usd",
        "ann@example.com",
    )
    (create,) = [r for r in fake_stripe.requests if r.path == "/v1/checkout/sessions"]
    # The idempotency key was saved with the payment before the call.
    assert create.headers["idempotency-key"] == payment.metadata["stripe_idempotency_key"]
    assert create.headers["authorization"] == "Bearer sk_test_tillbook"


def test_session_completed_confirms_once_with_the_fee_from_the_balance_transaction(
    client: Client, stripe_business: Business, fake_stripe: FakeStripe, purpose: RecordingPurpose
) -> None:
    payment = stripe_payment(stripe_business)
    events = fake_stripe.pay(payment.checkout_reference)
    completed = events["checkout.session.completed"]
    first = deliver(client, stripe_business, completed)
    assert (first.status_code, first.json()["detail"]) == (200, "confirmed")
    again = deliver(client, stripe_business, completed)
    assert (again.status_code, again.json()["detail"]) == (200, "duplicate")
    intent_id = completed["data"]["object"]["payment_intent"]
    # 2.9 % of 50.00 = 1.45, + 0.30: read from Stripe, not computed here.
    assert state_of(payment) == ("succeeded", 175, intent_id, "visa ••••4242")
    charge_id = fake_stripe.intents[intent_id]["latest_charge"]
    assert (charge_id[:3], payment.other_reference) == ("ch_", charge_id)
    assert [r.path for r in fake_stripe.requests if r.method == "GET"] == [
        f"/v1/payment_intents/{intent_id}",
        f"/v1/balance_transactions/{fake_stripe.charges[fake_stripe.intents[intent_id]['latest_charge']]['balance_transaction']}",
    ]
    assert events_stored(stripe_business) == ["checkout.session.completed"]
    assert len(purpose.paid) == 1


def test_payment_intent_succeeded_before_session_completed_gives_one_payment_one_receipt(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    django_capture_on_commit_callbacks: Any,
) -> None:
    payment = stripe_payment(stripe_business, purpose="link")
    events = fake_stripe.pay(payment.checkout_reference)
    with django_capture_on_commit_callbacks(execute=True):
        early = deliver(client, stripe_business, events["payment_intent.succeeded"])
        late = deliver(client, stripe_business, events["checkout.session.completed"])
        charge = deliver(client, stripe_business, events["charge.succeeded"])
    assert [early.json()["detail"], late.json()["detail"], charge.json()["detail"]] == [
        "confirmed",
        "already confirmed",
        "ignored",
    ]
    assert state_of(payment)[:2] == ("succeeded", 175)
    with business_scope(stripe_business):
        assert Payment.objects.count() == 1
        request = PaymentRequest.objects.get()
        assert (request.state, request.amount_paid) == (RequestState.PAID, 5000)
        receipts = list(OutboxMessage.objects.filter(template="payment_receipt"))
    assert [(m.to_email, m.subject) for m in receipts] == [
        ("ann@example.com", "Receipt from Acme Coaching: Workshop ticket")
    ]
    assert "$50.00" in receipts[0].body_text
    assert events_stored(stripe_business) == [
        "payment_intent.succeeded",
        "checkout.session.completed",
        "charge.succeeded",
    ]


def test_forged_signature_is_refused_and_nothing_is_recorded(
    client: Client, stripe_business: Business, fake_stripe: FakeStripe, purpose: RecordingPurpose
) -> None:
    payment = stripe_payment(stripe_business)
    event = fake_stripe.pay(payment.checkout_reference)["checkout.session.completed"]
    forged = deliver(client, stripe_business, event, secret="whsec_someone_else")
    assert forged.status_code == 400
    assert forged.json()["detail"] == "No signature matches this endpoint's secret."
    # A body changed after signing does not match either.
    body = webhook_body(event)
    tampered = client.post(
        f"/hooks/stripe/{stripe_business.slug}/",
        body.replace(b'"paid"', b'"unpaid"'),
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body, WEBHOOK_SECRET),
    )
    assert tampered.status_code == 400
    missing = client.post(
        f"/hooks/stripe/{stripe_business.slug}/", body, content_type="application/json"
    )
    assert (missing.status_code, missing.json()["detail"]) == (
        400,
        "The Stripe-Signature header is missing.",
    )
    assert events_stored(stripe_business) == []
    assert state_of(payment)[0] == "pending"
    assert purpose.paid == []


def test_stale_timestamp_is_refused(
    client: Client, stripe_business: Business, fake_stripe: FakeStripe, purpose: RecordingPurpose
) -> None:
    payment = stripe_payment(stripe_business)
    event = fake_stripe.pay(payment.checkout_reference)["checkout.session.completed"]
    stale = deliver(client, stripe_business, event, timestamp=int(time.time()) - 301)
    assert (stale.status_code, stale.json()["detail"]) == (
        400,
        "The signature's timestamp is more than 5 minutes away.",
    )
    assert events_stored(stripe_business) == []
    assert state_of(payment)[0] == "pending"
    # Within the tolerance it is accepted.
    recent = deliver(client, stripe_business, event, timestamp=int(time.time()) - 290)
    assert recent.status_code == 200


def test_rotated_secret_with_two_signatures_one_valid_is_accepted(
    client: Client, stripe_business: Business, fake_stripe: FakeStripe, purpose: RecordingPurpose
) -> None:
    payment = stripe_payment(stripe_business)
    event = fake_stripe.pay(payment.checkout_reference)["checkout.session.completed"]
    body = webhook_body(event)
    stamp = int(time.time())
    old = sign(body, "whsec_the_previous_secret", stamp).split(",")[1]
    current = sign(body, WEBHOOK_SECRET, stamp).split(",")[1]
    both = deliver(client, stripe_business, event, header=f"t={stamp},{old},{current}")
    assert (both.status_code, both.json()["detail"]) == (200, "confirmed")
    only_old = deliver(client, stripe_business, event, header=f"t={stamp},{old}")
    assert only_old.status_code == 400
    assert state_of(payment)[0] == "succeeded"


def test_unknown_event_type_gets_200_and_is_stored(
    client: Client, stripe_business: Business, fake_stripe: FakeStripe
) -> None:
    event = fake_stripe.event(
        "customer.created", {"id": "cus_NffrFeUfNV2Hib", "object": "customer"}
    )
    response = deliver(client, stripe_business, event)
    assert (response.status_code, response.json()["detail"]) == (200, "ignored")
    with business_scope(stripe_business):
        stored = ProcessorEvent.objects.get()
    assert (stored.event_id, stored.event_type, stored.payload["data"]["object"]["id"]) == (
        event["id"],
        "customer.created",
        "cus_NffrFeUfNV2Hib",
    )


def test_well_signed_event_for_an_unknown_payment_gets_200_and_is_logged(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    caplog: pytest.LogCaptureFixture,
) -> None:
    event = fake_stripe.event(
        "payment_intent.succeeded",
        {"id": "pi_unknown", "object": "payment_intent", "metadata": {}, "status": "succeeded"},
    )
    with caplog.at_level(logging.WARNING, logger="tillbook.payments.webhooks"):
        response = deliver(client, stripe_business, event)
    assert (response.status_code, response.json()["detail"]) == (200, "unknown payment")
    assert "names no payment Tillbook knows" in caplog.text
    assert events_stored(stripe_business) == ["payment_intent.succeeded"]
    # Even an event naming a payment of another business finds nothing here.
    garbage = fake_stripe.event(
        "checkout.session.completed",
        {"id": "cs_x", "client_reference_id": "999999", "payment_status": "paid"},
    )
    assert deliver(client, stripe_business, garbage).json()["detail"] == "unknown payment"


def test_a_payment_id_in_superscript_digits_names_no_payment(
    client: Client, stripe_business: Business, fake_stripe: FakeStripe, purpose: RecordingPurpose
) -> None:
    # "²" passes isdigit(), but int() refuses it.
    payment = stripe_payment(stripe_business)
    before = state_of(payment)
    reference = "²"
    event = fake_stripe.event(
        "checkout.session.completed",
        {
            "id": "cs_x",
            "client_reference_id": reference,
            "metadata": {"tillbook_payment": reference},
            "payment_status": "paid",
        },
    )
    response = deliver(client, stripe_business, event)
    assert (response.status_code, response.json()["detail"]) == (200, "unknown payment")
    assert state_of(payment) == before
    assert events_stored(stripe_business) == ["checkout.session.completed"]


def test_a_declined_card_fails_the_payment_until_another_card_succeeds(
    client: Client, stripe_business: Business, fake_stripe: FakeStripe, purpose: RecordingPurpose
) -> None:
    payment = stripe_payment(stripe_business)
    declined = fake_stripe.decline(payment.checkout_reference)
    assert deliver(client, stripe_business, declined).json()["detail"] == "failed"
    assert state_of(payment)[0] == "failed"
    assert payment.failure_reason == "Your card was declined."
    # The payer tries another card on Stripe's page, which works.
    events = fake_stripe.pay(payment.checkout_reference)
    assert deliver(client, stripe_business, events["payment_intent.succeeded"]).status_code == 200
    assert state_of(payment)[0] == "succeeded"
    assert len(purpose.paid) == 1


def test_an_expired_checkout_fails_the_payment(
    client: Client, stripe_business: Business, fake_stripe: FakeStripe, purpose: RecordingPurpose
) -> None:
    payment = stripe_payment(stripe_business)
    expired = fake_stripe.expire(payment.checkout_reference)
    assert deliver(client, stripe_business, expired).json()["detail"] == "failed"
    assert state_of(payment)[0] == "failed"
    assert payment.failure_reason == "The checkout expired before it was paid."


def _paid_while_stripe_is_down(
    client: Client, business: Business, fake: FakeStripe, capture: Any
) -> tuple[Payment, Any]:
    """A checkout paid while Stripe's API does not answer for its PaymentIntent (the fee is
    read from it): the payment and the response to its checkout.session.completed."""
    payment = stripe_payment(business)
    events = fake.pay(payment.checkout_reference)
    intent_id = events["payment_intent.succeeded"]["data"]["object"]["id"]
    fake.unavailable.add(f"/v1/payment_intents/{intent_id}")
    with capture(execute=True):
        response = deliver(client, business, events["checkout.session.completed"])
    return payment, response


def test_stripe_down_while_reading_the_fee_answers_200_and_retries_later(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    purpose: RecordingPurpose,
    run_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    payment, response = _paid_while_stripe_is_down(
        client, stripe_business, fake_stripe, django_capture_on_commit_callbacks
    )
    assert (response.status_code, response.json()["detail"]) == (
        200,
        "accepted; handling will be retried",
    )
    assert state_of(payment)[0] == "pending"
    assert events_stored(stripe_business) == []
    fake_stripe.unavailable.clear()
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.update(run_after=timezone.now())
    assert run_tasks() == 1
    assert state_of(payment)[:2] == ("succeeded", 175)
    assert len(purpose.paid) == 1


def test_an_event_whose_handling_keeps_failing_is_retried_with_longer_waits_then_given_up(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    purpose: RecordingPurpose,
    run_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Stripe is not asked again (the event was answered 200): Tillbook retried once only, and
    an outage longer than a minute lost the payment's confirmation for good."""
    from django_tasks_db.models import DBTaskResult

    payment, _ = _paid_while_stripe_is_down(
        client, stripe_business, fake_stripe, django_capture_on_commit_callbacks
    )

    def next_retry() -> tuple[int, int]:
        """(the waiting retry's attempt, its wait in whole minutes), and let it run now."""
        (waiting,) = DBTaskResult.objects.filter(status="READY")
        minutes = round((waiting.run_after - waiting.enqueued_at).total_seconds() / 60)
        attempt = waiting.task_result.args[2]
        DBTaskResult.objects.filter(pk=waiting.pk).update(run_after=timezone.now())
        return attempt, minutes

    waits = []
    for _ in range(5):
        waits.append(next_retry())
        with django_capture_on_commit_callbacks(execute=True):
            assert run_tasks() == 1
    assert waits == [(2, 1), (3, 4), (4, 16), (5, 64), (6, 256)]
    assert DBTaskResult.objects.filter(status="READY").count() == 0  # given up
    assert sorted(DBTaskResult.objects.values_list("return_value", flat=True)) == [
        "gave up",
        "retrying",
        "retrying",
        "retrying",
        "retrying",
    ]
    assert state_of(payment)[0] == "pending"
    assert purpose.paid == []


def test_an_event_handled_on_a_later_retry_is_handled_once(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    purpose: RecordingPurpose,
    run_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from django_tasks_db.models import DBTaskResult

    payment, _ = _paid_while_stripe_is_down(
        client, stripe_business, fake_stripe, django_capture_on_commit_callbacks
    )
    DBTaskResult.objects.update(run_after=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert run_tasks() == 1  # still down: a third attempt waits
    fake_stripe.unavailable.clear()
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    assert run_tasks() == 1
    assert state_of(payment)[:2] == ("succeeded", 175)
    assert (len(purpose.paid), DBTaskResult.objects.filter(status="READY").count()) == (1, 0)


def test_unknown_business_is_404_and_get_is_refused(client: Client, db: None) -> None:
    assert (
        client.post("/hooks/stripe/nobody/", b"{}", content_type="application/json").status_code
        == 404
    )


def test_a_business_without_stripe_refuses_webhooks(
    client: Client, business: Business, fake_stripe: FakeStripe
) -> None:
    event = fake_stripe.event("payment_intent.succeeded", {"id": "pi_1"})
    response = deliver(client, business, event)
    assert (response.status_code, response.json()["detail"]) == (
        400,
        "Stripe is not set up for this business.",
    )
    assert client.get(f"/hooks/stripe/{business.slug}/").status_code == 405
    assert events_stored(business) == []


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("", "The Stripe-Signature header is missing."),
        ("v1=abc", "The Stripe-Signature header has no timestamp or no v1 value."),
        ("t=abc,v1=abc", "The signature's timestamp is not a number."),
        ("t=1,v0=abc", "The Stripe-Signature header has no timestamp or no v1 value."),
    ],
)
def test_malformed_signature_headers(header: str, message: str) -> None:
    with pytest.raises(SignatureInvalid, match=message):
        stripe_signature_verify(payload=b"{}", header=header, secret=WEBHOOK_SECRET)


def test_signature_matches_the_sdk_reference_implementation() -> None:
    """Our verification and Stripe's own SDK agree on a header Stripe's SDK generated."""
    import stripe

    payload = json.dumps({"id": "evt_1", "object": "event"})
    header = stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET)
    assert stripe.WebhookSignature.verify_header(payload, header, WEBHOOK_SECRET, 300)
    stamp = stripe_signature_verify(payload=payload.encode(), header=header, secret=WEBHOOK_SECRET)
    assert abs(stamp - time.time()) < 5


def test_the_payers_return_confirms_before_the_webhook_and_the_webhook_changes_nothing(
    client: Client, stripe_business: Business, fake_stripe: FakeStripe, purpose: RecordingPurpose
) -> None:
    payment = stripe_payment(stripe_business)
    with business_scope(stripe_business):
        token = PaymentRequest.objects.get().token
    waiting = client.get(f"/pay/{token}/done/").content.decode()
    assert "Waiting for confirmation" in waiting  # not paid at Stripe yet
    events = fake_stripe.pay(payment.checkout_reference)
    assert "Thank you — paid" in client.get(f"/pay/{token}/done/").content.decode()
    assert state_of(payment)[:2] == ("succeeded", 175)
    late = deliver(client, stripe_business, events["checkout.session.completed"])
    assert late.json()["detail"] == "already confirmed"
    assert len(purpose.paid) == 1


def test_a_signature_with_characters_beyond_ascii_is_refused_not_a_server_error(
    client: Client, stripe_business: Business, fake_stripe: FakeStripe, purpose: RecordingPurpose
) -> None:
    payment = stripe_payment(stripe_business)
    event = fake_stripe.pay(payment.checkout_reference)["checkout.session.completed"]
    body = webhook_body(event)
    stamp = int(time.time())
    response = client.post(
        f"/hooks/stripe/{stripe_business.slug}/",
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=f"t={stamp},v1=caf\u00e9",
    )
    assert (response.status_code, response.json()["detail"]) == (
        400,
        "No signature matches this endpoint's secret.",
    )
    assert events_stored(stripe_business) == []
    assert state_of(payment)[0] == "pending"
    assert purpose.paid == []


def test_an_intent_of_another_installation_on_the_same_stripe_account_changes_nothing_here(
    client: Client, stripe_business: Business, fake_stripe: FakeStripe, purpose: RecordingPurpose
) -> None:
    """Stripe sends every event of an account to every endpoint: a second Tillbook on the
    same account names its own payment, whose number can be that of one of ours."""
    payment = stripe_payment(stripe_business)
    before = state_of(payment)
    metadata = {
        "tillbook_payment": str(payment.pk),
        "tillbook_request": "a-request-of-the-other-installation",
        "tillbook_business": stripe_business.slug,
    }
    status, session = fake_stripe.create_session(
        {
            "mode": "payment",
            "success_url": "https://other.example.test/done/",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 100,
                        "product_data": {"name": "Something else"},
                    },
                }
            ],
            "client_reference_id": str(payment.pk),
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
        }
    )
    assert status == 200
    declined = fake_stripe.decline(session["id"])
    events = fake_stripe.pay(session["id"])
    answers = [
        deliver(client, stripe_business, declined).json()["detail"],
        deliver(client, stripe_business, events["payment_intent.succeeded"]).json()["detail"],
        deliver(client, stripe_business, events["checkout.session.completed"]).json()["detail"],
    ]
    assert answers == ["unknown payment", "unknown payment", "unknown payment"]
    assert state_of(payment) == before
    assert (payment.state, payment.failure_reason, payment.other_reference) == ("pending", "", "")
    assert purpose.paid == []
    with business_scope(stripe_business):
        request = PaymentRequest.objects.get()
    assert (request.state, request.amount_paid) == (RequestState.OPEN, 0)


def test_the_payer_is_shown_stripes_message_only_for_a_card_error(
    client: Client, stripe_business: Business, fake_stripe: FakeStripe, purpose: RecordingPurpose
) -> None:
    """Stripe's error messages are for the payer only when they are card errors; others
    (here: 3-D Secure not completed) speak to the developer about API objects."""
    payment = stripe_payment(stripe_business)
    declined = fake_stripe.decline(payment.checkout_reference)
    declined["data"]["object"]["last_payment_error"] = {
        "code": "payment_intent_authentication_failure",
        "doc_url": "https://stripe.com/docs/error-codes/payment-intent-authentication-failure",
        "message": "The provided PaymentMethod has failed authentication. You can provide "
        "payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent "
        "again.",
        "type": "invalid_request_error",
    }
    assert deliver(client, stripe_business, declined).json()["detail"] == "failed"
    assert state_of(payment)[0] == "failed"
    assert payment.failure_reason == (
        "Your bank did not confirm the payment. Please try again, or use another card."
    )
    with business_scope(stripe_business):
        token = PaymentRequest.objects.get().token
    page = client.get(f"/pay/{token}/done/").content.decode()
    assert "Your bank did not confirm the payment." in page
    assert "PaymentMethod" not in page
    assert "PaymentIntent" not in page
