"""Refunds through Stripe (the fake server): the idempotency key is saved before the first
call and sent as Idempotency-Key, a lost answer is retried without refunding twice, refunds
made in Stripe's dashboard are recorded from charge.refunded, and the buyer is told once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import stripe
from django.test import Client
from django.utils import timezone

from tillbook.core.models import AuditEntry, Business, User
from tillbook.core.money import Money
from tillbook.core.scoping import business_scope
from tillbook.imports.models import ImportRun
from tillbook.imports.source import ImportSource
from tillbook.insights import rollups
from tillbook.insights.customers import lifetime_value_by_cohort
from tillbook.insights.ledger import sales_totals
from tillbook.insights.periods import Period
from tillbook.insights.rollups import rollups_refresh
from tillbook.messaging.models import OutboxMessage
from tillbook.payments.models import (
    BalanceKind,
    BalanceTransaction,
    Payment,
    Refund,
    RefundState,
)
from tillbook.payments.provider_accounts import provider_account_save
from tillbook.payments.providers.stripe import StripeProvider
from tillbook.payments.services import refund_create, refund_send, refundable

from ..fakes.stripe_server import FakeStripe
from .fixtures import STRIPE_SECRET_KEY, RecordingPurpose, deliver
from .test_stripe_webhooks import stripe_payment


def paid_stripe_payment(
    client: Client, business: Business, fake: FakeStripe, amount: Money | None = None
) -> Payment:
    payment = stripe_payment(business, amount=amount)
    events = fake.pay(payment.checkout_reference)
    assert deliver(client, business, events["checkout.session.completed"]).status_code == 200
    with business_scope(business):
        payment.refresh_from_db()
    return payment


def usd(amount: int) -> Money:
    return Money(amount, "USD")


def pending_stripe_refund(
    client: Client, business: Business, fake: FakeStripe, owner: User, refund_prefix: str = "re"
) -> tuple[Payment, Refund, dict[str, Any]]:
    """A $20.00 refund of a paid $50.00 payment that Stripe answers "pending" for, its id
    starting with `refund_prefix`: the payment, the refund and Stripe's refund."""
    payment = paid_stripe_payment(client, business, fake)
    fake.refund_status = "pending"
    fake.refund_prefix = refund_prefix
    with business_scope(business):
        refund = refund_create(payment=payment, amount=usd(2000), reason="", actor=owner)
    (stripe_refund,) = fake.refunds.values()
    return payment, refund, stripe_refund


def test_refund_sends_the_saved_idempotency_key_and_notifies_the_buyer_once(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    owner: User,
    purpose: RecordingPurpose,
    django_capture_on_commit_callbacks: Any,
) -> None:
    payment = paid_stripe_payment(client, stripe_business, fake_stripe)
    with business_scope(stripe_business), django_capture_on_commit_callbacks(execute=True):
        refund = refund_create(
            payment=payment,
            amount=usd(2000),
            reason="Could not attend",
            actor=owner,
            releases_capacity=True,
        )
    (stripe_refund,) = fake_stripe.refunds.values()
    (call,) = [r for r in fake_stripe.requests if r.path == "/v1/refunds"]
    assert call.headers["idempotency-key"] == refund.idempotency_key
    assert call.params == {
        "amount": "2000",
        "payment_intent": payment.provider_reference,
        "metadata": {"tillbook_refund": str(refund.pk), "tillbook_payment": str(payment.pk)},
    }
    assert (refund.state, refund.provider_reference, refund.releases_capacity) == (
        RefundState.SUCCEEDED,
        stripe_refund["id"],
        True,
    )
    assert purpose.refunded == [refund.pk]
    # Stripe's charge.refunded for our own refund adds nothing.
    charge_id = fake_stripe.intents[payment.provider_reference]["latest_charge"]
    event = fake_stripe.event("charge.refunded", fake_stripe.charges[charge_id])
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, event).status_code == 200
    with business_scope(stripe_business):
        assert Refund.objects.count() == 1
        mails = list(OutboxMessage.objects.filter(template="payment_refund"))
    assert [(m.to_email, m.subject) for m in mails] == [
        ("ann@example.com", "Acme Coaching refunded $20.00")
    ]
    assert "Reason: Could not attend" in mails[0].body_text
    assert "of the $50.00 you paid" in mails[0].body_text


def test_a_lost_answer_leaves_the_refund_pending_and_sending_again_refunds_once(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    owner: User,
    purpose: RecordingPurpose,
) -> None:
    payment = paid_stripe_payment(client, stripe_business, fake_stripe)
    fake_stripe.lose_next_response.add("/v1/refunds")
    with business_scope(stripe_business):
        refund = refund_create(payment=payment, amount=usd(5000), reason="", actor=owner)
        assert (refund.state, refund.failure_reason) == (
            RefundState.PENDING,
            "Stripe did not answer; send the refund again.",
        )
        # Stripe did refund; a second refund is impossible while this one is pending.
        assert len(fake_stripe.refunds) == 1
        again = refund_send(refund=refund, actor=owner)
    (stripe_refund,) = fake_stripe.refunds.values()
    assert (again.state, again.provider_reference) == (RefundState.SUCCEEDED, stripe_refund["id"])
    keys = [r.headers["idempotency-key"] for r in fake_stripe.requests if r.path == "/v1/refunds"]
    assert keys == [refund.idempotency_key, refund.idempotency_key]
    assert purpose.refunded == [refund.pk]


def test_the_fake_answers_a_reused_key_like_stripe(
    stripe_business: Business, fake_stripe: FakeStripe, client: Client, purpose: RecordingPurpose
) -> None:
    payment = paid_stripe_payment(client, stripe_business, fake_stripe)
    sdk = stripe.StripeClient(STRIPE_SECRET_KEY, base_addresses={"api": fake_stripe.base_url})
    params: Any = {"payment_intent": payment.provider_reference, "amount": 100}
    first = sdk.v1.refunds.create(params=params, options={"idempotency_key": "key-1"})
    second = sdk.v1.refunds.create(params=params, options={"idempotency_key": "key-1"})
    assert first.id == second.id
    assert len(fake_stripe.refunds) == 1
    with pytest.raises(stripe.IdempotencyError, match="same parameters"):
        sdk.v1.refunds.create(
            params={**params, "amount": 200}, options={"idempotency_key": "key-1"}
        )
    with pytest.raises(stripe.InvalidRequestError, match="greater than unrefunded amount"):
        sdk.v1.refunds.create(params={**params, "amount": 999_999})
    with pytest.raises(stripe.AuthenticationError):
        stripe.StripeClient(
            "sk_test_wrong", base_addresses={"api": fake_stripe.base_url}
        ).v1.refunds.create(params=params)


def test_a_refund_made_in_the_stripe_dashboard_is_recorded_once(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    purpose: RecordingPurpose,
    django_capture_on_commit_callbacks: Any,
) -> None:
    payment = paid_stripe_payment(client, stripe_business, fake_stripe)
    event = fake_stripe.refund_in_dashboard(payment.provider_reference, 1500)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, event).json()["detail"] == "refunds recorded"
        assert deliver(client, stripe_business, event).json()["detail"] == "duplicate"
    with business_scope(stripe_business):
        refund = Refund.objects.get()
        assert (refund.amount, refund.state, refund.releases_capacity) == (
            1500,
            RefundState.SUCCEEDED,
            False,
        )
        assert OutboxMessage.objects.filter(template="payment_refund").count() == 1
        assert AuditEntry.objects.filter(action="refund.external").count() == 1
    assert purpose.refunded == [refund.pk]


@pytest.mark.parametrize("typed", ["²", "9" * 5000])
def test_a_dashboard_refund_with_a_refund_id_int_cannot_read_is_recorded_as_external(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    purpose: RecordingPurpose,
    typed: str,
) -> None:
    # Metadata typed in Stripe's dashboard: "²" passes isdigit() and 5,000 nines pass
    # isdecimal(), but int() refuses both.
    payment = paid_stripe_payment(client, stripe_business, fake_stripe)
    event = fake_stripe.refund_in_dashboard(payment.provider_reference, 1500)
    (item,) = fake_stripe.refunds.values()
    item["metadata"] = {"tillbook_refund": typed}
    # Older API versions list the charge's refunds, with their metadata, in charge.refunded.
    charge = {**event["data"]["object"], "refunds": {"object": "list", "data": [item]}}
    response = deliver(client, stripe_business, fake_stripe.event("charge.refunded", charge))
    assert (response.status_code, response.json()["detail"]) == (200, "refunds recorded")
    with business_scope(stripe_business):
        assert list(Refund.objects.values_list("amount", "state", "provider_reference")) == [
            (1500, RefundState.SUCCEEDED, item["id"])
        ]


def test_stripe_switched_off_still_refunds_its_payments(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    owner: User,
    purpose: RecordingPurpose,
) -> None:
    payment = paid_stripe_payment(client, stripe_business, fake_stripe)
    with business_scope(stripe_business):
        provider_account_save(
            business=stripe_business, provider="stripe", actor=owner, is_enabled=False
        )
        refund = refund_create(payment=payment, amount=usd(100), reason="", actor=owner)
    assert refund.state == RefundState.SUCCEEDED


@pytest.mark.parametrize("answer", ["read after the webhook", "lost"])
def test_a_refund_stripe_reports_before_answering_is_counted_once_when_paid_out(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    owner: User,
    purpose: RecordingPurpose,
    run_tasks: Any,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
) -> None:
    """Stripe's charge.refunded (without the refund list, as current API versions send it)
    can settle a refund of ours before Stripe's answer to the call is read, or when that
    answer is lost: the refund still ends with Stripe's id, and the payout carrying it does
    not land it a second time."""
    payment = paid_stripe_payment(client, stripe_business, fake_stripe)
    charge_id = fake_stripe.intents[payment.provider_reference]["latest_charge"]
    sent = StripeProvider.refund

    def webhook_first(self: StripeProvider, *, refund: Refund) -> Any:
        outcome = sent(self, refund=refund)
        event = fake_stripe.event("charge.refunded", fake_stripe.charges[charge_id])
        assert deliver(client, stripe_business, event).json()["detail"] == "refunds recorded"
        return outcome

    monkeypatch.setattr(StripeProvider, "refund", webhook_first)
    if answer == "lost":
        fake_stripe.lose_next_response.add("/v1/refunds")
    with business_scope(stripe_business):
        refund = refund_create(payment=payment, amount=usd(2000), reason="", actor=owner)
    (stripe_refund,) = fake_stripe.refunds.values()
    assert refund.state == RefundState.SUCCEEDED
    charge_line = fake_stripe.charges[charge_id]["balance_transaction"]
    payout = fake_stripe.pay_out([charge_line, stripe_refund["balance_transaction"]])
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, stripe_business, fake_stripe.event("payout.paid", payout))
    assert run_tasks() == 1
    with business_scope(stripe_business):
        refunds = list(
            Refund.objects.values_list("pk", "amount", "state", "source", "provider_reference")
        )
        line = BalanceTransaction.objects.get(kind=BalanceKind.REFUND)
    assert refunds == [(refund.pk, 2000, RefundState.SUCCEEDED, "live", stripe_refund["id"])]
    assert (line.refund_id, line.payment_id, line.gross) == (refund.pk, payment.pk, -2000)
    assert purpose.refunded == [refund.pk]


def test_a_dashboard_refund_whose_handling_failed_is_recorded_when_the_event_is_retried(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    purpose: RecordingPurpose,
    run_tasks: Any,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The event is stored with what it did, in one transaction: when handling fails half way
    (here the database, busy, refuses a write), the retry finds the event new, not a
    duplicate, and the refund is recorded."""
    from django.db import OperationalError

    payment = paid_stripe_payment(client, stripe_business, fake_stripe)
    event = fake_stripe.refund_in_dashboard(payment.provider_reference, 1500)
    told = purpose.on_refunded
    failures = [OperationalError("database is locked")]

    def busy_once(*, refund: Refund) -> None:
        if failures:
            raise failures.pop()
        told(refund=refund)

    monkeypatch.setattr(purpose, "on_refunded", busy_once)
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, stripe_business, event)
    assert (response.status_code, response.json()["detail"]) == (
        200,
        "accepted; handling will be retried",
    )
    with business_scope(stripe_business):
        assert Refund.objects.count() == 0
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.update(run_after=timezone.now())
    assert run_tasks() == 1
    with business_scope(stripe_business):
        refund = Refund.objects.get()
    assert (refund.amount, refund.state, refund.source) == (1500, RefundState.SUCCEEDED, "live")
    assert purpose.refunded == [refund.pk]
    assert deliver(client, stripe_business, event).json()["detail"] == "duplicate"


def test_an_imported_payment_known_by_a_py_charge_is_refunded_by_its_charge(
    stripe_business: Business, fake_stripe: FakeStripe, owner: User
) -> None:
    """Stripe names some charges py_… (bank debits); its exports and payouts key such a
    payment by that charge, and a refund names it as `charge`, not as a PaymentIntent."""
    from django.utils import timezone

    from tillbook.payments.models import PaymentState, Source

    elsewhere = fake_stripe.charge_elsewhere(12000)
    charge_id = "py_" + elsewhere["id"].removeprefix("ch_")
    fake_stripe.charges[charge_id] = {**fake_stripe.charges.pop(elsewhere["id"]), "id": charge_id}
    with business_scope(stripe_business):
        payment = Payment.objects.create(
            business=stripe_business,
            provider="stripe",
            source=Source.IMPORT,
            state=PaymentState.SUCCEEDED,
            currency="USD",
            amount=12000,
            provider_reference=charge_id,
            succeeded_at=timezone.now(),
        )
        refund = refund_create(payment=payment, amount=usd(2000), reason="", actor=owner)
    (call,) = [r for r in fake_stripe.requests if r.path == "/v1/refunds"]
    assert (refund.state, refund.failure_reason) == (RefundState.SUCCEEDED, "")
    (stripe_refund,) = fake_stripe.refunds.values()
    assert (call.params["charge"], "payment_intent" in call.params) == (charge_id, False)
    assert (refund.state, refund.provider_reference, stripe_refund["charge"]) == (
        RefundState.SUCCEEDED,
        stripe_refund["id"],
        charge_id,
    )


@pytest.mark.parametrize("outcome", ["succeeded", "failed"])
def test_a_refund_stripe_settles_later_is_settled_by_its_own_update_not_by_the_charge(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    owner: User,
    purpose: RecordingPurpose,
    django_capture_on_commit_callbacks: Any,
    outcome: str,
) -> None:
    """Stripe answers "pending" for a refund it settles later; charge.refunded (sent when
    the refund is made, its total counting the pending refund) does not settle it, the
    refund's own charge.refund.updated does, whichever way it went."""
    payment, refund, stripe_refund = pending_stripe_refund(
        client, stripe_business, fake_stripe, owner
    )
    assert (refund.state, refund.provider_reference) == (RefundState.PENDING, stripe_refund["id"])
    charge_id = fake_stripe.intents[payment.provider_reference]["latest_charge"]
    made = fake_stripe.event("charge.refunded", fake_stripe.charges[charge_id])
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, made).json()["detail"] == "refunds recorded"
    with business_scope(stripe_business):
        refund.refresh_from_db()
        assert (refund.state, Refund.objects.count()) == (RefundState.PENDING, 1)
    reason = "expired_or_canceled_card" if outcome == "failed" else None
    updated = fake_stripe.refund_settles(stripe_refund["id"], outcome, reason)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, updated).json()["detail"] == f"refund {outcome}"
        assert deliver(client, stripe_business, updated).json()["detail"] == "duplicate"
    with business_scope(stripe_business):
        refund.refresh_from_db()
        mails = OutboxMessage.objects.filter(template="payment_refund").count()
        left = refundable(payment)
        assert Refund.objects.count() == 1
    if outcome == "succeeded":
        assert (refund.state, refund.failure_reason) == (RefundState.SUCCEEDED, "")
        assert (purpose.refunded, mails, left) == ([refund.pk], 1, usd(3000))
    else:
        assert (refund.state, refund.failure_reason) == (
            RefundState.FAILED,
            "Stripe could not refund: expired or canceled card.",
        )
        assert (purpose.refunded, mails, left) == ([], 0, usd(5000))


@pytest.mark.parametrize("outcome", ["succeeded", "failed"])
def test_a_pending_refund_whose_update_never_came_is_asked_about(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    owner: User,
    purpose: RecordingPurpose,
    django_capture_on_commit_callbacks: Any,
    outcome: str,
) -> None:
    """An endpoint set up before Tillbook asked for charge.refund.updated (or an event lost on
    the way) left a refund Stripe answered "pending" pending for good: never counted, never
    told to the buyer. The sweep asks Stripe about refunds still pending after ten minutes."""
    from datetime import timedelta

    from django.utils import timezone

    from tillbook.core.scoping import unscoped
    from tillbook.payments.polling import pending_refunds_poll

    payment, refund, stripe_refund = pending_stripe_refund(
        client, stripe_business, fake_stripe, owner
    )
    with unscoped():
        # Younger than ten minutes: not asked yet.
        assert pending_refunds_poll().as_dict() == {
            "succeeded": 0,
            "failed": 0,
            "pending": 0,
            "errors": 0,
        }
        Refund.objects.filter(pk=refund.pk).update(
            created_at=timezone.now() - timedelta(minutes=11)
        )
        assert pending_refunds_poll().as_dict() == {  # Stripe has not settled it yet
            "succeeded": 0,
            "failed": 0,
            "pending": 1,
            "errors": 0,
        }
    reason = "expired_or_canceled_card" if outcome == "failed" else None
    fake_stripe.refund_settles(stripe_refund["id"], outcome, reason)  # its event is lost
    with django_capture_on_commit_callbacks(execute=True), unscoped():
        report = pending_refunds_poll().as_dict()
        assert pending_refunds_poll().as_dict()["pending"] == 0  # asked again: nothing left
    assert report == {"succeeded": 0, "failed": 0, "pending": 0, "errors": 0, outcome: 1}
    with business_scope(stripe_business):
        refund.refresh_from_db()
        mails = OutboxMessage.objects.filter(template="payment_refund").count()
        left = refundable(payment)
    if outcome == "succeeded":
        assert (refund.state, refund.failure_reason) == (RefundState.SUCCEEDED, "")
        assert (purpose.refunded, mails, left) == ([refund.pk], 1, usd(3000))
    else:
        assert (refund.state, refund.failure_reason) == (
            RefundState.FAILED,
            "Stripe could not refund: expired or canceled card.",
        )
        assert (purpose.refunded, mails, left) == ([], 0, usd(5000))


@pytest.mark.parametrize("learnt_by", ["webhook", "poll"])
def test_a_pending_refund_of_a_bank_debit_is_settled_by_its_update_or_the_poll(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    owner: User,
    purpose: RecordingPurpose,
    django_capture_on_commit_callbacks: Any,
    learnt_by: str,
) -> None:
    """Stripe names the refunds of bank debits and other non-card methods pyr_…, and these
    are the refunds it answers "pending" for: their charge.refund.updated was taken for
    another's ("unknown payment") and the poll never asked about them, so they stayed
    pending for good."""
    from datetime import timedelta

    from django.utils import timezone

    from tillbook.core.scoping import unscoped
    from tillbook.payments.polling import pending_refunds_poll

    payment, refund, stripe_refund = pending_stripe_refund(
        client, stripe_business, fake_stripe, owner, refund_prefix="pyr"
    )
    assert (refund.state, refund.provider_reference) == (RefundState.PENDING, stripe_refund["id"])
    assert stripe_refund["id"].startswith("pyr_")
    updated = fake_stripe.refund_settles(stripe_refund["id"], "succeeded")
    with django_capture_on_commit_callbacks(execute=True):
        if learnt_by == "webhook":
            answer = deliver(client, stripe_business, updated).json()["detail"]
            assert answer == "refund succeeded"
        else:
            with unscoped():
                Refund.objects.filter(pk=refund.pk).update(
                    created_at=timezone.now() - timedelta(minutes=11)
                )
                assert pending_refunds_poll().as_dict()["succeeded"] == 1
    with business_scope(stripe_business):
        refund.refresh_from_db()
        assert (refund.state, purpose.refunded) == (RefundState.SUCCEEDED, [refund.pk])
        assert refundable(payment) == usd(3000)


def _balance_history(fake: FakeStripe, *ids: str) -> ImportSource:
    """Stripe's balance history export of the fake's balance transactions `ids`."""
    rows = ["id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Description"]
    for txn_id in ids:
        t = fake.balance_transactions[txn_id]
        created = datetime.fromtimestamp(t["created"], tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
        rows.append(
            f"{t['id']},{t['type']},{t['source']},{t['amount'] / 100:.2f},{t['fee'] / 100:.2f},"
            f"{t['net'] / 100:.2f},{t['currency']},{created},"
        )
    return ImportSource.from_bytes("\n".join(rows).encode(), "balance_history.csv")


def _refunds_today(business: Business) -> int:
    with business_scope(business):
        rollups_refresh(business=business)
        today = timezone.localdate(timezone=business.zone)
        totals = sales_totals(business=business, period=Period(today, today, business.zone))
    return totals["USD"].refunds


@pytest.mark.parametrize("names_its_line", [True, False])
def test_a_refund_that_comes_back_after_it_succeeded_is_taken_off_the_refunds_once(
    names_its_line: bool,
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    owner: User,
    purpose: RecordingPurpose,
    run_import: Callable[..., ImportRun],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Stripe made the $20.00 refund, then the customer's bank could not take it: the refund
    stayed counted and Stripe's charge.refund.updated was only logged."""
    payment = paid_stripe_payment(client, stripe_business, fake_stripe)
    with business_scope(stripe_business), django_capture_on_commit_callbacks(execute=True):
        refund = refund_create(payment=payment, amount=usd(2000), reason="", actor=owner)
    assert refund.state == RefundState.SUCCEEDED
    assert _refunds_today(stripe_business) == 2000
    stripe_refund = fake_stripe.refunds[refund.provider_reference]
    came_back = fake_stripe.refund_settles(stripe_refund["id"], "failed", "lost_or_stolen_card")
    failure_id = fake_stripe.refunds[refund.provider_reference]["failure_balance_transaction"]
    if not names_its_line:  # an event that does not say which balance line it was
        del came_back["data"]["object"]["failure_balance_transaction"]
    line_id = failure_id if names_its_line else f"{refund.provider_reference}:failure"
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, came_back).json()["detail"] == "refund failed"
        assert deliver(client, stripe_business, came_back).json()["detail"] == "duplicate"
    with business_scope(stripe_business):
        refund.refresh_from_db()
        lines = list(
            BalanceTransaction.objects.values_list(
                "provider_reference", "kind", "gross", "net", "refund_id", "payment_id"
            )
        )
        audit = list(
            AuditEntry.objects.filter(action="refund.failed").values_list("summary", flat=True)
        )
        mails = OutboxMessage.objects.filter(template="payment_refund").count()
    assert refund.state == RefundState.SUCCEEDED  # it was made; the money came back after
    assert refund.failure_reason.startswith("Came back on ")
    assert refund.failure_reason.endswith(
        ": the customer's bank could not take it (lost or stolen card). Stripe put the money "
        "back in your balance; pay the customer another way."
    )
    assert lines == [(line_id, "adjustment", 2000, 2000, refund.pk, payment.pk)]
    assert audit == ["Refund of $20.00 came back from the customer's bank (lost or stolen card)"]
    assert mails == 1  # the refund's own, not another
    assert _refunds_today(stripe_business) == 0
    # The balance history, imported after: the refund is known, its coming back counted once
    # (the same line, or one of no kind beside the line the webhook wrote).
    source = _balance_history(fake_stripe, stripe_refund["balance_transaction"], failure_id)
    imported = run_import(source)
    assert (imported.state, imported.imported, imported.duplicates) == (
        ("done", 1, 1) if names_its_line else ("done", 2, 0)
    )
    with business_scope(stripe_business):
        kinds = sorted(BalanceTransaction.objects.values_list("provider_reference", "kind"))
    assert kinds == sorted(
        [(stripe_refund["balance_transaction"], "refund"), (line_id, "adjustment")]
        + ([] if names_its_line else [(failure_id, "other")])
    )
    assert _refunds_today(stripe_business) == 0


def test_the_coming_back_of_a_refund_that_failed_while_pending_lowers_no_refunds(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    owner: User,
    purpose: RecordingPurpose,
    run_import: Callable[..., ImportRun],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """A refund Stripe answered "pending" for and then failed was never counted; its lines in
    the balance history (the refund's and its money coming back) must not count either."""
    _, refund, stripe_refund = pending_stripe_refund(client, stripe_business, fake_stripe, owner)
    failed = fake_stripe.refund_settles(stripe_refund["id"], "failed", "expired_or_canceled_card")
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, failed).json()["detail"] == "refund failed"
    failure_id = fake_stripe.refunds[stripe_refund["id"]]["failure_balance_transaction"]
    source = _balance_history(fake_stripe, stripe_refund["balance_transaction"], failure_id)
    imported = run_import(source)
    assert (imported.state, imported.imported) == ("done", 2)
    with business_scope(stripe_business):
        refund.refresh_from_db()
        kinds = sorted(BalanceTransaction.objects.values_list("kind", "gross", "refund_id"))
    assert refund.state == RefundState.FAILED
    assert kinds == [("other", 2000, None), ("refund", -2000, refund.pk)]
    assert _refunds_today(stripe_business) == 0


def refunded_in_dashboard(
    client: Client, business: Business, fake: FakeStripe, amount: int
) -> dict[str, Any]:
    """A paid $50.00 payment refunded `amount` in Stripe's dashboard, told by charge.refunded
    without its list of refunds (delivered; returned)."""
    payment = paid_stripe_payment(client, business, fake)
    refunded = fake.refund_in_dashboard(payment.provider_reference, amount)
    assert "refunds" not in refunded["data"]["object"]
    assert deliver(client, business, refunded).json()["detail"] == "refunds recorded"
    return refunded


def _refunded(
    client: Client, business: Business, fake: FakeStripe, owner: User
) -> tuple[Payment, Refund]:
    """A paid $50.00 payment and its $20.00 refund, which Stripe made at once."""
    payment = paid_stripe_payment(client, business, fake)
    with business_scope(business):
        refund = refund_create(payment=payment, amount=usd(2000), reason="", actor=owner)
    assert refund.state == RefundState.SUCCEEDED
    return payment, refund


def _came_back_lines(business: Business) -> list[tuple[str, str, int, int | None]]:
    with business_scope(business):
        return sorted(
            BalanceTransaction.objects.filter(kind=BalanceKind.ADJUSTMENT).values_list(
                "provider_reference", "currency", "gross", "refund_id"
            )
        )


def test_a_refund_whose_coming_back_was_imported_first_is_taken_off_once(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    owner: User,
    purpose: RecordingPurpose,
    run_import: Callable[..., ImportRun],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The balance history, with Stripe's line for the money coming back, was imported before
    the event that says so arrived, and that event does not name the line: a second line
    (`re_…:failure`) took the $20.00 off the refunds twice."""
    _, refund = _refunded(client, stripe_business, fake_stripe, owner)
    stripe_refund = fake_stripe.refunds[refund.provider_reference]
    came_back = fake_stripe.refund_settles(stripe_refund["id"], "failed", "lost_or_stolen_card")
    failure_id = stripe_refund["failure_balance_transaction"]
    del came_back["data"]["object"]["failure_balance_transaction"]
    source = _balance_history(fake_stripe, stripe_refund["balance_transaction"], failure_id)
    assert run_import(source).imported == 2
    assert _refunds_today(stripe_business) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, came_back).json()["detail"] == "refund failed"
    with business_scope(stripe_business):
        refund.refresh_from_db()
        audit = AuditEntry.objects.filter(action="refund.failed").count()
    assert _came_back_lines(stripe_business) == [(failure_id, "USD", 2000, refund.pk)]
    assert refund.failure_reason.startswith("Came back on ")
    assert audit == 1
    assert _refunds_today(stripe_business) == 0


def test_two_events_of_one_refund_coming_back_one_naming_its_line_make_one_line(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    owner: User,
    purpose: RecordingPurpose,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """charge.refund.updated without the line's id, then refund.failed with it: two lines."""
    _, refund = _refunded(client, stripe_business, fake_stripe, owner)
    updated = fake_stripe.refund_settles(refund.provider_reference, "failed", "unknown")
    failed = fake_stripe.event("refund.failed", updated["data"]["object"])
    del updated["data"]["object"]["failure_balance_transaction"]
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, updated).json()["detail"] == "refund failed"
        assert deliver(client, stripe_business, failed).json()["detail"] == "refund failed"
    with business_scope(stripe_business):
        audit = AuditEntry.objects.filter(action="refund.failed").count()
    reference = f"{refund.provider_reference}:failure"
    assert _came_back_lines(stripe_business) == [(reference, "USD", 2000, refund.pk)]
    assert audit == 1
    assert _refunds_today(stripe_business) == 0


def test_the_coming_back_of_a_converted_refund_is_in_the_currency_it_was_taken_in(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    owner: User,
    purpose: RecordingPurpose,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The $20.00 refund was taken from a balance kept in euros (€18.50, Stripe's line for
    it): the money coming back is those euros, as Stripe's own line for it is."""
    payment, refund = _refunded(client, stripe_business, fake_stripe, owner)
    with business_scope(stripe_business):
        BalanceTransaction.objects.create(
            business=stripe_business, provider="stripe", provider_reference="txn_taken",
            kind=BalanceKind.REFUND, currency="EUR", gross=-1850, fee=0, net=-1850,
            occurred_at=timezone.now(), payment=payment, refund=refund,
        )  # fmt: skip
    came_back = fake_stripe.refund_settles(refund.provider_reference, "failed", "unknown")
    failure_id = came_back["data"]["object"]["failure_balance_transaction"]
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, came_back).json()["detail"] == "refund failed"
    assert _came_back_lines(stripe_business) == [(failure_id, "EUR", 1850, refund.pk)]


@pytest.mark.parametrize("order", ["came back first", "told out of order", "imported"])
def test_a_dashboard_refund_beside_one_that_came_back_is_recorded(
    order: str,
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    owner: User,
    purpose: RecordingPurpose,
    run_import: Callable[..., ImportRun],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Our $20.00 refund came back (Stripe's refunded total lost it again) and staff refunded
    $15.00 in Stripe's dashboard; charge.refunded, without its list of refunds, says how much
    was refunded in all when it was made. The $20.00 counted in that total, where it had come
    back before, hid the $15.00.

    came back first: charge.refunded made after the refund came back says $15.00.
    told out of order: made a minute before it came back ($35.00), delivered after.
    imported: its coming back known from the balance history alone, no event about it."""
    payment, refund = _refunded(client, stripe_business, fake_stripe, owner)
    stripe_refund = fake_stripe.refunds[refund.provider_reference]
    dashboard = None
    if order == "told out of order":
        dashboard = fake_stripe.refund_in_dashboard(payment.provider_reference, 1500)
        dashboard["created"] -= 60
    came_back = fake_stripe.refund_settles(refund.provider_reference, "failed", "unknown")
    if order == "imported":
        lines = (stripe_refund["balance_transaction"], stripe_refund["failure_balance_transaction"])
        assert run_import(_balance_history(fake_stripe, *lines)).imported == 2
    else:
        with django_capture_on_commit_callbacks(execute=True):
            assert deliver(client, stripe_business, came_back).json()["detail"] == "refund failed"
    if dashboard is None:
        dashboard = fake_stripe.refund_in_dashboard(payment.provider_reference, 1500)
    charge = dashboard["data"]["object"]
    assert "refunds" not in charge
    assert charge["amount_refunded"] == (3500 if order == "told out of order" else 1500)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, dashboard).json()["detail"] == "refunds recorded"
    with business_scope(stripe_business):
        refunds = sorted(Refund.objects.values_list("amount", "state"))
        linked = BalanceTransaction.objects.get(kind=BalanceKind.ADJUSTMENT).refund_id
    assert refunds == [(1500, RefundState.SUCCEEDED), (2000, RefundState.SUCCEEDED)]
    assert linked == refund.pk
    assert _refunds_today(stripe_business) == 1500


def test_a_dashboard_refund_whose_coming_back_was_imported_before_it_was_known_counts_once(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    purpose: RecordingPurpose,
    run_import: Callable[..., ImportRun],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """A $15.00 refund made in Stripe's dashboard came back. The balance history, imported
    before charge.refunded told Tillbook of the refund, has Stripe's line for the money
    coming back, linked to no refund: the event that says it came back must find that line
    by the refund it names, not write a second one."""
    payment = paid_stripe_payment(client, stripe_business, fake_stripe)
    event = fake_stripe.refund_in_dashboard(payment.provider_reference, 1500)
    (item,) = fake_stripe.refunds.values()
    # An API version that lists the charge's refunds: the refund is known by its id.
    charge = {**event["data"]["object"], "refunds": {"object": "list", "data": [dict(item)]}}
    refunded = fake_stripe.event("charge.refunded", charge)
    came_back = fake_stripe.refund_settles(item["id"], "failed", "unknown")
    failure_id = came_back["data"]["object"].pop("failure_balance_transaction")
    imported = run_import(_balance_history(fake_stripe, failure_id))
    assert (imported.state, imported.imported) == ("done", 1)
    assert _came_back_lines(stripe_business) == [(failure_id, "USD", 1500, None)]
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, refunded).json()["detail"] == "refunds recorded"
        assert deliver(client, stripe_business, came_back).json()["detail"] == "refund failed"
    with business_scope(stripe_business):
        refund = Refund.objects.get()
    assert (refund.amount, refund.provider_reference) == (1500, item["id"])
    assert refund.failure_reason.startswith("Came back on ")
    assert _came_back_lines(stripe_business) == [(failure_id, "USD", 1500, refund.pk)]
    assert _refunds_today(stripe_business) == 0


def _lifetime_revenue(business: Business) -> list[tuple[str, int, int, int]]:
    """The cohort table's (currency, customers, orders, revenue) rows."""
    with business_scope(business):
        return [
            (c.currency, c.customers, c.orders, c.revenue)
            for c in lifetime_value_by_cohort(business=business)
        ]


@pytest.mark.parametrize("summed", ["by customer", "all at once"])
@pytest.mark.parametrize("told_by", ["webhook", "balance history"])
def test_a_refund_that_came_back_is_value_from_the_customer_again(
    told_by: str,
    summed: str,
    monkeypatch: pytest.MonkeyPatch,
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    owner: User,
    purpose: RecordingPurpose,
    run_import: Callable[..., ImportRun],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The $20.00 refund of a $50.00 payment came back (the customer's bank could not take
    it): the customer was never paid it, so their lifetime value is $50.00 again. It stayed
    $30.00: the cohort table summed every succeeded refund."""
    if summed == "all at once":  # as after a large import: every customer summed again
        monkeypatch.setattr(rollups, "VALUES_BY_CUSTOMER_UP_TO", 0)
    _, refund = _refunded(client, stripe_business, fake_stripe, owner)
    assert _lifetime_revenue(stripe_business) == [("USD", 1, 1, 3000)]
    stripe_refund = fake_stripe.refunds[refund.provider_reference]
    came_back = fake_stripe.refund_settles(stripe_refund["id"], "failed", "lost_or_stolen_card")
    if told_by == "webhook":
        with django_capture_on_commit_callbacks(execute=True):
            assert deliver(client, stripe_business, came_back).json()["detail"] == "refund failed"
    else:
        failure_id = stripe_refund["failure_balance_transaction"]
        imported = run_import(_balance_history(fake_stripe, failure_id))
        assert (imported.state, imported.imported) == ("done", 1)
    assert len(_came_back_lines(stripe_business)) == 1
    assert _lifetime_revenue(stripe_business) == [("USD", 1, 1, 5000)]


def test_the_upgrade_values_again_the_customers_of_refunds_that_came_back(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    owner: User,
    purpose: RecordingPurpose,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """A refund that came back before the upgrade left its customer's value summed without it
    (insights/0007 has the next refresh sum that customer again)."""
    import importlib

    from django.apps import apps

    from tillbook.payments import webhooks

    _, refund = _refunded(client, stripe_business, fake_stripe, owner)
    assert _lifetime_revenue(stripe_business) == [("USD", 1, 1, 3000)]
    stripe_refund = fake_stripe.refunds[refund.provider_reference]
    came_back = fake_stripe.refund_settles(stripe_refund["id"], "failed", "lost_or_stolen_card")
    with monkeypatch.context() as before:  # as Tillbook did before: nothing read again
        before.setattr(webhooks, "customer_values_reread", lambda **kwargs: None)
        with django_capture_on_commit_callbacks(execute=True):
            assert deliver(client, stripe_business, came_back).json()["detail"] == "refund failed"
    assert _lifetime_revenue(stripe_business) == [("USD", 1, 1, 3000)]
    migration = importlib.import_module(
        "tillbook.insights.migrations.0007_came_back_refunds_valued_again"
    )
    migration.value_again(apps, None)
    assert _lifetime_revenue(stripe_business) == [("USD", 1, 1, 5000)]


@pytest.mark.parametrize("names_its_line", [True, False])
def test_a_dashboard_refund_known_only_in_the_charge_s_total_that_came_back_counts_no_more(
    names_its_line: bool,
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    purpose: RecordingPurpose,
    run_import: Callable[..., ImportRun],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Staff refunded $15.00 in Stripe's dashboard; charge.refunded, without its list of
    refunds, made it a refund of the charge's total. The refund then came back: its events
    name a refund id Tillbook does not have, and were only logged, so the $15.00 stayed in
    the refunds for good."""
    with django_capture_on_commit_callbacks(execute=True):
        refunded = refunded_in_dashboard(client, stripe_business, fake_stripe, 1500)
    with business_scope(stripe_business):
        total = Refund.objects.get()
    charge = refunded["data"]["object"]["id"]
    assert (total.provider_reference, total.amount) == (f"{charge}:1500", 1500)
    assert _refunds_today(stripe_business) == 1500
    (item,) = fake_stripe.refunds.values()
    came_back = fake_stripe.refund_settles(item["id"], "failed", "lost_or_stolen_card")
    failure_id = came_back["data"]["object"]["failure_balance_transaction"]
    if not names_its_line:
        del came_back["data"]["object"]["failure_balance_transaction"]
    other = fake_stripe.event("refund.failed", fake_stripe.refunds[item["id"]])  # its twin
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, came_back).json()["detail"] == "refund failed"
        assert deliver(client, stripe_business, came_back).json()["detail"] == "duplicate"
        assert deliver(client, stripe_business, other).json()["detail"] == "refund failed"
    line_id = failure_id if names_its_line else f"{item['id']}:failure"
    with business_scope(stripe_business):
        audit = list(
            AuditEntry.objects.filter(action="refund.failed").values_list("summary", flat=True)
        )
    assert _came_back_lines(stripe_business) == [(line_id, "USD", 1500, total.pk)]
    assert len(audit) == 1
    assert audit[0].startswith(
        "Refund of $15.00 made in Stripe came back from the customer's bank (lost or stolen card)"
    )
    assert _refunds_today(stripe_business) == 0
    assert _lifetime_revenue(stripe_business) == [("USD", 1, 1, 5000)]
    # Stripe's line for the money coming back, imported after, is the webhook's, or lands as a
    # line of no kind beside it. (Not the refund's own line: the balance history does not name
    # its charge, and Tillbook does not know the refund's id, so it would count once more.)
    imported = run_import(_balance_history(fake_stripe, failure_id))
    assert (imported.state, imported.imported) == ("done", 0 if names_its_line else 1)
    with business_scope(stripe_business):
        stripe_line = BalanceTransaction.objects.get(provider_reference=failure_id).kind
    assert stripe_line == ("adjustment" if names_its_line else "other")
    assert _refunds_today(stripe_business) == 0


def test_a_dashboard_refund_never_counted_writes_nothing_when_it_comes_back(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    purpose: RecordingPurpose,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Its charge.refunded never reached Tillbook, so the refund was never counted: its money
    coming back takes nothing off."""
    payment = paid_stripe_payment(client, stripe_business, fake_stripe)
    fake_stripe.refund_in_dashboard(payment.provider_reference, 1500)  # not delivered
    (item,) = fake_stripe.refunds.values()
    came_back = fake_stripe.refund_settles(item["id"], "failed", "unknown")
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, came_back).json()["detail"] == "refund failed"
    with business_scope(stripe_business):
        audit = AuditEntry.objects.filter(action="refund.failed").count()
    assert (_came_back_lines(stripe_business), audit) == ([], 0)
    assert _refunds_today(stripe_business) == 0


def _refunds(business: Business) -> list[tuple[str, int, str]]:
    with business_scope(business):
        return sorted(Refund.objects.values_list("provider_reference", "amount", "state"))


def _delivered(client: Client, business: Business, events: list[dict[str, Any]]) -> None:
    """Deliver `events` in turn, each answered 200."""
    for event in events:
        assert deliver(client, business, event).status_code == 200


def _told(business: Business) -> tuple[int, int]:
    """How many times the customer and the activity log heard of a refund made at Stripe."""
    with business_scope(business):
        return (
            OutboxMessage.objects.filter(template="payment_refund").count(),
            AuditEntry.objects.filter(action="refund.external").count(),
        )


@pytest.mark.parametrize("first", ["charge.refunded", "refund.created"])
def test_a_dashboard_refund_told_by_its_total_and_its_own_event_counts_once_with_its_line(
    first: str,
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    purpose: RecordingPurpose,
    run_import: Callable[..., ImportRun],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Staff refunded $15.00 in Stripe's dashboard. charge.refunded, without its list of
    refunds, made it a refund of the charge's total; the balance history's line of the refund
    names only the refund (`re_…`), which Tillbook did not know, so importing it counted the
    $15.00 a second time. refund.created names it: it is the refund, whichever came first."""
    payment = paid_stripe_payment(client, stripe_business, fake_stripe)
    refunded = fake_stripe.refund_in_dashboard(payment.provider_reference, 1500)
    assert "refunds" not in refunded["data"]["object"]
    (item,) = fake_stripe.refunds.values()
    created = fake_stripe.event("refund.created", item)
    answers = {"charge.refunded": "refunds recorded", "refund.created": "refund succeeded"}
    events = [refunded, created] if first == "charge.refunded" else [created, refunded]
    with django_capture_on_commit_callbacks(execute=True):
        for event in events:
            answer = deliver(client, stripe_business, event).json()["detail"]
            assert answer == answers[event["type"]]
        # Stripe's twin of refund.created, and a second delivery: nothing more.
        twin = fake_stripe.event("charge.refund.updated", item)
        assert deliver(client, stripe_business, twin).json()["detail"] == "refund succeeded"
        assert deliver(client, stripe_business, created).json()["detail"] == "duplicate"
    assert _refunds(stripe_business) == [(item["id"], 1500, RefundState.SUCCEEDED)]
    assert _told(stripe_business) == (1, 1)
    assert len(purpose.refunded) == 1
    assert _refunds_today(stripe_business) == 1500
    imported = run_import(_balance_history(fake_stripe, item["balance_transaction"]))
    assert (imported.state, imported.imported) == ("done", 1)
    with business_scope(stripe_business):
        refund = Refund.objects.get()
        line = BalanceTransaction.objects.get(provider_reference=item["balance_transaction"])
    assert (line.kind, line.gross, line.refund_id, line.payment_id) == (
        BalanceKind.REFUND,
        -1500,
        refund.pk,
        payment.pk,
    )
    assert _refunds_today(stripe_business) == 1500


def test_dashboard_refunds_within_one_total_take_their_shares_of_it(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    purpose: RecordingPurpose,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """$10.00 and then $5.00 refunded in Stripe's dashboard, told by one charge.refunded (the
    first one's was lost): a total of $15.00. Each refund's own event then takes its share,
    on the day the total counted it, and the customer was told once, with the total."""
    payment = paid_stripe_payment(client, stripe_business, fake_stripe)
    fake_stripe.refund_in_dashboard(payment.provider_reference, 1000)  # not delivered
    refunded = fake_stripe.refund_in_dashboard(payment.provider_reference, 500)
    first, second = fake_stripe.refunds.values()
    charge = refunded["data"]["object"]["id"]
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, refunded).json()["detail"] == "refunds recorded"
    with business_scope(stripe_business):
        counted_at = Refund.objects.get().succeeded_at
    assert _refunds(stripe_business) == [(f"{charge}:1500", 1500, RefundState.SUCCEEDED)]
    with django_capture_on_commit_callbacks(execute=True):
        event = fake_stripe.event("refund.created", first)
        assert deliver(client, stripe_business, event).json()["detail"] == "refund succeeded"
    with business_scope(stripe_business):
        (total,) = Refund.objects.filter(provider_reference__startswith=charge)
    assert _refunds(stripe_business) == [
        # What is left of Stripe's total no longer says that total.
        (f"{charge}:1500#{total.pk}", 500, RefundState.SUCCEEDED),
        (first["id"], 1000, RefundState.SUCCEEDED),
    ]
    assert _refunds_today(stripe_business) == 1500
    with django_capture_on_commit_callbacks(execute=True):
        event = fake_stripe.event("refund.created", second)
        assert deliver(client, stripe_business, event).json()["detail"] == "refund succeeded"
    assert _refunds(stripe_business) == sorted(
        [(first["id"], 1000, RefundState.SUCCEEDED), (second["id"], 500, RefundState.SUCCEEDED)]
    )
    with business_scope(stripe_business):
        times = set(Refund.objects.values_list("succeeded_at", flat=True))
    assert times == {counted_at}
    assert _told(stripe_business) == (1, 1)
    assert _refunds_today(stripe_business) == 1500


def test_a_dashboard_refund_no_total_counted_is_recorded_by_its_own_event(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    purpose: RecordingPurpose,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """charge.refunded never came: refund.created records the refund, told once."""
    payment = paid_stripe_payment(client, stripe_business, fake_stripe)
    fake_stripe.refund_in_dashboard(payment.provider_reference, 1500)  # not delivered
    (item,) = fake_stripe.refunds.values()
    with django_capture_on_commit_callbacks(execute=True):
        event = fake_stripe.event("refund.created", item)
        assert deliver(client, stripe_business, event).json()["detail"] == "refund succeeded"
    assert _refunds(stripe_business) == [(item["id"], 1500, RefundState.SUCCEEDED)]
    assert _told(stripe_business) == (1, 1)
    assert _refunds_today(stripe_business) == 1500


def test_a_dashboard_refund_that_came_back_before_its_own_event_is_not_counted_again(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    purpose: RecordingPurpose,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The total counted it and its coming back took it off; refund.created, arriving last,
    says it succeeded (as it had when it was made): it stays off."""
    refunded_in_dashboard(client, stripe_business, fake_stripe, 1500)
    (item,) = fake_stripe.refunds.values()
    created = fake_stripe.event("refund.created", item)
    came_back = fake_stripe.refund_settles(item["id"], "failed", "unknown")
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, came_back).json()["detail"] == "refund failed"
        assert deliver(client, stripe_business, created).json()["detail"] == "refund succeeded"
    with business_scope(stripe_business):
        total = Refund.objects.get()
    assert total.provider_reference.endswith(":1500")
    failure_id = came_back["data"]["object"]["failure_balance_transaction"]
    assert _came_back_lines(stripe_business) == [(failure_id, "USD", 1500, total.pk)]
    assert _refunds_today(stripe_business) == 0


def test_a_dashboard_refund_larger_than_the_totals_before_it_is_recorded_whole(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    purpose: RecordingPurpose,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """$10.00 and then $15.00 refunded in Stripe's dashboard; the $15.00 one's own event came
    before its charge.refunded. The $10.00 total cannot hold it: it is recorded whole, so its
    coming back later takes off all of it."""
    payment = paid_stripe_payment(client, stripe_business, fake_stripe)
    first_total = fake_stripe.refund_in_dashboard(payment.provider_reference, 1000)
    second_total = fake_stripe.refund_in_dashboard(payment.provider_reference, 1500)
    first, second = fake_stripe.refunds.values()
    events = [
        first_total,
        fake_stripe.event("refund.created", second),
        second_total,
        fake_stripe.event("refund.created", first),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        _delivered(client, stripe_business, events)
    assert _refunds(stripe_business) == sorted(
        [(first["id"], 1000, RefundState.SUCCEEDED), (second["id"], 1500, RefundState.SUCCEEDED)]
    )
    assert _told(stripe_business) == (2, 2)
    assert _refunds_today(stripe_business) == 2500
    came_back = fake_stripe.refund_settles(second["id"], "failed", "lost_or_stolen_card")
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, came_back).json()["detail"] == "refund failed"
    assert _refunds_today(stripe_business) == 1000


def _refunds_on(business: Business, day: date) -> int:
    with business_scope(business):
        rollups_refresh(business=business)
        totals = sales_totals(business=business, period=Period(day, day, business.zone))
    return totals["USD"].refunds if "USD" in totals else 0


def test_a_dashboard_refund_told_late_takes_nothing_from_a_total_counted_before_it_was_made(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    purpose: RecordingPurpose,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """$10.00 refunded in Stripe's dashboard two days ago, counted then as the charge's total;
    $5.00 today, whose refund.created comes before its charge.refunded, and the first one's
    refund.created last (Stripe does not send events in order). Each stays on its own day."""
    payment = paid_stripe_payment(client, stripe_business, fake_stripe)
    first_total = fake_stripe.refund_in_dashboard(payment.provider_reference, 1000)
    two_days = timedelta(days=2)
    (first,) = fake_stripe.refunds.values()
    first["created"] -= int(two_days.total_seconds())
    first_total["created"] -= int(two_days.total_seconds())
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, first_total).status_code == 200
    with business_scope(stripe_business):
        Refund.objects.update(
            created_at=timezone.now() - two_days, succeeded_at=timezone.now() - two_days
        )
    second_total = fake_stripe.refund_in_dashboard(payment.provider_reference, 500)
    second = fake_stripe.refunds[next(ref for ref in fake_stripe.refunds if ref != first["id"])]
    events = [
        fake_stripe.event("refund.created", second),
        second_total,
        fake_stripe.event("refund.created", first),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        _delivered(client, stripe_business, events)
    assert _refunds(stripe_business) == sorted(
        [(first["id"], 1000, RefundState.SUCCEEDED), (second["id"], 500, RefundState.SUCCEEDED)]
    )
    today = timezone.localdate(timezone=stripe_business.zone)
    assert _refunds_on(stripe_business, today - two_days) == 1000
    assert _refunds_on(stripe_business, today) == 500
    assert _told(stripe_business) == (2, 2)


@pytest.mark.parametrize("imported_first", [False, True])
def test_our_refund_settled_by_charge_refunded_takes_its_id_from_refund_created(
    imported_first: bool,
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    owner: User,
    purpose: RecordingPurpose,
    run_import: Callable[..., ImportRun],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Stripe's answer to the refund call was lost; charge.refunded (no list of refunds)
    settled the refund without its id, so the balance history's line of it landed as a second
    refund. refund.created, which finds it by the number Tillbook gave Stripe, gives it its id,
    and the line imported before it came (linked to nothing until then) with it."""
    payment = paid_stripe_payment(client, stripe_business, fake_stripe)
    fake_stripe.lose_next_response.add("/v1/refunds")
    with business_scope(stripe_business):
        refund = refund_create(payment=payment, amount=usd(2000), reason="", actor=owner)
    assert (refund.state, refund.provider_reference) == (RefundState.PENDING, "")
    (item,) = fake_stripe.refunds.values()
    refunded = fake_stripe.event("charge.refunded", fake_stripe.charges[item["charge"]])
    created = fake_stripe.event("refund.created", item)

    def imported() -> None:
        run = run_import(_balance_history(fake_stripe, item["balance_transaction"]))
        assert (run.state, run.imported) == ("done", 1)

    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, refunded).json()["detail"] == "refunds recorded"
    if imported_first:
        imported()
        assert _refunds_today(stripe_business) == 4000  # the line, linked to nothing, and ours
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, created).json()["detail"] == "refund succeeded"
    assert _refunds(stripe_business) == [(item["id"], 2000, RefundState.SUCCEEDED)]
    if not imported_first:
        imported()
    with business_scope(stripe_business):
        line = BalanceTransaction.objects.get(kind=BalanceKind.REFUND)
    assert (line.refund_id, line.payment_id) == (refund.pk, payment.pk)
    assert _refunds_today(stripe_business) == 2000
    assert purpose.refunded == [refund.pk]


def test_a_total_of_the_same_amount_as_one_renamed_before_is_recorded(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    purpose: RecordingPurpose,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """A $15.00 dashboard refund's total became the refund (its own event), and it came back;
    another $15.00 refund's total is the same text as the first one's was, and is recorded."""
    payment = paid_stripe_payment(client, stripe_business, fake_stripe)
    first_total = fake_stripe.refund_in_dashboard(payment.provider_reference, 1500)
    (first,) = fake_stripe.refunds.values()
    charge = first["charge"]
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, first_total).status_code == 200
        created = fake_stripe.event("refund.created", first)
        assert deliver(client, stripe_business, created).json()["detail"] == "refund succeeded"
        came_back = fake_stripe.refund_settles(first["id"], "failed", "unknown")
        assert deliver(client, stripe_business, came_back).json()["detail"] == "refund failed"
        second_total = fake_stripe.refund_in_dashboard(payment.provider_reference, 1500)
        answer = deliver(client, stripe_business, second_total).json()["detail"]
    assert answer == "refunds recorded"
    assert _refunds(stripe_business) == [
        (f"{charge}:1500", 1500, RefundState.SUCCEEDED),  # "ch_…" sorts before "re_…"
        (first["id"], 1500, RefundState.SUCCEEDED),
    ]
    assert _refunds_today(stripe_business) == 1500


def test_a_dashboard_refund_made_a_minute_after_a_total_takes_nothing_from_it(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    purpose: RecordingPurpose,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """$15.00 refunded in Stripe's dashboard, its charge.refunded counted as a total; a minute
    later $10.00 more, whose refund.created comes before the first one's: Stripe's total was
    taken before the second refund was made, so it holds only the first."""
    payment = paid_stripe_payment(client, stripe_business, fake_stripe)
    first_total = fake_stripe.refund_in_dashboard(payment.provider_reference, 1500)
    (first,) = fake_stripe.refunds.values()
    first["created"] -= 120
    first_total["created"] -= 60
    second_total = fake_stripe.refund_in_dashboard(payment.provider_reference, 1000)
    second = fake_stripe.refunds[next(ref for ref in fake_stripe.refunds if ref != first["id"])]
    events = [
        first_total,
        fake_stripe.event("refund.created", second),
        fake_stripe.event("refund.created", first),
        second_total,
    ]
    with django_capture_on_commit_callbacks(execute=True):
        _delivered(client, stripe_business, events)
    assert _refunds(stripe_business) == sorted(
        [(first["id"], 1500, RefundState.SUCCEEDED), (second["id"], 1000, RefundState.SUCCEEDED)]
    )
    assert _told(stripe_business) == (2, 2)
    assert _refunds_today(stripe_business) == 2500


@pytest.mark.parametrize("line_before_midnight", [False, True])
def test_a_dashboard_refund_whose_line_was_imported_before_its_own_event_counts_once(
    line_before_midnight: bool,
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    purpose: RecordingPurpose,
    run_import: Callable[..., ImportRun],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """$15.00 refunded in Stripe's dashboard: charge.refunded (no list of refunds) counted it
    within the charge's total, and the balance history, imported before refund.created came,
    landed the refund's line unlinked (it names only the refund): counted twice until then.
    refund.created links the line to the refund it names, and the line's day is summed again:
    with the refund made just before midnight and its total counted after, that is the day
    before the refund's."""
    zone = stripe_business.zone
    payment = paid_stripe_payment(client, stripe_business, fake_stripe)
    refunded = fake_stripe.refund_in_dashboard(payment.provider_reference, 1500)
    (item,) = fake_stripe.refunds.values()
    line = fake_stripe.balance_transactions[item["balance_transaction"]]
    if line_before_midnight:
        midnight = datetime.combine(timezone.localdate(timezone=zone), datetime.min.time(), zone)
        item["created"] = line["created"] = int(midnight.timestamp()) - 30
    line_day = datetime.fromtimestamp(line["created"], tz=UTC).astimezone(zone).date()
    today = timezone.localdate(timezone=zone)
    days = sorted({line_day, today})
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, refunded).json()["detail"] == "refunds recorded"
    imported = run_import(_balance_history(fake_stripe, line["id"]))
    assert (imported.state, imported.imported) == ("done", 1)
    counted_twice = {line_day: 1500, today: 1500} if line_before_midnight else {today: 3000}
    assert {day: _refunds_on(stripe_business, day) for day in days} == counted_twice
    created = fake_stripe.event("refund.created", item)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, created).json()["detail"] == "refund succeeded"
    assert _refunds(stripe_business) == [(item["id"], 1500, RefundState.SUCCEEDED)]
    with business_scope(stripe_business):
        refund = Refund.objects.get()
        linked = BalanceTransaction.objects.values_list("refund_id", "payment_id").get(
            provider_reference=line["id"]
        )
    assert linked == (refund.pk, payment.pk)
    assert {day: _refunds_on(stripe_business, day) for day in days} == (
        {line_day: 0, today: 1500} if line_before_midnight else {today: 1500}
    )
    assert _told(stripe_business) == (1, 1)
    assert len(purpose.refunded) == 1


def test_a_dashboard_refund_listed_by_charge_refunded_after_its_line_was_imported_counts_once(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    purpose: RecordingPurpose,
    run_import: Callable[..., ImportRun],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """An API version that lists the charge's refunds: the balance history, imported before
    charge.refunded came, landed the refund's line unlinked; the refund recorded by its id
    then takes the line."""
    payment = paid_stripe_payment(client, stripe_business, fake_stripe)
    event = fake_stripe.refund_in_dashboard(payment.provider_reference, 1500)
    (item,) = fake_stripe.refunds.values()
    charge = {**event["data"]["object"], "refunds": {"object": "list", "data": [dict(item)]}}
    imported = run_import(_balance_history(fake_stripe, item["balance_transaction"]))
    assert (imported.state, imported.imported) == ("done", 1)
    assert _refunds_today(stripe_business) == 1500  # the line, linked to nothing
    refunded = fake_stripe.event("charge.refunded", charge)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, refunded).json()["detail"] == "refunds recorded"
    with business_scope(stripe_business):
        refund = Refund.objects.get()
        linked = BalanceTransaction.objects.values_list("refund_id", "payment_id").get(
            provider_reference=item["balance_transaction"]
        )
    assert (refund.provider_reference, refund.amount) == (item["id"], 1500)
    assert linked == (refund.pk, payment.pk)
    assert _refunds_today(stripe_business) == 1500
    assert purpose.refunded == [refund.pk]


def test_a_payout_linking_a_dashboard_refund_s_imported_line_sums_its_day_again(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    purpose: RecordingPurpose,
    run_import: Callable[..., ImportRun],
    run_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """$15.00 refunded in Stripe's dashboard three days ago, counted today within the charge's
    total (charge.refunded came late); the balance history, imported then, landed the refund's
    line on its own day, unlinked. The payout carrying the line names the refund's charge: the
    total becomes the refund, the line is linked to it, and the line's day is summed again."""
    zone = stripe_business.zone
    payment = paid_stripe_payment(client, stripe_business, fake_stripe)
    refunded = fake_stripe.refund_in_dashboard(payment.provider_reference, 1500)
    (item,) = fake_stripe.refunds.values()
    line = fake_stripe.balance_transactions[item["balance_transaction"]]
    three_days = int(timedelta(days=3).total_seconds())
    item["created"] -= three_days
    line["created"] -= three_days
    line_day = datetime.fromtimestamp(line["created"], tz=UTC).astimezone(zone).date()
    today = timezone.localdate(timezone=zone)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, refunded).json()["detail"] == "refunds recorded"
    imported = run_import(_balance_history(fake_stripe, line["id"]))
    assert (imported.state, imported.imported) == ("done", 1)
    assert (_refunds_on(stripe_business, line_day), _refunds_on(stripe_business, today)) == (
        1500,
        1500,
    )
    payout = fake_stripe.pay_out([line["id"]])
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, stripe_business, fake_stripe.event("payout.paid", payout))
    run_tasks()
    assert _refunds(stripe_business) == [(item["id"], 1500, RefundState.SUCCEEDED)]
    with business_scope(stripe_business):
        refund = Refund.objects.get()
        linked = BalanceTransaction.objects.values_list("refund_id", "payment_id").get(
            provider_reference=line["id"]
        )
    assert linked == (refund.pk, payment.pk)
    assert (_refunds_on(stripe_business, line_day), _refunds_on(stripe_business, today)) == (
        0,
        1500,
    )
