"""A file landed in one pass (PostgreSQL, in_one_pass) lands exactly as one checked first and
then landed in batches: the same run report and the same ledger, file after file (the rows'
COPY text made by the reading thread in one, by the landing in the other)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tillbook.core.hooks import installed_pause
from tillbook.core.models import Business
from tillbook.core.scoping import business_scope
from tillbook.imports import landing, services
from tillbook.imports.models import ImportRun, RunState
from tillbook.payments.models import BalanceTransaction, Payment, Payout, Refund

Importer = Callable[..., ImportRun]

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="only PostgreSQL lands a file in one pass; on SQLite both imports take the same path",
)

SEQUENCES = {
    "stripe balance, overlap, again": [
        "stripe_balance.csv",
        "stripe_balance_overlap.csv",
        "stripe_balance.csv",
    ],
    "stripe payments, balance, itemized": [
        "stripe_payments.csv",
        "stripe_balance.csv",
        "stripe_itemized_payout_reconciliation.csv",
    ],
    "square": ["square_transactions.csv", "square_transactions.csv"],
    "paypal, subset, german": [
        "paypal_activity.csv",
        "paypal_subset.csv",
        "paypal_activity_de.csv",
    ],
}


def _report(run: ImportRun) -> tuple[Any, ...]:
    return (
        run.state, run.kind, run.date_order, run.rows_read, run.rows_total, run.rows_done,
        run.imported, run.duplicates, run.skipped, run.warnings, run.message, run.problems,
    )  # fmt: skip


PAYMENT_FIELDS = (
    "provider", "provider_reference", "other_reference", "source", "state", "currency",
    "amount", "fee_amount", "tip_amount", "tax_amount", "customer_email", "created_at",
    "succeeded_at",
)  # fmt: skip
LINE_FIELDS = (
    "provider", "provider_reference", "kind", "currency", "gross", "fee", "net", "occurred_at",
    "available_on", "payment__provider_reference", "refund__provider_reference",
    "payout__provider_reference", "raw",
)  # fmt: skip
REFUND_FIELDS = ("payment__provider_reference", "provider_reference", "state", "amount")
PAYOUT_FIELDS = ("provider", "provider_reference", "state", "amount", "arrival_date")


def _ledger(business: Business) -> dict[str, list[tuple[Any, ...]]]:
    with business_scope(business):
        return {
            "payments": sorted(Payment.objects.values_list(*PAYMENT_FIELDS)),
            "lines": sorted(BalanceTransaction.objects.values_list(*LINE_FIELDS)),
            "refunds": sorted(Refund.objects.values_list(*REFUND_FIELDS)),
            "payouts": sorted(Payout.objects.values_list(*PAYOUT_FIELDS)),
        }


@pytest.mark.parametrize("batch", [landing.BATCH, 2], ids=["batches", "tiny batches"])
@pytest.mark.parametrize("files", list(SEQUENCES.values()), ids=list(SEQUENCES))
def test_one_pass_and_checked_first_land_the_same(
    run_import: Importer,
    business: Business,
    other_business: Business,
    monkeypatch: pytest.MonkeyPatch,
    files: list[str],
    batch: int,
) -> None:
    monkeypatch.setattr(landing, "BATCH", batch)
    prepared_in: set[str] = set()  # the threads that made the rows' COPY text
    prepare = landing.copy_texts_prepare

    def recorded(records: list[Any]) -> None:
        prepared_in.add(threading.current_thread().name)
        prepare(records)

    monkeypatch.setattr(landing, "copy_texts_prepare", recorded)
    one_pass = [run_import(name, target=business) for name in files]
    assert [services.in_one_pass(run) for run in one_pass] == [True] * len(files)
    assert prepared_in == {"import-reader"}
    monkeypatch.setattr(services, "in_one_pass", lambda run: False)
    checked_first = [run_import(name, target=other_business) for name in files]
    assert [_report(run) for run in one_pass] == [_report(run) for run in checked_first]
    ledger = _ledger(business)
    assert ledger["lines"]  # something landed to compare
    assert ledger == _ledger(other_business)


def _page_cost() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('random_page_cost')")
        return str(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)  # the setting's end is the landing transaction's
@pytest.mark.parametrize("one_pass", [True, False], ids=["one pass", "checked first"])
def test_a_landing_plans_its_lookups_for_pages_in_memory_and_nothing_after_it_does(
    run_import: Importer, business: Business, monkeypatch: pytest.MonkeyPatch, one_pass: bool
) -> None:
    # With a spinning disk's page cost the planner read whole tables for a batch's ids once
    # the ledger held a few hundred thousand rows (landing.index_lookups_preferred).
    if not one_pass:
        monkeypatch.setattr(services, "in_one_pass", lambda run: False)
    before = _page_cost()
    assert before != landing.LOOKUP_PAGE_COST  # else the test could not tell
    seen: list[str] = []
    with installed_pause("ledger_land.checked", lambda: seen.append(_page_cost())):
        run = run_import("stripe_balance.csv", target=business)
    assert (run.state, services.in_one_pass(run)) == (RunState.DONE, one_pass)
    assert seen == [landing.LOOKUP_PAGE_COST]  # one batch
    assert _page_cost() == before


def _rows_believed(model: type[Any]) -> float:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = CAST(%s AS regclass)",
            [model._meta.db_table],
        )
        return float(cursor.fetchone()[0])


def test_an_import_s_statistics_count_its_rows_and_sample_only_the_columns_it_looks_up(
    run_import: Importer, business: Business
) -> None:
    """The refresh inside the landing's transaction sees its rows (the planner then probes
    the unique index); sampling only the looked-up columns spares a line's raw values."""
    run = run_import("stripe_balance.csv", target=business)
    assert (run.state, run.imported) == (RunState.DONE, 7)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        assert landing.statistics_refresh() is True
        assert (_rows_believed(BalanceTransaction), _rows_believed(Payment)) == (7.0, 3.0)
    (analyse,) = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("ANALYZE")]
    assert analyse == (
        'ANALYZE "payments_payment" ("business_id", "provider", "provider_reference", '
        '"other_reference"), "payments_balancetransaction" ("business_id", "provider", '
        '"provider_reference", "refund_id"), "payments_payout" ("business_id", "provider", '
        '"provider_reference"), "payments_refund" ("business_id", "payment_id", '
        '"provider_reference")'
    )
