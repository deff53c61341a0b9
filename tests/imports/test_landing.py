"""Processor files in the ledger: exact totals, deduplicated by the processors' own ids."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from tillbook.core.models import Business
from tillbook.core.scoping import business_scope
from tillbook.customers.models import Customer
from tillbook.imports.landing import copy_texts_prepare, ledger_land_batch
from tillbook.imports.models import ImportRun, RunState
from tillbook.imports.problems import ImportFileInvalid
from tillbook.imports.records import LedgerRecord, Movement
from tillbook.imports.services import REFUNDS_TWICE, UNLINKED_REFUNDS
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
    # The balance history's refund re_3001 names no payment; the export's 80.00 refunded on
    # ch_1002 is very likely the same refund. Neither file can say so: the owner is told.
    assert run.warnings == [REFUNDS_TWICE.format(count=1)]
    assert run_import("stripe_payments.csv").imported == 0
    assert Refund.objects.count() == 2


def test_the_dashboard_follows_a_charge_refunded_more_and_then_refund_by_refund(
    run_import: Importer, scoped: Business
) -> None:
    from datetime import date

    from tillbook.insights.ledger import sales_totals
    from tillbook.insights.periods import Period
    from tillbook.insights.rollups import rollups_refresh

    header = (
        "id,Description,Created (UTC),Amount,Amount Refunded,Currency,Converted Amount,"
        "Converted Amount Refunded,Fee,Tax,Converted Currency,Mode,Status,Customer Email,"
        "Captured\n"
    )

    def export(refunded: str) -> ImportSource:
        row = (
            f"ch_9,Retreat,2026-09-04 17:20,200.00,{refunded},usd,200.00,{refunded},6.10,0.00,"
            "usd,Live,Partially refunded,eve@example.com,true\n"
        )
        return ImportSource.from_bytes((header + row).encode(), "payments.csv")

    september = Period(date(2026, 9, 1), date(2026, 9, 30), scoped.zone)

    def refunds() -> tuple[int, int]:
        rollups_refresh(business=scoped)
        stored = Refund.objects.aggregate(total=Sum("amount"))["total"]
        return stored, sales_totals(business=scoped, period=september)["USD"].refunds

    assert run_import(export("50.00")).state == RunState.DONE
    assert refunds() == (5000, 5000)
    again = run_import(export("50.00"))  # the same export changes nothing
    assert (again.imported, again.duplicates, refunds()) == (0, 1, (5000, 5000))
    assert run_import(export("120.00")).state == RunState.DONE  # refunded more since
    assert refunds() == (12000, 12000)
    # The itemized report names the two refunds; they replace the export's summary.
    itemized = (
        "balance_transaction_id,created_utc,available_on_utc,currency,gross,fee,net,"
        "reporting_category,source_id,charge_id,description\n"
        "txn_91,2026-09-10 08:00:00,2026-09-10 00:00:00,usd,-50.00,0.00,-50.00,refund,re_91,"
        "ch_9,Refund\n"
        "txn_92,2026-09-12 08:00:00,2026-09-12 00:00:00,usd,-70.00,0.00,-70.00,refund,re_92,"
        "ch_9,Refund\n"
    )
    run = run_import(ImportSource.from_bytes(itemized.encode(), "itemized.csv"))
    assert (run.state, run.imported) == (RunState.DONE, 2)
    assert sorted(Refund.objects.values_list("provider_reference", "amount")) == [
        ("re_91", 5000),
        ("re_92", 7000),
    ]
    assert refunds() == (12000, 12000)


@pytest.mark.parametrize("balance_first", [False, True], ids=["payments-first", "balance-first"])
def test_a_charge_paid_in_euros_on_a_dollar_account_counts_the_same_in_either_order(
    run_import: Importer, scoped: Business, balance_first: bool
) -> None:
    from datetime import date

    from tillbook.insights.ledger import sales_totals
    from tillbook.insights.periods import Period
    from tillbook.insights.rollups import rollups_refresh

    payments = ImportSource.from_bytes(
        b"id,Description,Created (UTC),Amount,Amount Refunded,Currency,Converted Amount,"
        b"Converted Amount Refunded,Fee,Tax,Converted Currency,Mode,Status,Captured\n"
        b"ch_77,Retreat,2026-09-04 17:20,100.00,50.00,eur,108.00,54.00,3.43,0.00,usd,Live,"
        b"Partially refunded,true\n",
        "payments.csv",
    )
    balance = ImportSource.from_bytes(
        b"id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Available On (UTC),"
        b"Description,Customer Facing Amount,Customer Facing Currency\n"
        b"txn_77,charge,ch_77,108.00,3.43,104.57,usd,2026-09-04 17:20,2026-09-06 00:00,"
        b"Retreat,100.00,eur\n",
        "balance.csv",
    )
    for source in (balance, payments) if balance_first else (payments, balance):
        assert run_import(source).state == RunState.DONE
    # The sale is what reached the dollar balance, its fee and its refund in dollars too.
    payment = Payment.objects.get()
    assert (payment.currency, payment.amount, payment.fee_amount) == ("USD", 10800, 343)
    assert list(Refund.objects.values_list("currency", "amount")) == [("USD", 5400)]
    rollups_refresh(business=scoped)
    september = Period(date(2026, 9, 1), date(2026, 9, 30), scoped.zone)
    totals = sales_totals(business=scoped, period=september)
    assert {code: (t.gross, t.fees, t.refunds) for code, t in totals.items()} == {
        "USD": (10800, 343, 5400)
    }


def test_a_converted_charge_without_its_converted_amount_is_refused() -> None:
    from .helpers import read_all

    text = (
        b"id,Created (UTC),Amount,Amount Refunded,Currency,Fee,Converted Currency,Status\n"
        b"ch_77,2026-09-04 17:20,100.00,0.00,eur,3.43,usd,Paid\n"
    )
    with pytest.raises(ImportFileInvalid, match="Line 2: Converted Amount: is empty, but the"):
        read_all(ImportSource.from_bytes(text, "payments.csv"))


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


def test_a_paypal_withdrawal_reversed_by_the_bank_never_arrived(
    run_import: Importer, scoped: Business
) -> None:
    from datetime import date

    from tillbook.insights.ledger import payouts_by_processor
    from tillbook.insights.periods import Period
    from tillbook.insights.rollups import rollups_refresh

    header = (
        '"Date","Time","TimeZone","Name","Type","Status","Currency","Gross","Fee","Net",'
        '"Transaction ID","Reference Txn ID","Balance Impact"\n'
    )
    reversal = (
        '"10/02/2026","09:00:00","PDT","","Reversal of General Account Withdrawal",'
        '"Completed","USD","1,000.00","0.00","1,000.00","5RV00000AA1111111",'
        '"3QR99999ST0000000","Credit"\n'
    )
    withdrawals = (
        '"10/01/2026","07:00:00","PDT","","General Withdrawal","Completed","USD","-1,000.00",'
        '"0.00","-1,000.00","3QR99999ST0000000","","Debit"\n'
        '"09/20/2026","07:00:00","PDT","","General Withdrawal","Completed","USD","-250.00",'
        '"0.00","-250.00","3QR99999ST0000001","","Debit"\n'
    )

    def source(rows: str) -> ImportSource:
        return ImportSource.from_bytes((header + rows).encode(), "activity.csv")

    first = run_import(source(withdrawals))
    assert (first.state, first.imported) == (RunState.DONE, 2)
    second = run_import(source(reversal + withdrawals))  # newest first, as PayPal writes it
    assert (second.state, second.imported, second.duplicates) == (RunState.DONE, 1, 2)
    assert sorted(Payout.objects.values_list("provider_reference", "state", "amount")) == [
        ("3QR99999ST0000000", "failed", 100000),
        ("3QR99999ST0000001", "paid", 25000),
    ]
    line = BalanceTransaction.objects.get(provider_reference="5RV00000AA1111111")
    assert (line.kind, line.net, line.payout_id) == ("reversal", 100000, None)
    rollups_refresh(business=scoped)
    (paypal,) = payouts_by_processor(
        business=scoped, period=Period(date(2026, 9, 1), date(2026, 10, 31), scoped.zone)
    )
    assert (paypal.provider, paypal.amount, paypal.count) == ("paypal", 25000, 1)


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


def test_an_unexpected_error_leaves_the_run_failed_not_in_progress(
    run_import: Importer, scoped: Business, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tillbook.imports import services

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "ledger_land_batch", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        run_import("stripe_balance.csv")
    run = ImportRun.objects.get()
    stopped = services.STOPPED_WHOLE if services.in_one_pass(run) else services.STOPPED
    assert (run.state, run.message, run.imported) == (RunState.FAILED, stopped, 0)
    assert run.finished_at is not None
    assert (Payment.objects.count(), BalanceTransaction.objects.count()) == (0, 0)


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


@pytest.mark.parametrize("mark", ["\x1f", ",", '"', "{", "\\"])
def test_ids_holding_any_mark_are_found_again_on_the_next_import(
    run_import: Importer, scoped: Business, mark: str
) -> None:
    """A file's ids are text the processor chose: one holding the separator the lookups join
    ids with (or a mark an array literal quotes) is still known when the file comes again."""
    quoted = mark.replace('"', '""')
    text = (
        "id,Type,Source,Amount,Fee,Net,Currency,Created (UTC)\n"
        f'"txn{quoted}1",charge,"ch{quoted}1",50.00,1.75,48.25,usd,2026-10-01 15:00:00\n'
        "txn_2,charge,ch_2,20.00,0.88,19.12,usd,2026-10-01 16:00:00\n"
    )
    first = run_import(ImportSource.from_bytes(text.encode(), "balance.csv"))
    again = run_import(ImportSource.from_bytes(text.encode(), "balance.csv"))
    assert (first.state, first.imported, first.duplicates) == (RunState.DONE, 2, 0)
    assert (again.state, again.imported, again.duplicates) == (RunState.DONE, 0, 2)
    lines = BalanceTransaction.objects.values_list("provider_reference", "payment__amount")
    assert dict(lines) == {f"txn{mark}1": 5000, "txn_2": 2000}
    assert Payment.objects.count() == 2


FAILED_PAYOUT_HEADER = (
    "id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Available On (UTC),Description,"
    "Transfer,Transfer Date (UTC)\n"
)
# po_1 carried a workshop and failed (the bank refused it); the money came back to the
# balance and went out again with po_2, with a later session.
FIRST_PAYOUT = (
    "txn_6,payout,po_1,-111.46,0.00,-111.46,usd,2026-09-07 02:00,2026-09-08 00:00,"
    "STRIPE PAYOUT,,2026-09-08 00:00\n"
    "txn_5,charge,ch_1,115.00,3.54,111.46,usd,2026-09-01 15:00,2026-09-03 00:00,Workshop,"
    "po_1,2026-09-08 00:00\n"
)
FAILURE_AND_SECOND_PAYOUT = (
    "txn_9,payout,po_2,-150.00,0.00,-150.00,usd,2026-09-20 02:00,2026-09-21 00:00,"
    "STRIPE PAYOUT,,2026-09-21 00:00\n"
    "txn_8,charge,ch_2,40.00,1.46,38.54,usd,2026-09-15 10:00,2026-09-17 00:00,Session,"
    "po_2,2026-09-21 00:00\n"
    "txn_7,payout_failure,po_1,111.46,0.00,111.46,usd,2026-09-12 09:00,2026-09-12 00:00,"
    "PAYOUT FAILURE,po_2,2026-09-21 00:00\n"
)


def _balance_file(rows: str) -> ImportSource:
    return ImportSource.from_bytes((FAILED_PAYOUT_HEADER + rows).encode(), "balance.csv")


def _failed_payout_outcome(business: Business) -> None:
    from datetime import date

    from tillbook.insights.ledger import payouts_by_processor
    from tillbook.insights.periods import Period
    from tillbook.insights.rollups import rollups_refresh

    payouts = Payout.objects.order_by("provider_reference")
    assert list(payouts.values_list("provider_reference", "state", "amount")) == [
        ("po_1", "failed", 11146),
        ("po_2", "paid", 15000),
    ]
    assert sorted(
        BalanceTransaction.objects.filter(payout__provider_reference="po_2").values_list(
            "provider_reference", "kind", "net"
        )
    ) == [("txn_7", "reversal", 11146), ("txn_8", "charge", 3854), ("txn_9", "payout", -15000)]
    # Only the payout that arrived is money in the bank; it carried the returned workshop money.
    rollups_refresh(business=business)
    september = Period(date(2026, 9, 1), date(2026, 9, 30), business.zone)
    (stripe,) = payouts_by_processor(business=business, period=september)
    assert (stripe.provider, stripe.currency, stripe.amount, stripe.count) == (
        "stripe",
        "USD",
        15000,
        1,
    )
    assert stripe.payouts == [
        {
            "reference": "po_2",
            "arrival_date": date(2026, 9, 21),
            "amount": 15000,
            "sales": 4000,
            "refunds": 0,
            "fees": 146,
            "other": 11146,
            "lines": 2,
        }
    ]


def test_a_failed_payout_in_the_balance_history_never_arrived(
    run_import: Importer, scoped: Business
) -> None:
    # Newest first, as Stripe writes the file: the failure comes before the payout it undoes.
    run = run_import(_balance_file(FAILURE_AND_SECOND_PAYOUT + FIRST_PAYOUT))
    assert (run.state, run.imported) == (RunState.DONE, 5)
    _failed_payout_outcome(scoped)


def test_a_payout_failure_imported_after_the_payout_marks_it_failed(
    run_import: Importer, scoped: Business
) -> None:
    first = run_import(_balance_file(FIRST_PAYOUT))
    assert (first.state, first.imported) == (RunState.DONE, 2)
    assert list(Payout.objects.values_list("provider_reference", "state", "amount")) == [
        ("po_1", "paid", 11146)
    ]
    second = run_import(_balance_file(FAILURE_AND_SECOND_PAYOUT))
    assert (second.state, second.imported) == (RunState.DONE, 3)
    _failed_payout_outcome(scoped)
    again = run_import(_balance_file(FAILURE_AND_SECOND_PAYOUT + FIRST_PAYOUT))
    assert (again.imported, again.duplicates) == (0, 5)
    _failed_payout_outcome(scoped)


def test_a_payout_reversal_in_an_itemized_report_marks_the_payout_that_failed(
    run_import: Importer, scoped: Business
) -> None:
    text = (
        "automatic_payout_id,automatic_payout_effective_at_utc,balance_transaction_id,"
        "created_utc,available_on_utc,currency,gross,fee,net,reporting_category,source_id,"
        "description\n"
        "po_5002,2026-10-09 00:00:00,txn_5010,2026-10-07 08:00:00,2026-10-07 00:00:00,usd,"
        "291.00,0.00,291.00,payout_reversal,po_5001,PAYOUT FAILURE\n"
        "po_5002,2026-10-09 00:00:00,txn_5011,2026-10-07 10:00:00,2026-10-09 00:00:00,usd,"
        "50.00,1.75,48.25,charge,ch_5011,Coaching call\n"
    )
    run = run_import(ImportSource.from_bytes(text.encode(), "itemized.csv"))
    assert (run.state, run.kind, run.imported) == (RunState.DONE, "stripe_itemized", 2)
    assert sorted(Payout.objects.values_list("provider_reference", "state", "amount")) == [
        ("po_5001", "failed", 29100),  # known only by what came back
        ("po_5002", "paid", 29100 + 4825),  # the sum of its lines
    ]
    assert sorted(
        BalanceTransaction.objects.values_list(
            "provider_reference", "kind", "payout__provider_reference"
        )
    ) == [("txn_5010", "reversal", "po_5002"), ("txn_5011", "charge", "po_5002")]


def test_lines_imported_before_their_payout_join_it_when_a_later_file_names_it(
    run_import: Importer, scoped: Business
) -> None:
    """This week's export has the last days' lines without a payout (Stripe had not paid them
    out yet); next week's overlaps it and names the payout they went out in."""
    from datetime import date

    from tillbook.insights.ledger import payouts_by_processor
    from tillbook.insights.periods import Period

    this_week = (
        "txn_22,stripe_fee,,-2.00,0.00,-2.00,usd,2026-10-06 00:00,2026-10-06 00:00,Radar fee,,\n"
        "txn_21,charge,ch_21,100.00,3.20,96.80,usd,2026-10-05 15:00,2026-10-07 00:00,Session,,\n"
    )
    first = run_import(_balance_file(this_week))
    assert (first.state, first.imported, Payout.objects.count()) == (RunState.DONE, 2, 0)
    next_week = (
        "txn_24,payout,po_7,-142.45,0.00,-142.45,usd,2026-10-09 02:00,2026-10-10 00:00,"
        "STRIPE PAYOUT,,2026-10-10 00:00\n"
        "txn_23,charge,ch_23,50.00,1.75,48.25,usd,2026-10-08 10:00,2026-10-09 00:00,Call,"
        "po_7,2026-10-10 00:00\n"
        "txn_22,stripe_fee,,-2.00,0.00,-2.00,usd,2026-10-06 00:00,2026-10-06 00:00,Radar fee,"
        "po_7,2026-10-10 00:00\n"
        "txn_21,charge,ch_21,100.00,3.20,96.80,usd,2026-10-05 15:00,2026-10-07 00:00,Session,"
        "po_7,2026-10-10 00:00\n"
    )
    second = run_import(_balance_file(next_week))
    assert (second.imported, second.duplicates) == (2, 2)
    payout = Payout.objects.get()
    assert (payout.provider_reference, payout.state, payout.amount) == ("po_7", "paid", 14245)
    assert sorted(payout.lines.values_list("provider_reference", "net")) == [
        ("txn_21", 9680),
        ("txn_22", -200),
        ("txn_23", 4825),
        ("txn_24", -14245),
    ]
    october = Period(date(2026, 10, 1), date(2026, 10, 31), scoped.zone)
    (stripe,) = payouts_by_processor(business=scoped, period=october)
    assert stripe.payouts == [
        {
            "reference": "po_7",
            "arrival_date": date(2026, 10, 10),
            "amount": 14245,
            "sales": 15000,
            "refunds": 0,
            "fees": 495,
            "other": -200,
            "lines": 3,
        }
    ]
    # The same file again finds everything in place, and writes no line: they are linked.
    with CaptureQueriesContext(connection) as queries:
        again = run_import(_balance_file(next_week))
    assert (again.imported, again.duplicates) == (0, 4)
    assert payout.lines.count() == 4
    table = BalanceTransaction._meta.db_table
    assert [q["sql"] for q in queries if q["sql"].startswith(f'UPDATE "{table}"')] == []


def checkout(
    business: Business, intent: str, amount: int, moment: datetime, **more: object
) -> Payment:
    """A payment Tillbook's Stripe checkout took: stored under its PaymentIntent."""
    return Payment.objects.create(
        business=business,
        provider="stripe",
        state=PaymentState.SUCCEEDED,
        currency="USD",
        amount=amount,
        provider_reference=intent,
        created_at=moment,
        succeeded_at=moment,
        **more,
    )


ITEMIZED_HEADER = (
    "automatic_payout_id,automatic_payout_effective_at_utc,balance_transaction_id,created_utc,"
    "available_on_utc,currency,gross,fee,net,reporting_category,source_id,description,"
    "customer_email,payment_intent_id\n"
)


def itemized(*rows: str) -> ImportSource:
    return ImportSource.from_bytes((ITEMIZED_HEADER + "".join(rows)).encode(), "itemized.csv")


def test_a_charge_is_one_payment_whether_a_report_names_it_by_charge_or_payment_intent(
    run_import: Importer, scoped: Business
) -> None:
    """The payout reconciliation report names a sale by its charge (source_id) and its
    PaymentIntent; the payments export by its charge; Tillbook's checkouts by the intent."""
    from datetime import UTC, date

    moment = datetime(2026, 10, 2, 9, tzinfo=UTC)
    live = checkout(scoped, "pi_5002", 15000, moment, customer_email="gus@example.com")
    run = run_import(
        itemized(
            "po_5001,2026-10-06 00:00:00,txn_5001,2026-10-01 14:00:00,2026-10-03 00:00:00,usd,"
            "300.00,9.00,291.00,charge,ch_5001,Team workshop,fay@example.com,pi_5001\n",
            "po_5001,2026-10-06 00:00:00,txn_5002,2026-10-02 09:00:00,2026-10-04 00:00:00,usd,"
            "150.00,4.65,145.35,charge,ch_5002,Coaching call,gus@example.com,pi_5002\n",
            # No charge_id column: the refund names its payment by the intent alone.
            "po_5001,2026-10-06 00:00:00,txn_5003,2026-10-03 10:00:00,2026-10-03 00:00:00,usd,"
            "-100.00,0.00,-100.00,refund,re_5001,Partial refund,fay@example.com,pi_5001\n",
        )
    )
    assert (run.state, run.warnings) == (RunState.DONE, [])
    assert sorted(Payment.objects.values_list("provider_reference", "amount")) == [
        ("ch_5001", 30000),
        ("pi_5002", 15000),  # the checkout's own payment, not a second sale
    ]
    lines = dict(BalanceTransaction.objects.values_list("provider_reference", "payment_id"))
    assert lines["txn_5002"] == live.pk
    assert list(
        Refund.objects.values_list("provider_reference", "payment__provider_reference")
    ) == [("re_5001", "ch_5001")]
    # The payout arrived when the report says it took effect, not when a line was available.
    assert list(Payout.objects.values_list("provider_reference", "arrival_date", "amount")) == [
        ("po_5001", date(2026, 10, 6), 29100 + 14535 - 10000)
    ]
    # The payments export of the same charges, one with its PaymentIntent: nothing new.
    payments = ImportSource.from_bytes(
        b"id,Created date (UTC),Amount,Amount Refunded,Currency,Fee,Status,PaymentIntent ID\n"
        b"ch_5001,2026-10-01 14:00,300.00,100.00,usd,9.00,Partially refunded,pi_5001\n"
        b"ch_5002,2026-10-02 09:00,150.00,0.00,usd,4.65,Paid,pi_5002\n",
        "payments.csv",
    )
    again = run_import(payments)
    assert (again.state, again.imported, again.duplicates) == (RunState.DONE, 0, 2)
    assert Payment.objects.count() == 2
    assert list(Refund.objects.values_list("provider_reference", "amount")) == [("re_5001", 10000)]


def test_a_payments_export_first_then_the_reconciliation_report_adds_no_second_sale(
    run_import: Importer, scoped: Business
) -> None:
    payments = ImportSource.from_bytes(
        b"id,Created date (UTC),Amount,Amount Refunded,Currency,Fee,Status\n"
        b"ch_5001,2026-10-01 14:00,300.00,0.00,usd,9.00,Paid\n",
        "payments.csv",
    )
    assert run_import(payments).imported == 1
    run = run_import(
        itemized(
            "po_5001,2026-10-06 00:00:00,txn_5001,2026-10-01 14:00:00,2026-10-03 00:00:00,usd,"
            "300.00,9.00,291.00,charge,ch_5001,Team workshop,fay@example.com,pi_5001\n"
        )
    )
    assert run.state == RunState.DONE
    assert list(Payment.objects.values_list("provider_reference", "amount")) == [("ch_5001", 30000)]
    assert BalanceTransaction.objects.get().payment.provider_reference == "ch_5001"


def test_a_balance_history_names_a_checkouts_sale_by_its_charge_and_adds_no_second_payment(
    run_import: Importer, scoped: Business
) -> None:
    """Tillbook's Stripe checkout stores the PaymentIntent and the charge beside it; the
    balance history, before the payout that carries the charge is read, names it by charge."""
    moment = datetime(2026, 9, 1, 20, 4, tzinfo=UTC)
    live = checkout(scoped, "pi_1001", 12000, moment, fee_amount=378, other_reference="ch_1001")
    balance = ImportSource.from_bytes(
        b"id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Available On (UTC),Description\n"
        b"txn_1001,charge,ch_1001,120.00,3.78,116.22,usd,2026-09-01 20:04,2026-09-03 00:00,"
        b"Leadership session\n"
        b"txn_1002,charge,ch_1002,80.00,2.62,77.38,usd,2026-09-02 09:30,2026-09-04 00:00,"
        b"Workshop ticket\n",
        "balance.csv",
    )
    assert run_import(balance).state == RunState.DONE
    assert sorted(Payment.objects.values_list("provider_reference", "amount")) == [
        ("ch_1002", 8000),
        ("pi_1001", 12000),
    ]
    assert BalanceTransaction.objects.get(provider_reference="txn_1001").payment_id == live.pk


SALE_5001 = (
    "po_5001,2026-10-06 00:00:00,txn_5001,2026-10-01 14:00:00,2026-10-03 00:00:00,usd,"
    "300.00,9.00,291.00,charge,ch_5001,Team workshop,fay@example.com,pi_5001\n"
)
REFUND_5001 = (  # names its payment by the PaymentIntent alone
    "po_5001,2026-10-06 00:00:00,txn_5003,2026-10-03 10:00:00,2026-10-03 00:00:00,usd,"
    "-100.00,0.00,-100.00,refund,re_5001,Partial refund,fay@example.com,pi_5001\n"
)
PAYMENTS_5001 = (
    b"id,Created date (UTC),Amount,Amount Refunded,Currency,Fee,Status,PaymentIntent ID\n"
    b"ch_5001,2026-10-01 14:00,300.00,100.00,usd,9.00,Partially refunded,pi_5001\n"
)


@pytest.mark.parametrize("checkout_first", [False, True], ids=["imported", "checkout-first"])
def test_a_refund_named_by_the_intent_replaces_the_exports_summary_of_it(
    run_import: Importer, scoped: Business, checkout_first: bool
) -> None:
    """The payments export says 100.00 was refunded; the reconciliation report then names
    the refund itself: 100.00 in all, not 200.00, whichever id each file used."""
    if checkout_first:
        moment = datetime(2026, 10, 1, 14, tzinfo=UTC)
        checkout(scoped, "pi_5001", 30000, moment)
    assert run_import(ImportSource.from_bytes(PAYMENTS_5001, "payments.csv")).state == "done"
    assert list(Refund.objects.values_list("provider_reference", "amount")) == [
        ("ch_5001:refunded", 10000)
    ]
    assert run_import(itemized(SALE_5001, REFUND_5001)).warnings == []
    (payment,) = Payment.objects.all()
    stored = "pi_5001" if checkout_first else "ch_5001"
    # The checkout's payment learnt the charge its files name it by; the import, the intent.
    other = "ch_5001" if checkout_first else "pi_5001"
    assert (payment.provider_reference, payment.other_reference) == (stored, other)
    assert list(Refund.objects.values_list("provider_reference", "amount", "payment")) == [
        ("re_5001", 10000, payment.pk)
    ]


@pytest.mark.parametrize("apart", ["files", "batches"])
def test_a_refund_named_by_the_intent_finds_a_charge_stored_earlier(
    run_import: Importer, scoped: Business, apart: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The charge was stored under its charge id in an earlier file, or an earlier batch of
    the same file; the refund names the PaymentIntent only."""
    if apart == "files":
        run_import(itemized(SALE_5001))
        run = run_import(itemized(REFUND_5001))
    else:
        import tillbook.imports.landing as landing

        monkeypatch.setattr(landing, "BATCH", 1)
        run = run_import(itemized(SALE_5001, REFUND_5001))
    assert (run.state, run.warnings) == (RunState.DONE, [])
    assert list(
        Refund.objects.values_list("provider_reference", "payment__provider_reference")
    ) == [("re_5001", "ch_5001")]


def test_the_balance_history_finds_a_checkouts_refund_by_its_id_and_fills_an_unknown_fee(
    run_import: Importer, scoped: Business
) -> None:
    """Two checkouts: one whose fee Stripe had not settled when it was confirmed, one refunded
    through Tillbook. The balance history names the charge with its fee, and the refund by its
    own id only: the fee is learnt, and the refund counts once."""
    from datetime import UTC, date

    from tillbook.insights.ledger import sales_totals
    from tillbook.insights.periods import Period
    from tillbook.insights.rollups import rollups_refresh

    first = checkout(scoped, "pi_1001", 12000, datetime(2026, 9, 1, 15, 4, tzinfo=UTC))
    Payment.objects.filter(pk=first.pk).update(other_reference="ch_1001")  # fee not known
    second = checkout(
        scoped,
        "pi_1002",
        8000,
        datetime(2026, 9, 2, 9, 30, 12, tzinfo=UTC),
        fee_amount=262,
        other_reference="ch_1002",
    )
    refund = Refund.objects.create(
        business=scoped,
        payment=second,
        state="succeeded",
        currency="USD",
        amount=8000,
        idempotency_key="tillbook-refund-1",
        provider_reference="re_3001",
        succeeded_at=datetime(2026, 9, 5, 10, tzinfo=UTC),
    )
    run = run_import("stripe_balance.csv")
    assert (run.state, run.warnings) == (RunState.DONE, [])  # no refund left unlinked
    line = BalanceTransaction.objects.get(provider_reference="txn_1003")
    assert (line.refund_id, line.payment_id) == (refund.pk, second.pk)
    assert Payment.objects.get(pk=first.pk).fee_amount == 378
    rollups_refresh(business=scoped)
    september = Period(date(2026, 9, 1), date(2026, 9, 30), scoped.zone)
    totals = sales_totals(business=scoped, period=september)["USD"]
    # 120.00 + 80.00 + the 1,250.00 payment; fees 3.78 + 2.62 + 36.55 and the 2.00 Radar fee.
    assert (totals.gross, totals.refunds, totals.fees) == (145000, 8000, 4495)


@pytest.mark.parametrize("names_it", ["itemized", "balance"])
def test_a_known_refund_replacing_the_exports_summary_reaches_the_rollups(
    run_import: Importer, scoped: Business, names_it: str
) -> None:
    """A 300.00 checkout; the payments export says 100.00 was refunded (a summary refund);
    then a 50.00 refund made through Tillbook. A file naming that refund replaces the summary
    without adding a refund: the dashboard and the cohort table must lose the summary too
    (they kept 150.00 of refunds and 150.00 of customer value)."""
    from datetime import UTC, date

    from tillbook.insights.customers import lifetime_value_by_cohort
    from tillbook.insights.ledger import sales_totals
    from tillbook.insights.periods import Period
    from tillbook.insights.rollups import rollups_refresh

    paid = checkout(
        scoped, "pi_5001", 30000, datetime(2026, 10, 1, 14, tzinfo=UTC), customer_email="f@x.com"
    )
    export = (
        "id,Created date (UTC),Amount,Amount Refunded,Currency,Fee,Status,PaymentIntent ID\n"
        "ch_5001,2026-10-01 14:00,300.00,100.00,usd,9.00,Partially refunded,pi_5001\n"
    )
    assert run_import(ImportSource.from_bytes(export.encode(), "payments.csv")).state == "done"
    Refund.objects.create(
        business=scoped,
        payment=paid,
        state="succeeded",
        currency="USD",
        amount=5000,
        idempotency_key="live-1",
        provider_reference="re_live",
        succeeded_at=datetime(2026, 10, 5, tzinfo=UTC),
    )
    october = Period(date(2026, 10, 1), date(2026, 10, 31), scoped.zone)

    def refunds_and_value() -> tuple[int, int]:
        rollups_refresh(business=scoped)
        [cohort] = lifetime_value_by_cohort(business=scoped)
        return sales_totals(business=scoped, period=october)["USD"].refunds, cohort.revenue

    assert refunds_and_value() == (15000, 15000)
    if names_it == "itemized":
        named = itemized(
            "po_1,2026-10-06 00:00:00,txn_9,2026-10-05 10:00:00,2026-10-05 00:00:00,usd,"
            "-50.00,0.00,-50.00,refund,re_live,Refund,f@x.com,pi_5001\n"
        )
    else:
        named = ImportSource.from_bytes(
            b"id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Available On (UTC),"
            b"Description\n"
            b"txn_9,refund,re_live,-50.00,0.00,-50.00,usd,2026-10-05 10:00,2026-10-07 00:00,"
            b"REFUND\n",
            "balance.csv",
        )
    assert run_import(named).state == "done"
    assert list(Refund.objects.values_list("provider_reference", "amount")) == [("re_live", 5000)]
    assert refunds_and_value() == (5000, 25000)


def test_a_payout_known_only_by_its_lines_arrives_on_their_transfer_date(
    run_import: Importer, scoped: Business
) -> None:
    """The file holds two lines of po_31 but not its own row: the payout arrives on their
    Transfer Date (2 October), not on the last line's Available On (29 September)."""
    from datetime import date

    from tillbook.insights.ledger import payouts_by_processor
    from tillbook.insights.periods import Period

    rows = (
        "txn_31,charge,ch_31,50.00,1.75,48.25,usd,2026-09-28 10:00,2026-09-30 00:00,Call,"
        "po_31,2026-10-02 00:00\n"
        "txn_30,charge,ch_30,100.00,3.20,96.80,usd,2026-09-27 15:00,2026-09-29 00:00,Session,"
        "po_31,2026-10-02 00:00\n"
    )
    run = run_import(_balance_file(rows))
    assert (run.state, run.imported) == (RunState.DONE, 2)
    payout = Payout.objects.get()
    assert (payout.provider_reference, payout.amount) == ("po_31", 4825 + 9680)
    assert payout.arrival_date == date(2026, 10, 2)
    september = Period(date(2026, 9, 1), date(2026, 9, 30), scoped.zone)
    assert payouts_by_processor(business=scoped, period=september) == []
    october = Period(date(2026, 10, 1), date(2026, 10, 31), scoped.zone)
    (stripe,) = payouts_by_processor(business=scoped, period=october)
    assert (stripe.amount, stripe.count) == (14505, 1)


NO_SOURCE_HEADER = (
    "id,Type,Amount,Fee,Net,Currency,Created (UTC),Available On (UTC),Description,Transfer,"
    "Transfer Date (UTC)\n"
)
NO_SOURCE_LINES = (
    "txn_41,charge,50.00,1.75,48.25,usd,2026-09-28 10:00,2026-09-30 00:00,Call,po_41,"
    "2026-10-02 00:00\n"
    "txn_40,charge,100.00,3.20,96.80,usd,2026-09-27 15:00,2026-09-29 00:00,Session,po_41,"
    "2026-10-02 00:00\n"
)


def test_a_balance_history_without_the_source_column_counts_each_payout_once(
    run_import: Importer, scoped: Business
) -> None:
    """Exported without Source, the payout's row names its payout only as the Transfer. It
    was keyed by its own line id (txn_42), a second payout beside the po_41 its lines name:
    290.10 paid out for 145.05."""
    from datetime import date

    from tillbook.insights.ledger import payouts_by_processor
    from tillbook.insights.periods import Period

    text = (
        NO_SOURCE_HEADER
        + "txn_42,payout,-145.05,0.00,-145.05,usd,2026-10-01 02:00,2026-10-02 00:00,"
        "STRIPE PAYOUT,po_41,2026-10-02 00:00\n" + NO_SOURCE_LINES
    )
    run = run_import(ImportSource.from_bytes(text.encode(), "balance.csv"))
    assert (run.state, run.imported) == (RunState.DONE, 3)
    autumn = Period(date(2026, 9, 1), date(2026, 10, 31), scoped.zone)
    (stripe,) = payouts_by_processor(business=scoped, period=autumn)
    assert (stripe.amount, stripe.count) == (14505, 1)
    assert list(Payout.objects.values_list("provider_reference", flat=True)) == ["po_41"]


def test_a_payout_row_naming_no_payout_is_refused_and_nothing_is_written(
    run_import: Importer, scoped: Business
) -> None:
    text = (
        NO_SOURCE_HEADER
        + "txn_42,payout,-145.05,0.00,-145.05,usd,2026-10-01 02:00,2026-10-02 00:00,"
        "STRIPE PAYOUT,,2026-10-02 00:00\n" + NO_SOURCE_LINES
    )
    before = database_fingerprint()
    run = run_import(ImportSource.from_bytes(text.encode(), "balance.csv"))
    assert run.state == RunState.FAILED
    assert run.problems == [
        [
            2,
            "A payout's row needs its payout id (po_…) in the Source column: "
            "export the balance history again with that column",
        ]
    ]
    after = database_fingerprint()
    assert after.pop("imports.importrun") != before.pop("imports.importrun")
    assert after == before


PAYPAL_HEADER = (
    '"Date","Time","TimeZone","Name","Type","Status","Currency","Gross","Fee","Net",'
    '"Transaction ID","Reference Txn ID"\n'
)
PAYPAL_SALE = (
    '"09/15/2026","08:00:00","PDT","Hal Hill","Website Payment","Completed","USD","60.00",'
    '"-2.39","57.61","6CD22222EF3333333",""\n'
)
PAYPAL_REFUND = (
    '"09/16/2026","09:30:00","PDT","Hal Hill","Payment Refund","Completed","USD","-60.00",'
    '"1.80","-58.20","7EF33333GH4444444","6CD22222EF3333333"\n'
)


def test_a_paypal_refund_of_a_payment_not_imported_yet_says_how_to_link_it(
    run_import: Importer, scoped: Business
) -> None:
    """The warning blamed Stripe's balance history, which this file is not: the PayPal refund
    names its payment, only not one Tillbook has yet. Doing what it says links them."""
    refunds = ImportSource.from_bytes((PAYPAL_HEADER + PAYPAL_REFUND).encode(), "october.csv")
    first = run_import(refunds)
    assert (first.state, first.warnings) == (
        RunState.DONE,
        [
            "1 refund(s) name a payment Tillbook does not have yet (in an older file?). They "
            "count as refunds; import the file with those payments, then this one again, to "
            "link them."
        ],
    )
    sales = ImportSource.from_bytes((PAYPAL_HEADER + PAYPAL_SALE).encode(), "september.csv")
    assert run_import(sales).state == RunState.DONE
    again = run_import(refunds)
    assert (again.state, again.imported, again.duplicates, again.warnings) == (
        RunState.DONE,
        0,
        1,
        [],
    )
    refund = Refund.objects.get()
    assert (refund.payment.provider_reference, refund.amount) == ("6CD22222EF3333333", 6000)
    line = BalanceTransaction.objects.get(provider_reference="7EF33333GH4444444")
    assert line.refund_id == refund.pk


def test_a_paypal_payment_marked_refunded_still_counts_beside_its_refund(
    run_import: Importer, scoped: Business
) -> None:
    """PayPal marks the payment row of a refunded sale "Refunded" ("Partially Refunded"); its
    refund is a completed row of its own. The sale was skipped and the refund kept: 60.00
    refunded of nothing sold. Both count now, linked."""
    sale = PAYPAL_SALE.replace('"Completed"', '"Partially Refunded"')
    text = (
        PAYPAL_HEADER
        + PAYPAL_REFUND.replace('"-60.00","1.80","-58.20"', '"-20.00","0.60","-19.40"')
        + sale
    )
    run = run_import(ImportSource.from_bytes(text.encode(), "activity.csv"))
    assert (run.state, run.imported, run.skipped, run.warnings) == (RunState.DONE, 2, {}, [])
    payment = Payment.objects.get()
    assert (payment.provider_reference, payment.amount) == ("6CD22222EF3333333", 6000)
    assert list(payment.refunds.values_list("amount", flat=True)) == [2000]
    pending = PAYPAL_HEADER + PAYPAL_SALE.replace('"Completed"', '"Pending"').replace(
        "6CD22222", "9XY99999"
    )
    assert run_import(ImportSource.from_bytes(pending.encode(), "pending.csv")).imported == 0


def test_a_paypal_refund_above_its_payment_in_a_large_file_is_linked(
    run_import: Importer, scoped: Business, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PayPal lists newest first: a refund comes before its sale, in an earlier batch when
    they are more than 5,000 rows apart (one row per batch here). It stayed unlinked, with a
    warning, until the file was imported again."""
    from tillbook.imports import landing

    monkeypatch.setattr(landing, "BATCH", 1)
    text = PAYPAL_HEADER + PAYPAL_REFUND + PAYPAL_SALE
    run = run_import(ImportSource.from_bytes(text.encode(), "activity.csv"))
    assert (run.state, run.imported, run.duplicates, run.warnings) == (RunState.DONE, 2, 0, [])
    refund = Refund.objects.get()
    assert (refund.payment.provider_reference, refund.amount) == ("6CD22222EF3333333", 6000)
    line = BalanceTransaction.objects.get(provider_reference="7EF33333GH4444444")
    assert (line.refund_id, line.payment_id) == (refund.pk, refund.payment_id)
    with business_scope(scoped):
        from datetime import date

        from tillbook.insights.ledger import sales_totals
        from tillbook.insights.periods import Period

        totals = sales_totals(
            business=scoped, period=Period(date(2026, 9, 1), date(2026, 9, 30), scoped.zone)
        )["USD"]
    assert (totals.gross, totals.refunds) == (6000, 6000)


def test_every_hold_of_a_file_checked_first_waits_with_patience_late_refunds_included(
    run_import: Importer, scoped: Business, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each of the import's transactions that writes the ledger takes the rollups' hold by
    trying and saying it waits (another import of the business may hold them for minutes),
    the last one too: it links the refunds whose payment came later in the file."""
    from tillbook.imports import landing, services

    holds: list[str | None] = []

    def recorded(*, business: Business, patience: str | None = None) -> bool:
        holds.append(patience)
        return True

    monkeypatch.setattr(landing, "BATCH", 1)
    monkeypatch.setattr(services, "BATCHES_PER_COMMIT", 1)
    monkeypatch.setattr(services, "in_one_pass", lambda run: False)
    monkeypatch.setattr(services, "rollups_hold", recorded)
    text = PAYPAL_HEADER + PAYPAL_REFUND + PAYPAL_SALE
    run = run_import(ImportSource.from_bytes(text.encode(), "activity.csv"))
    assert (run.state, run.imported, run.warnings) == (RunState.DONE, 2, [])
    assert holds == [services.WAIT_TURN] * 3  # a commit per row, then the late refund
    assert Refund.objects.get().payment.provider_reference == "6CD22222EF3333333"


def test_a_run_carried_out_again_does_not_keep_saying_it_waits(
    scoped: Business, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker stopped while its run said it waited for another import leaves the message;
    the task carried out again must not show it over the progress while it imports."""
    from tillbook.imports import services

    run = ImportRun.objects.create(
        business=scoped,
        file_name="activity.csv",
        state=RunState.IMPORTING,
        message=services.WAITING,
    )
    begun: list[str] = []
    chosen = services.in_one_pass

    def at_the_start(started: ImportRun) -> bool:  # asked once the run's start is saved
        begun.append(ImportRun.objects.get(pk=started.pk).message)
        return chosen(started)

    monkeypatch.setattr(services, "in_one_pass", at_the_start)
    text = PAYPAL_HEADER + PAYPAL_SALE
    finished = services.import_run_execute(
        run=run, source=ImportSource.from_bytes(text.encode(), "activity.csv")
    )
    assert begun == [""]
    assert (finished.state, finished.imported) == (RunState.DONE, 1)


def test_a_paypal_shopping_cart_item_row_is_not_a_line_and_does_not_hide_its_payment(
    run_import: Importer, scoped: Business
) -> None:
    """A cart's items are rows of their own with the payment's Transaction ID ("Shopping Cart
    Item", German "Warenkorbartikel"), marked Memo in Balance Impact. A download without that
    column counted the item as a balance line, and the payment below it as already known."""
    item = (
        '"09/15/2026","08:00:00","PDT","Hal Hill","Shopping Cart Item","Completed","USD",'
        '"60.00","0.00","60.00","6CD22222EF3333333",""\n'
    )
    german = item.replace("Shopping Cart Item", "Warenkorbartikel")
    text = PAYPAL_HEADER + item + PAYPAL_SALE + german
    run = run_import(ImportSource.from_bytes(text.encode(), "activity.csv"))
    assert (run.state, run.rows_read, run.imported, run.duplicates) == (RunState.DONE, 3, 1, 0)
    assert run.skipped == {"shopping cart item (the payment's own row counts)": 2}
    payment = Payment.objects.get()
    assert (payment.provider_reference, payment.amount, payment.fee_amount) == (
        "6CD22222EF3333333",
        6000,
        239,
    )
    line = BalanceTransaction.objects.get()
    assert (line.kind, line.gross, line.net, line.payment_id) == ("charge", 6000, 5761, payment.pk)


def test_an_id_longer_than_the_ledger_keeps_is_a_problem_on_its_line_and_writes_nothing(
    run_import: Importer, scoped: Business
) -> None:
    """A damaged file with a 300-character id passed the check and then failed on
    PostgreSQL's column length while landing (an unexpected error, after earlier commits had
    landed part of the file); SQLite kept it longer than the column says."""
    head = "id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Transfer\n"
    good = "txn_1,charge,ch_1,10.00,0.30,9.70,usd,2026-09-01 10:00,po_1\n"
    long_id = "txn_" + "9" * 300
    rows = [
        f"{long_id},charge,ch_2,10.00,0.30,9.70,usd,2026-09-01 10:00,\n",
        f"txn_3,charge,ch_{'3' * 260},10.00,0.30,9.70,usd,2026-09-01 10:00,\n",
        f"txn_4,charge,ch_4,10.00,0.30,9.70,usd,2026-09-01 10:00,po_{'4' * 260}\n",
    ]
    before = database_fingerprint()
    run = run_import(ImportSource.from_bytes((head + good + "".join(rows)).encode(), "b.csv"))
    assert run.state == RunState.FAILED
    assert run.problems == [
        [3, f"the id “{long_id[:40]}…” has 304 characters; Tillbook keeps ids of up to 255 "
         "(the file may be damaged)"],
        [4, f"the id “ch_{'3' * 37}…” has 263 characters; Tillbook keeps ids of up to 255 "
         "(the file may be damaged)"],
        [5, f"the id “po_{'4' * 37}…” has 263 characters; Tillbook keeps ids of up to 255 "
         "(the file may be damaged)"],
    ]  # fmt: skip
    after = database_fingerprint()
    assert after.pop("imports.importrun") != before.pop("imports.importrun")
    assert after == before
    campaign_id = "1" * 101
    ads = f"Day,Campaign,Campaign ID,Impr.,Clicks,Cost\n2026-09-01,A,{campaign_id},10,1,1.00\n"
    run = run_import(ImportSource.from_bytes(ads.encode(), "g.csv"))
    assert (run.state, run.problems) == (
        RunState.FAILED,
        [
            [
                2,
                f"the id “{'1' * 40}…” has 101 characters; Tillbook keeps campaign ids of up to "
                "100 (the file may be damaged)",
            ]
        ],
    )
    again = database_fingerprint()
    again.pop("imports.importrun")
    assert again == before
    from tillbook.imports.reading import CAMPAIGN_ID_CHARACTERS, LEDGER_ID_CHARACTERS
    from tillbook.marketing.models import AdCampaign

    kept = {
        model._meta.get_field("provider_reference").max_length
        for model in (Payment, Refund, Payout, BalanceTransaction)
    }
    assert kept == {LEDGER_ID_CHARACTERS}
    assert AdCampaign._meta.get_field("external_id").max_length == CAMPAIGN_ID_CHARACTERS


def _by_second_id(queries: CaptureQueriesContext) -> int:
    """How many of `queries` looked a batch's payment ids up among the payments' second ids."""
    return sum(
        1
        for query in queries.captured_queries
        if query["sql"].startswith('SELECT "other_reference", "id" FROM "payments_payment"')
    )


def test_payments_are_looked_up_by_their_second_id_only_where_some_payment_has_one(
    run_import: Importer, scoped: Business
) -> None:
    """A business whose payments have no second id (no Stripe checkout) has no batch's ids
    looked up among them; one that has one does, and its charge is found by it."""
    with CaptureQueriesContext(connection) as queries:
        first = run_import("stripe_balance.csv")
    assert (first.state, _by_second_id(queries)) == (RunState.DONE, 0)
    moment = datetime(2026, 9, 1, 20, 4, tzinfo=UTC)
    live = checkout(scoped, "pi_9001", 12000, moment, fee_amount=378, other_reference="ch_9001")
    with CaptureQueriesContext(connection) as queries:
        second = run_import(
            _balance_file(
                "txn_9001,charge,ch_9001,120.00,3.78,116.22,usd,2026-09-01 20:04,"
                "2026-09-03 00:00,Leadership session,,\n"
            )
        )
    assert (second.state, second.imported, _by_second_id(queries)) == (RunState.DONE, 1, 1)
    assert BalanceTransaction.objects.get(provider_reference="txn_9001").payment_id == live.pk
    assert Payment.objects.filter(provider_reference="ch_9001").count() == 0


MARKED = 'Sesión "1" \\ back, \t tab,\nnew line,\r\nreturn ✓'


@pytest.mark.parametrize("prepared", [False, True], ids=["by-the-landing", "by-the-reader"])
def test_a_line_and_its_sale_keep_every_character_and_moment(
    scoped: Business, prepared: bool
) -> None:
    """On PostgreSQL lines and payments go in as COPY text, where a backslash, a tab and a
    line end mean something: each is kept as it was, whichever thread made the text (the
    one-pass import's reading thread, or the landing itself). A moment keeps its
    microseconds whatever its zone."""
    ann = Customer.objects.create(business=scoped, email="ann@example.com", name="Ann")
    moment = datetime(2026, 10, 1, 15, 0, 0, 123456, tzinfo=ZoneInfo("America/New_York"))
    sale = LedgerRecord(
        line=1,
        provider="stripe",
        movement=Movement.SALE,
        reference="txn\\1\t",
        currency="USD",
        gross=5000,
        fee=175,
        net=4825,
        occurred_at=moment,
        payment_reference="ch\\1",
        payment_alias="pi_\n1",
        available_on=date(2026, 10, 3),
        customer_email="Ann@Example.com",
        description=MARKED,
        metadata={"note": MARKED},
        raw={"Description": MARKED, "id": "txn\\1\t"},
    )
    fee = LedgerRecord(
        line=2,
        provider="stripe",
        movement=Movement.FEE,
        reference="txn_2",
        currency="USD",
        gross=-200,
        fee=0,
        net=-200,
        occurred_at=moment,
    )
    if prepared:
        copy_texts_prepare([sale, fee])
    with transaction.atomic():
        counts = ledger_land_batch(business=scoped, records=[sale, fee])
    assert counts.imported == 2
    payment = Payment.objects.get()
    assert (
        payment.provider_reference,
        payment.other_reference,
        payment.description,
        payment.metadata,
        payment.raw,
        payment.customer_email,
        payment.customer_id,
        payment.created_at,
        payment.succeeded_at,
        (payment.amount, payment.tip_amount, payment.tax_amount, payment.fee_amount),
        (payment.state, payment.source, payment.provider, payment.currency),
        (payment.checkout_reference, payment.method, payment.failure_reason),
    ) == (
        "ch\\1",
        "pi_\n1",
        MARKED,
        {"note": MARKED},
        {},  # kept once, on its line
        "Ann@Example.com",
        ann.pk,
        moment,
        moment,
        (5000, 0, 0, 175),
        (PaymentState.SUCCEEDED, Source.IMPORT, "stripe", "USD"),
        ("", "", ""),
    )
    lines = {
        line.provider_reference: (
            line.kind,
            line.description,
            line.raw,
            line.occurred_at,
            line.available_on,
            (line.gross, line.fee, line.net, line.currency, line.source),
            (line.payment_id, line.refund_id, line.payout_id),
        )
        for line in BalanceTransaction.objects.all()
    }
    assert lines == {
        "txn\\1\t": (
            "charge",
            MARKED,
            {"Description": MARKED, "id": "txn\\1\t"},
            moment,
            datetime(2026, 10, 3, tzinfo=UTC),
            (5000, 175, 4825, "USD", Source.IMPORT),
            (payment.pk, None, None),
        ),
        "txn_2": ("fee", "", {}, moment, None, (-200, 0, -200, "USD", Source.IMPORT), (None,) * 3),
    }
