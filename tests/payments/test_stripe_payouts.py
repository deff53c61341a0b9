"""Stripe payouts reach the ledger from payout.* webhooks: the payout, its balance lines read
from Stripe's API (against the fake server), linked to their payments, once however often the
webhook comes and whatever balance history is imported after."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db.models import Sum
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tillbook.core.models import Business
from tillbook.core.money import Money
from tillbook.core.scoping import business_scope, unscoped
from tillbook.imports.models import RunState
from tillbook.imports.source import ImportSource
from tillbook.insights.ledger import payouts_by_processor
from tillbook.insights.models import PayoutContents
from tillbook.insights.periods import Period
from tillbook.payments.models import (
    BalanceKind,
    BalanceTransaction,
    Payment,
    PaymentState,
    Payout,
    PayoutState,
    ProcessorEvent,
    Refund,
    Source,
)
from tillbook.payments.payouts import stripe_payout_lines_fetch
from tillbook.payments.services import (
    external_refund_key,
    payment_request_create,
    payment_start,
)

from ..access import database_fingerprint
from ..fakes.stripe_server import FakeStripe
from .fixtures import RecordingPurpose, deliver

LEDGER = (
    "payments.payment",
    "payments.refund",
    "payments.payout",
    "payments.balancetransaction",
    "insights.payoutcontents",
    "insights.dailyledger",
)


def ledger() -> dict[str, Any]:
    snapshot = database_fingerprint()
    return {label: snapshot[label] for label in LEDGER}


def paid_through_tillbook(
    client: Client, business: Business, fake: FakeStripe, amount: int
) -> Payment:
    with business_scope(business):
        request = payment_request_create(
            business=business, purpose="test", title="Coaching", amount=Money(amount, "USD")
        )
        payment = payment_start(
            request=request,
            provider="stripe",
            return_url=f"https://shop.example.test/pay/{request.token}/done/",
            customer_email="ann@example.com",
        ).payment
    events = fake.pay(payment.checkout_reference)
    assert deliver(client, business, events["checkout.session.completed"]).json()["detail"] == (
        "confirmed"
    )
    with business_scope(business):
        payment.refresh_from_db()
    return payment


def charge_line(fake: FakeStripe, payment_reference: str) -> str:
    intent = fake.intents.get(payment_reference)
    charge = fake.charges[intent["latest_charge"] if intent else payment_reference]
    return str(charge["balance_transaction"])


@pytest.fixture
def story(
    client: Client, stripe_business: Business, fake_stripe: FakeStripe, purpose: RecordingPurpose
) -> dict[str, Any]:
    """Three charges (two taken through Tillbook, one imported from Stripe's payments export),
    one refund made in Stripe's dashboard and a Radar fee, paid out together."""
    first = paid_through_tillbook(client, stripe_business, fake_stripe, 5000)
    second = paid_through_tillbook(client, stripe_business, fake_stripe, 8000)
    refunded = fake_stripe.refund_in_dashboard(second.provider_reference, 3000)
    assert deliver(client, stripe_business, refunded).json()["detail"] == "refunds recorded"
    elsewhere = fake_stripe.charge_elsewhere(12000)
    with business_scope(stripe_business):
        imported = Payment.objects.create(
            business=stripe_business,
            provider="stripe",
            source=Source.IMPORT,
            state=PaymentState.SUCCEEDED,
            currency="USD",
            amount=12000,
            fee_amount=378,
            provider_reference=elsewhere["id"],
            created_at=timezone.now(),
            succeeded_at=timezone.now(),
        )
        (refund,) = Refund.objects.filter(payment=second)
    (refund_line,) = [
        t["id"] for t in fake_stripe.balance_transactions.values() if t["type"] == "refund"
    ]
    radar = fake_stripe.fee_line(200, "Radar fee")
    lines = [
        charge_line(fake_stripe, first.provider_reference),
        charge_line(fake_stripe, second.provider_reference),
        refund_line,
        charge_line(fake_stripe, elsewhere["id"]),
        radar["id"],
    ]
    payout = fake_stripe.pay_out(lines)
    return {
        "payments": (first, second, imported),
        "refund": refund,
        "lines": lines,
        "payout": payout,
        "event": fake_stripe.event("payout.paid", payout),
    }


def deliver_and_work(
    client: Client, business: Business, event: dict[str, Any], run_tasks: Any, capture: Any
) -> tuple[str, int]:
    with capture(execute=True):
        response = deliver(client, business, event)
    assert response.status_code == 200
    return response.json()["detail"], run_tasks()


def test_payout_paid_lands_the_payout_and_its_lines_linked_to_their_payments(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    story: dict[str, Any],
    run_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    first, second, imported = story["payments"]
    payout_id = story["payout"]["id"]
    assert deliver_and_work(
        client, stripe_business, story["event"], run_tasks, django_capture_on_commit_callbacks
    ) == ("payout paid; its lines are being read", 1)

    with business_scope(stripe_business):
        payout = Payout.objects.get()
        assert (
            payout.provider,
            payout.provider_reference,
            payout.source,
            payout.state,
            payout.currency,
            payout.amount,
            payout.arrival_date,
        ) == (
            "stripe",
            payout_id,
            Source.LIVE,
            PayoutState.PAID,
            "USD",
            # 4825 + 7738 − 3000 + 11622 − 200: each charge less 2.9 % + 30.
            20985,
            datetime.fromtimestamp(story["payout"]["arrival_date"], tz=UTC).date(),
        )
        charge_a, charge_b, refund_line, charge_c, radar = story["lines"]
        own = story["payout"]["balance_transaction"]
        refund = Refund.objects.get()
        lines = {
            line.provider_reference: (
                line.kind,
                line.gross,
                line.fee,
                line.net,
                line.payment_id,
                line.refund_id,
                line.source,
            )
            for line in BalanceTransaction.objects.filter(payout=payout)
        }
        assert lines == {
            charge_a: (BalanceKind.CHARGE, 5000, 175, 4825, first.pk, None, Source.LIVE),
            charge_b: (BalanceKind.CHARGE, 8000, 262, 7738, second.pk, None, Source.LIVE),
            refund_line: (BalanceKind.REFUND, -3000, 0, -3000, second.pk, refund.pk, Source.LIVE),
            charge_c: (BalanceKind.CHARGE, 12000, 378, 11622, imported.pk, None, Source.LIVE),
            radar: (BalanceKind.FEE, -200, 0, -200, None, None, Source.LIVE),
            own: (BalanceKind.PAYOUT, -20985, 0, -20985, None, None, Source.LIVE),
        }
        # The payout is the sum of what it carried.
        carried = payout.lines.exclude(kind=BalanceKind.PAYOUT).aggregate(total=Sum("net"))
        assert carried["total"] == payout.amount == story["payout"]["amount"]
        # The dashboard-made refund, known from charge.refunded only by its total, took
        # Stripe's refund id instead of becoming a second refund.
        refund_id = fake_stripe.balance_transactions[refund_line]["source"]
        assert (refund.pk, refund.payment_id, refund.amount, refund.provider_reference) == (
            story["refund"].pk,
            second.pk,
            3000,
            refund_id,
        )
        # Its key follows its id: a later total of the charge saying 30.00 again is its own.
        assert refund.idempotency_key == external_refund_key(stripe_business.pk, refund_id)
        assert Payment.objects.count() == 3
        # Rolled up for the dashboard at once.
        contents = PayoutContents.objects.get(payout=payout)
        assert (contents.sales, contents.refunds, contents.fees, contents.other) == (
            25000,
            3000,
            815,
            -200,
        )
        assert contents.lines == 5
        # The dashboard's payouts per processor.
        arrived = payout.arrival_date
        assert arrived is not None
        (summary,) = payouts_by_processor(
            business=stripe_business, period=Period(arrived, arrived, stripe_business.zone)
        )
        assert (summary.provider, summary.currency, summary.amount, summary.count) == (
            "stripe",
            "USD",
            20985,
            1,
        )
    (listed,) = [r for r in fake_stripe.requests if r.path == "/v1/balance_transactions"]
    assert listed.params == {"payout": payout_id, "limit": "100", "expand": ["data.source"]}


def test_the_same_payout_webhook_twice_and_the_task_again_add_nothing(
    client: Client,
    stripe_business: Business,
    story: dict[str, Any],
    run_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    event = story["event"]
    capture = django_capture_on_commit_callbacks
    deliver_and_work(client, stripe_business, event, run_tasks, capture)
    before = ledger()
    assert deliver_and_work(client, stripe_business, event, run_tasks, capture) == (
        "duplicate",
        0,
    )
    assert ledger() == before
    # The task itself is safe to run twice (a worker that died after landing).
    with business_scope(stripe_business):
        outcome = stripe_payout_lines_fetch(
            business=stripe_business, payout_id=story["payout"]["id"]
        )
    assert outcome == "0 lines, 6 known"
    assert ledger() == before


def balance_history(path: Path, fake: FakeStripe, payout: dict[str, Any]) -> Path:
    """Stripe's balance history export of the payout's lines, as the dashboard writes it."""

    def major(minor: int) -> str:
        return f"{minor / 100:.2f}"

    def moment(stamp: int) -> str:
        return datetime.fromtimestamp(stamp, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")

    header = [
        "id", "Type", "Source", "Amount", "Fee", "Net", "Currency", "Created (UTC)",
        "Available On (UTC)", "Description", "Customer Facing Amount",
        "Customer Facing Currency", "Transfer", "Transfer Date (UTC)", "Transfer Group", "Status",
    ]  # fmt: skip
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for line in fake.balance_transactions.values():
            if line.get("_payout") != payout["id"]:
                continue
            own = line["type"] == "payout"
            writer.writerow(
                [
                    line["id"],
                    line["type"],
                    line["source"] or "",
                    major(line["amount"]),
                    major(line["fee"]),
                    major(line["net"]),
                    line["currency"],
                    moment(line["created"]),
                    moment(line["available_on"]),
                    line["description"] or "",
                    "" if own else major(line["amount"]),
                    "" if own else line["currency"],
                    "" if own else payout["id"],
                    moment(payout["arrival_date"]),
                    "",
                    line["status"],
                ]
            )
    return path


def test_importing_the_same_payouts_balance_history_afterwards_adds_nothing(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    story: dict[str, Any],
    run_tasks: Any,
    django_capture_on_commit_callbacks: Any,
    run_import: Any,
    tmp_path: Path,
) -> None:
    capture = django_capture_on_commit_callbacks
    deliver_and_work(client, stripe_business, story["event"], run_tasks, capture)
    before = ledger()
    file = balance_history(tmp_path / "balance_history.csv", fake_stripe, story["payout"])
    run = run_import(ImportSource.from_path(file))
    assert (run.state, run.kind, run.rows_read, run.imported, run.duplicates) == (
        RunState.DONE,
        "stripe_balance",
        6,
        0,
        6,
    )
    assert ledger() == before


def test_payout_failed_records_the_failure_and_a_late_paid_does_not_undo_it(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    story: dict[str, Any],
    run_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    capture = django_capture_on_commit_callbacks
    deliver_and_work(client, stripe_business, story["event"], run_tasks, capture)
    lines_before = ledger()["payments.balancetransaction"]
    failed = fake_stripe.payout_fails(story["payout"]["id"])
    assert deliver_and_work(client, stripe_business, failed, run_tasks, capture) == (
        "payout failed",
        0,
    )
    late = fake_stripe.event("payout.paid", {**story["payout"], "status": "paid"})
    assert deliver_and_work(client, stripe_business, late, run_tasks, capture) == (
        "payout failed",
        0,
    )
    with business_scope(stripe_business):
        payout = Payout.objects.get()
        assert (payout.state, payout.amount, payout.raw["failure_code"]) == (
            PayoutState.FAILED,
            20985,
            "account_closed",
        )
        assert list(ProcessorEvent.objects.order_by("pk").values_list("event_type", flat=True)) == [
            "checkout.session.completed",
            "checkout.session.completed",
            "charge.refunded",
            "payout.paid",
            "payout.failed",
            "payout.paid",
        ]
    assert ledger()["payments.balancetransaction"] == lines_before
    # It never reached the bank: the dashboard's payouts leave it out.
    arrived = datetime.fromtimestamp(story["payout"]["arrival_date"], tz=UTC).date()
    with business_scope(stripe_business):
        period = Period(arrived, arrived, stripe_business.zone)
        assert payouts_by_processor(business=stripe_business, period=period) == []


def test_payout_failed_first_records_the_payout_without_reading_lines(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    story: dict[str, Any],
    run_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    failed = fake_stripe.payout_fails(story["payout"]["id"])
    assert deliver_and_work(
        client, stripe_business, failed, run_tasks, django_capture_on_commit_callbacks
    ) == ("payout failed", 0)
    with business_scope(stripe_business):
        assert list(Payout.objects.values_list("provider_reference", "state", "amount")) == [
            (story["payout"]["id"], PayoutState.FAILED, 20985)
        ]
        assert BalanceTransaction.objects.count() == 0
    assert [r for r in fake_stripe.requests if r.path == "/v1/balance_transactions"] == []


def test_forged_payout_webhook_changes_nothing(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    story: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    before = database_fingerprint()
    with django_capture_on_commit_callbacks(execute=True):
        forged = deliver(client, stripe_business, story["event"], secret="whsec_someone_else")
    assert (forged.status_code, forged.json()["detail"]) == (
        400,
        "No signature matches this endpoint's secret.",
    )
    assert database_fingerprint() == before
    with unscoped():
        assert DBTaskResult.objects.count() == 0
    assert [r for r in fake_stripe.requests if r.path == "/v1/balance_transactions"] == []


def test_a_payout_of_many_lines_is_read_page_by_page(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    run_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    charges = [fake_stripe.charge_elsewhere(1000 + n) for n in range(150)]
    payout = fake_stripe.pay_out([c["balance_transaction"] for c in charges])
    event = fake_stripe.event("payout.paid", payout)
    deliver_and_work(client, stripe_business, event, run_tasks, django_capture_on_commit_callbacks)
    pages = [r.params for r in fake_stripe.requests if r.path == "/v1/balance_transactions"]
    assert [page.get("starting_after") is not None for page in pages] == [False, True]
    with business_scope(stripe_business):
        payout_row = Payout.objects.get()
        assert payout_row.lines.count() == 151
        assert Payment.objects.filter(source=Source.IMPORT).count() == 150
        carried = payout_row.lines.exclude(kind=BalanceKind.PAYOUT).aggregate(total=Sum("net"))
        # 150 charges of 10.00 … 11.49, each less 2.9 % (rounded down) + 0.30.
        expected = sum(1000 + n - ((1000 + n) * 290 // 10_000 + 30) for n in range(150))
        assert carried["total"] == payout_row.amount == expected


def test_lines_are_read_again_later_when_stripe_does_not_answer(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    story: dict[str, Any],
    run_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    fake_stripe.unavailable.add("/v1/balance_transactions")
    capture = django_capture_on_commit_callbacks
    with capture(execute=True):
        deliver(client, stripe_business, story["event"])
    with capture(execute=True):  # the task enqueues its retry on commit
        assert run_tasks() == 1
    with unscoped():
        (first, retry) = DBTaskResult.objects.order_by("enqueued_at")
        assert (first.return_value, retry.args_kwargs["args"][1:]) == (
            "retrying",
            [story["payout"]["id"], 2],
        )
        # Not before a minute has passed.
        assert retry.run_after is not None
        assert retry.run_after > timezone.now()
    with business_scope(stripe_business):
        assert BalanceTransaction.objects.count() == 0
        assert Payout.objects.get().state == PayoutState.PAID
    fake_stripe.unavailable.clear()
    with unscoped():
        DBTaskResult.objects.filter(pk=retry.pk).update(run_after=timezone.now())
    assert run_tasks() == 1
    with business_scope(stripe_business):
        assert Payout.objects.get().lines.count() == 6


def test_lines_stripe_has_not_reconciled_yet_arrive_with_reconciliation_completed(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    run_tasks: Any,
    django_capture_on_commit_callbacks: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    capture = django_capture_on_commit_callbacks
    charge = fake_stripe.charge_elsewhere(4000)
    payout = fake_stripe.pay_out([charge["balance_transaction"]], reconciled=False)
    paid = fake_stripe.event("payout.paid", payout)
    assert deliver_and_work(client, stripe_business, paid, run_tasks, capture)[1] == 1
    with business_scope(stripe_business):
        assert (Payout.objects.get().amount, BalanceTransaction.objects.count()) == (3854, 0)
    assert f"Stripe payout {payout['id']} of acme: amount 3854, its lines' net 0" in (caplog.text)
    completed = fake_stripe.reconcile(payout["id"])
    assert deliver_and_work(client, stripe_business, completed, run_tasks, capture) == (
        "payout paid; its lines are being read",
        1,
    )
    with business_scope(stripe_business):
        payout_row = Payout.objects.get()
        assert sorted(payout_row.lines.values_list("kind", "net")) == [
            (BalanceKind.CHARGE, 3854),
            (BalanceKind.PAYOUT, -3854),
        ]
        assert payout_row.amount == 3854
        assert PayoutContents.objects.get(payout=payout_row).sales == 4000


def test_a_failed_payouts_money_goes_out_again_as_a_line_of_the_next_payout(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    story: dict[str, Any],
    run_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    capture = django_capture_on_commit_callbacks
    deliver_and_work(client, stripe_business, story["event"], run_tasks, capture)
    failed = fake_stripe.payout_fails(story["payout"]["id"])
    deliver_and_work(client, stripe_business, failed, run_tasks, capture)
    returned = failed["data"]["object"]["failure_balance_transaction"]
    session = fake_stripe.charge_elsewhere(4000)
    again = fake_stripe.pay_out([returned, charge_line(fake_stripe, session["id"])])
    assert deliver_and_work(
        client, stripe_business, fake_stripe.event("payout.paid", again), run_tasks, capture
    ) == ("payout paid; its lines are being read", 1)
    with business_scope(stripe_business):
        payouts = Payout.objects.order_by("pk")
        assert list(payouts.values_list("provider_reference", "state", "amount")) == [
            (story["payout"]["id"], PayoutState.FAILED, 20985),
            # The failed payout's 209.85 and 40.00 less 1.46 in fees.
            (again["id"], PayoutState.PAID, 20985 + 3854),
        ]
        second = payouts.get(provider_reference=again["id"])
        assert sorted(second.lines.values_list("kind", "net")) == [
            (BalanceKind.CHARGE, 3854),
            (BalanceKind.PAYOUT, -(20985 + 3854)),
            (BalanceKind.PAYOUT_REVERSAL, 20985),
        ]
        contents = PayoutContents.objects.get(payout=second)
        assert (contents.sales, contents.fees, contents.other, contents.lines) == (
            4000,
            146,
            20985,
            2,
        )
        arrived = second.arrival_date
        assert arrived is not None
        (summary,) = payouts_by_processor(
            business=stripe_business, period=Period(arrived, arrived, stripe_business.zone)
        )
        assert (summary.amount, summary.count) == (20985 + 3854, 1)


def test_a_balance_history_naming_some_lines_keeps_the_amount_stripe_said(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    run_tasks: Any,
    django_capture_on_commit_callbacks: Any,
    run_import: Any,
    tmp_path: Path,
) -> None:
    """Stripe said 86.79 (its lines not reconciled yet, so none were read); a file naming one
    of its lines, without the payout's own row, made it 38.54, that line's sum."""
    capture = django_capture_on_commit_callbacks
    first, second = fake_stripe.charge_elsewhere(4000), fake_stripe.charge_elsewhere(5000)
    payout = fake_stripe.pay_out(
        [first["balance_transaction"], second["balance_transaction"]], reconciled=False
    )
    deliver_and_work(
        client, stripe_business, fake_stripe.event("payout.paid", payout), run_tasks, capture
    )
    with business_scope(stripe_business):
        assert Payout.objects.get().amount == 3854 + 4825
    file = balance_history(tmp_path / "balance.csv", fake_stripe, payout)
    lines = file.read_text().splitlines()
    kept = [lines[0], *(line for line in lines[1:] if first["balance_transaction"] in line)]
    file.write_text("\n".join(kept) + "\n")
    assert run_import(ImportSource.from_path(file)).imported == 1
    with business_scope(stripe_business):
        row = Payout.objects.get()
        assert (row.state, row.amount) == (PayoutState.PAID, 3854 + 4825)


def test_a_balance_history_imported_before_the_lines_task_runs(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    story: dict[str, Any],
    run_tasks: Any,
    django_capture_on_commit_callbacks: Any,
    run_import: Any,
    tmp_path: Path,
) -> None:
    """payout.paid came; before the task read its lines, a file with the payout's own row
    and one line was imported. The file's row replaced the Stripe payout object the task
    reads its lines with: the task made a second, pending payout of 0.00 named after the
    payout's balance line and hung four lines on it."""
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, story["event"]).status_code == 200
    file = balance_history(tmp_path / "balance.csv", fake_stripe, story["payout"])
    own, first = story["payout"]["balance_transaction"], story["lines"][0]
    lines = file.read_text().splitlines()
    kept = [lines[0], *(line for line in lines[1:] if own in line or first in line)]
    file.write_text("\n".join(kept) + "\n")
    assert run_import(ImportSource.from_path(file)).imported == 2
    assert run_tasks() == 1
    with business_scope(stripe_business):
        assert list(Payout.objects.values_list("provider_reference", "state", "amount")) == [
            (story["payout"]["id"], PayoutState.PAID, 20985)
        ]
        linked = BalanceTransaction.objects.filter(payout__provider_reference=story["payout"]["id"])
        assert linked.count() == 6


def test_a_payouts_refund_line_takes_nothing_from_a_total_counted_before_the_refund_was_made(
    client: Client,
    stripe_business: Business,
    fake_stripe: FakeStripe,
    purpose: RecordingPurpose,
    run_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """$30.00 refunded in Stripe's dashboard two days ago, counted then within the charge's
    total; $30.00 more today, whose charge.refunded has not come when the payout carrying its
    line is read. The older total is not today's refund: both are counted."""
    payment = paid_through_tillbook(client, stripe_business, fake_stripe, 8000)
    two_days = int(timedelta(days=2).total_seconds())
    earlier = fake_stripe.refund_in_dashboard(payment.provider_reference, 3000)
    (first,) = fake_stripe.refunds.values()
    first["created"] -= two_days
    earlier["created"] -= two_days
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, stripe_business, earlier).json()["detail"] == "refunds recorded"
    fake_stripe.refund_in_dashboard(payment.provider_reference, 3000)
    second = next(item for ref, item in fake_stripe.refunds.items() if ref != first["id"])
    payout = fake_stripe.pay_out([str(second["balance_transaction"])])
    detail, _ = deliver_and_work(
        client,
        stripe_business,
        fake_stripe.event("payout.paid", payout),
        run_tasks,
        django_capture_on_commit_callbacks,
    )
    assert detail == "payout paid; its lines are being read"
    with business_scope(stripe_business):
        refunds = sorted(Refund.objects.values_list("provider_reference", "amount"))
        line = BalanceTransaction.objects.get(kind=BalanceKind.REFUND)
    charge = fake_stripe.intents[payment.provider_reference]["latest_charge"]
    assert refunds == sorted([(f"{charge}:3000", 3000), (second["id"], 3000)])
    with business_scope(stripe_business):
        assert line.refund == Refund.objects.get(provider_reference=second["id"])
