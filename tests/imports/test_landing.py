"""Processor files in the ledger: exact totals, deduplicated by the processors' own ids."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Sum

from tillbook.core.models import Business
from tillbook.core.scoping import business_scope
from tillbook.imports.models import ImportRun, RunState
from tillbook.imports.services import UNLINKED_REFUNDS
from tillbook.imports.source import ImportSource
from tillbook.payments.models import (
    BalanceTransaction,
    Payment,
    PaymentState,
    Payout,
    Refund,
    Source,
)

from ..access import database_fingerprint

Importer = Callable[..., ImportRun]


def ledger_totals() -> dict[str, object]:
    return {
        "payments": Payment.objects.count(),
        "gross": Payment.objects.aggregate(total=Sum("amount"))["total"],
        "refunds": Refund.objects.aggregate(total=Sum("amount"))["total"],
        "lines": BalanceTransaction.objects.count(),
        "net": BalanceTransaction.objects.aggregate(total=Sum("net"))["total"],
        "payouts": sorted(Payout.objects.values_list("provider_reference", "amount")),
    }


def test_stripe_balance_history_lands_once_however_often_it_is_imported(
    run_import: Importer, scoped: Business
) -> None:
    first = run_import("stripe_balance.csv")
    assert (first.state, first.rows_read, first.imported, first.duplicates) == (
        RunState.DONE,
        7,
        7,
        0,
    )
    assert first.warnings == [UNLINKED_REFUNDS.format(count=1)]
    expected = {
        "payments": 3,
        "gross": 12000 + 8000 + 125000,
        "refunds": None,  # the balance history does not say which charge re_3001 refunds
        "lines": 7,
        "net": 11622 + 7738 - 8000 - 200 - 11160 + 121345 - 1000,
        "payouts": [("po_2001", 11160)],
    }
    assert ledger_totals() == expected

    again = run_import("stripe_balance.csv")
    assert (again.imported, again.duplicates) == (0, 7)
    assert ledger_totals() == expected

    overlap = run_import("stripe_balance_overlap.csv")
    assert (overlap.rows_read, overlap.imported, overlap.duplicates) == (3, 1, 2)
    expected["payments"] = 4
    expected["gross"] = 145000 + 4550
    expected["lines"] = 8
    expected["net"] = 121345 - 1000 + 11622 + 7738 - 8000 - 200 - 11160 + 4388
    assert ledger_totals() == expected

    payment = Payment.objects.get(provider_reference="ch_1001")
    assert (payment.source, payment.state, payment.fee_amount, payment.metadata) == (
        Source.IMPORT,
        PaymentState.SUCCEEDED,
        378,
        {"utm_campaign": "fall-launch"},
    )
    payout = Payout.objects.get()
    lines = payout.lines.exclude(kind="payout")
    assert lines.aggregate(total=Sum("net"))["total"] == payout.amount == 11160
    assert sorted(lines.values_list("provider_reference", flat=True)) == [
        "txn_1001",
        "txn_1002",
        "txn_1003",
        "txn_1004",
    ]
    assert str(payout.arrival_date) == "2026-09-08"


def test_the_payments_export_meets_the_balance_history_in_one_payment(
    run_import: Importer, scoped: Business
) -> None:
    run_import("stripe_balance.csv")
    run = run_import("stripe_payments.csv")
    # ch_1001 and ch_1002 are known from the balance history; ch_1008 is new.
    assert (run.rows_read, run.imported, run.duplicates, run.skipped_total) == (5, 1, 2, 2)
    assert Payment.objects.count() == 4
    refunds = sorted(Refund.objects.values_list("payment__provider_reference", "amount"))
    assert refunds == [("ch_1002", 8000), ("ch_1008", 5000)]
    assert Payment.objects.get(provider_reference="ch_1008").tax_amount == 1600
    assert run_import("stripe_payments.csv").imported == 0
    assert Refund.objects.count() == 2


def test_itemized_report_links_refunds_and_derives_its_payout(
    run_import: Importer, scoped: Business
) -> None:
    run = run_import("stripe_itemized_payout_reconciliation.csv")
    assert (run.imported, run.warnings) == (4, [])
    refund = Refund.objects.get()
    assert (refund.payment.provider_reference, refund.amount, refund.provider_reference) == (
        "ch_5001",
        10000,
        "re_5001",
    )
    assert refund.balance_lines.get().provider_reference == "txn_5003"
    payout = Payout.objects.get()
    assert (payout.provider_reference, payout.amount) == ("po_5001", 29100 + 14535 - 10000 - 150)


def test_square_payments_tips_refunds_and_deposits(run_import: Importer, scoped: Business) -> None:
    run = run_import("square_transactions.csv")
    assert (run.rows_read, run.imported, run.skipped) == (
        4,
        3,
        {"status “Pending” (not a completed transaction)": 1},
    )
    first = Payment.objects.get(provider_reference="pay_A1")
    assert (first.amount, first.tip_amount, first.tax_amount, first.fee_amount) == (
        133326,
        2000,
        9876,
        3554,
    )
    refund = Refund.objects.get()
    assert (refund.payment.provider_reference, refund.amount) == ("pay_A2", 2700)
    assert sorted(Payout.objects.values_list("provider_reference", "amount")) == [
        ("dep_1", 131772 + 2905),
        ("dep_2", -2700),
    ]


def test_paypal_refund_points_to_its_payment_and_other_currencies_stay_apart(
    run_import: Importer, scoped: Business
) -> None:
    run = run_import("paypal_activity.csv")
    assert (run.rows_read, run.imported, run.skipped_total) == (9, 5, 4)
    assert sorted(Payment.objects.values_list("currency", "amount")) == [
        ("EUR", 9000),
        ("USD", 6000),
        ("USD", 125000),
    ]
    refund = Refund.objects.get()
    assert (refund.payment.provider_reference, refund.amount) == ("6CD22222EF3333333", 6000)
    assert list(Payout.objects.values_list("provider_reference", "amount")) == [
        ("3QR99999ST0000000", 100000)
    ]


def test_a_file_with_any_problem_writes_nothing(run_import: Importer, scoped: Business) -> None:
    from tillbook.imports.source import ImportSource

    from .helpers import FIXTURES

    text = (FIXTURES / "stripe_balance.csv").read_text().replace("-80.00,0.00", "-80.0O,0.00")
    before = database_fingerprint()
    run = run_import(ImportSource.from_bytes(text.encode(), "broken.csv"))
    assert run.state == RunState.FAILED
    assert run.problems == [[4, "Amount: “-80.0O” is not a number"]]
    assert run.message == "Line 4: Amount: “-80.0O” is not a number. Nothing was imported."
    after = database_fingerprint()
    assert after.pop("imports.importrun") != before.pop("imports.importrun")
    assert after == before


def test_a_dry_run_counts_and_writes_nothing_but_its_run(
    run_import: Importer, scoped: Business
) -> None:
    run_import("stripe_balance.csv")
    before = ledger_totals()
    run = run_import("stripe_balance_overlap.csv", is_dry_run=True)
    assert (run.imported, run.duplicates, run.message) == (
        1,
        2,
        "Would import 1 of 3 rows; 2 already known, 0 skipped.",
    )
    assert ledger_totals() == before


def test_imports_of_two_businesses_never_meet(
    run_import: Importer, business: Business, other_business: Business
) -> None:
    from tillbook.core.scoping import business_scope

    run_import("stripe_balance.csv")
    other = run_import("stripe_balance.csv", target=other_business)
    assert (other.imported, other.duplicates) == (7, 0)
    with business_scope(other_business):
        assert Payment.objects.count() == 3


def test_a_peso_balance_history_with_fees_to_the_hundredth_lands_in_whole_pesos(
    run_import: Importer, make_business: Callable[..., Business]
) -> None:
    """Stripe states pesos to the hundredth, Tillbook keeps them whole: each amount is rounded
    and the fee is what lies between the gross and the net, so net = gross − fee still holds."""
    bogota = make_business("bogota", currency="COP", timezone_name="America/Bogota")
    text = (
        "id,Type,Source,Amount,Fee,Net,Currency,Created (UTC)\n"
        "txn_1,charge,ch_1,50000.00,1450.30,48549.70,cop,2026-10-01 15:00:00\n"
        "txn_2,charge,ch_2,100.00,1.50,98.50,cop,2026-10-01 16:00:00\n"
    )
    run = run_import(ImportSource.from_bytes(text.encode(), "balance.csv"), target=bogota)
    assert (run.state, run.imported) == (RunState.DONE, 2)
    with business_scope(bogota):
        lines = sorted(
            BalanceTransaction.objects.values_list("provider_reference", "gross", "fee", "net")
        )
        payments = sorted(Payment.objects.values_list("provider_reference", "amount", "fee_amount"))
    # 98.50 rounds to 99 and 1.50 to 2: the fee becomes 100 − 99 = 1.
    assert lines == [("txn_1", 50000, 1450, 48550), ("txn_2", 100, 1, 99)]
    assert payments == [("ch_1", 50000, 1450), ("ch_2", 100, 1)]
