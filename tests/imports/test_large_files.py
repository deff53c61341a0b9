"""Files landed in many batches: links, duplicates and the all-or-nothing rule across batches."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tillbook.core.models import Business
from tillbook.core.scoping import business_scope, unscoped
from tillbook.core.services import business_create
from tillbook.imports import landing, services, spool
from tillbook.imports.models import ImportRun, RunState
from tillbook.imports.reading import file_check
from tillbook.imports.source import ImportSource
from tillbook.marketing.models import AdSpendDay
from tillbook.payments.models import BalanceTransaction, Payment, Payout, Refund

from ..access import database_fingerprint
from .helpers import CHICAGO, fixture

Importer = Callable[..., ImportRun]

ITEMIZED = (
    "balance_transaction_id,created_utc,available_on_utc,currency,gross,fee,net,"
    "reporting_category,source_id,charge_id,automatic_payout_id\n"
)
BALANCE = "id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Transfer\n"


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of two records, spool chunks of three, a commit every two batches and planner
    statistics refreshed from the first commit: a few rows cross every boundary."""
    monkeypatch.setattr(landing, "BATCH", 2)
    monkeypatch.setattr(spool, "CHUNK", 3)
    monkeypatch.setattr(services, "BATCHES_PER_COMMIT", 2)
    monkeypatch.setattr(services, "STATISTICS_FROM", 2)


def source(text: str, name: str = "file.csv") -> ImportSource:
    return ImportSource.from_bytes(text.encode(), name)


@pytest.mark.usefixtures("small_batches")
def test_a_refund_is_linked_to_its_charge_landed_in_an_earlier_batch(
    run_import: Importer, scoped: Business
) -> None:
    text = ITEMIZED + (
        "txn_1,2026-10-01 10:00:00,,usd,100.00,3.20,96.80,charge,ch_1,ch_1,po_1\n"
        "txn_2,2026-10-01 11:00:00,,usd,50.00,1.75,48.25,charge,ch_2,ch_2,po_1\n"
        "txn_3,2026-10-02 09:00:00,,usd,20.00,0.88,19.12,charge,ch_3,ch_3,po_1\n"
        "txn_4,2026-10-02 12:00:00,,usd,70.00,2.33,67.67,charge,ch_4,ch_4,po_2\n"
        "txn_5,2026-10-03 08:00:00,,usd,-40.00,0.00,-40.00,refund,re_1,ch_1,po_2\n"
    )
    run = run_import(source(text))
    assert (run.state, run.imported, run.duplicates, run.rows_done) == (RunState.DONE, 5, 0, 5)
    refund = Refund.objects.get()
    assert (refund.provider_reference, refund.amount) == ("re_1", 4000)
    assert refund.payment == Payment.objects.get(provider_reference="ch_1")
    line = BalanceTransaction.objects.get(provider_reference="txn_5")
    assert (line.refund_id, line.payment_id) == (refund.pk, refund.payment_id)
    payouts = {
        payout.provider_reference: sorted(payout.lines.values_list("provider_reference", flat=True))
        for payout in Payout.objects.all()
    }
    assert payouts == {"po_1": ["txn_1", "txn_2", "txn_3"], "po_2": ["txn_4", "txn_5"]}
    # Known only from their lines, each payout is the sum of their net amounts.
    assert sorted(Payout.objects.values_list("provider_reference", "amount")) == [
        ("po_1", 9680 + 4825 + 1912),
        ("po_2", 6767 - 4000),
    ]


@pytest.mark.usefixtures("small_batches")
def test_duplicates_across_batches_and_overlapping_files_add_nothing(
    run_import: Importer, scoped: Business
) -> None:
    first = BALANCE + (
        "txn_1,charge,ch_1,10.00,0.59,9.41,usd,2026-09-01 10:00,po_1\n"
        "txn_2,charge,ch_2,20.00,0.88,19.12,usd,2026-09-01 11:00,po_1\n"
        "txn_3,charge,ch_3,30.00,1.17,28.83,usd,2026-09-01 12:00,po_1\n"
        "txn_1,charge,ch_1,10.00,0.59,9.41,usd,2026-09-01 10:00,po_1\n"  # again, two batches on
        "txn_4,stripe_fee,,-2.00,0.00,-2.00,usd,2026-09-02 00:00,po_1\n"
    )
    run = run_import(source(first))
    assert (run.state, run.imported, run.duplicates) == (RunState.DONE, 4, 1)
    overlapping = BALANCE + (
        "txn_3,charge,ch_3,30.00,1.17,28.83,usd,2026-09-01 12:00,po_1\n"
        "txn_4,stripe_fee,,-2.00,0.00,-2.00,usd,2026-09-02 00:00,po_1\n"
        "txn_5,charge,ch_5,50.00,1.75,48.25,usd,2026-09-03 09:00,po_2\n"
    )
    again = run_import(source(overlapping))
    assert (again.state, again.imported, again.duplicates) == (RunState.DONE, 1, 2)
    assert sorted(BalanceTransaction.objects.values_list("provider_reference", "net")) == [
        ("txn_1", 941),
        ("txn_2", 1912),
        ("txn_3", 2883),
        ("txn_4", -200),
        ("txn_5", 4825),
    ]
    assert sorted(Payment.objects.values_list("provider_reference", "amount")) == [
        ("ch_1", 1000),
        ("ch_2", 2000),
        ("ch_3", 3000),
        ("ch_5", 5000),
    ]


GOOGLE_BY_DEVICE = (
    "Campaign report\n"
    '"September 1, 2026 - September 2, 2026"\n'
    "Day,Device,Campaign,Campaign ID,Impr.,Clicks,Currency code,Cost,Conversions\n"
    "2026-09-01,Computers,Fall Launch,201,100,10,USD,10.00,1.00\n"
    "2026-09-02,Computers,Fall Launch,201,50,5,USD,5.00,0.00\n"
    "2026-09-01,Mobile phones,Fall Launch,201,200,20,USD,20.00,1.50\n"
    "2026-09-02,Tablets,Fall Launch,201,40,4,USD,4.00,0.50\n"
    "2026-09-01,Tablets,Fall Launch,201,30,3,USD,3.00,0.00\n"
)


@pytest.mark.usefixtures("small_batches")
def test_ad_rows_of_one_campaign_day_add_up_across_batches(
    run_import: Importer, scoped: Business
) -> None:
    # Batches of two rows: 1 September is in the first, second and third batch.
    run = run_import(source(GOOGLE_BY_DEVICE))
    assert (run.state, run.rows_read, run.imported, run.duplicates) == (RunState.DONE, 5, 5, 0)
    days = AdSpendDay.objects.order_by("day")
    assert [(d.day, d.spend, d.clicks, d.impressions, d.conversions) for d in days] == [
        (date(2026, 9, 1), 3300, 33, 330, Decimal("2.50")),
        (date(2026, 9, 2), 900, 9, 90, Decimal("0.50")),
    ]
    # The same file again: the same two days. Both days span batches here, and a batch cannot
    # tell a day's first part from a revision, so every row counts as imported again.
    again = run_import(source(GOOGLE_BY_DEVICE))
    assert (again.imported, again.duplicates) == (5, 0)
    assert [(d.day, d.spend, d.clicks) for d in AdSpendDay.objects.order_by("day")] == [
        (date(2026, 9, 1), 3300, 33),
        (date(2026, 9, 2), 900, 9),
    ]


def test_an_error_on_the_last_line_of_a_large_file_writes_nothing(
    run_import: Importer, scoped: Business
) -> None:
    rows = 2 * landing.BATCH + 7
    lines = [
        f"txn_{n},charge,ch_{n},12.00,0.65,11.35,usd,2026-09-01 10:00,po_{n // 1000}\n"
        for n in range(rows - 1)
    ]
    lines.append(f"txn_{rows},charge,ch_{rows},12.00,0.65,11.53,usd,2026-09-01 10:00,po_1\n")
    before = database_fingerprint()
    run = run_import(source(BALANCE + "".join(lines)))
    assert run.state == RunState.FAILED
    assert run.problems == [
        [rows + 1, "Net: is not the amount less the fee; the file may be damaged"]
    ]
    assert (run.imported, run.rows_done) == (0, 0)
    after = database_fingerprint()
    assert after.pop("imports.importrun") != before.pop("imports.importrun")
    assert after == before


def test_the_check_keeps_its_records_for_landing() -> None:
    with spool.RecordSpool() as kept:
        check = file_check(fixture("stripe_balance.csv"), zone=CHICAGO, currency="USD", spool=kept)
        records = list(kept.records())
    assert (check.spooled, check.records, kept.count) == (True, 7, 7)
    assert [r.reference for r in records] == [f"txn_{n}" for n in range(1001, 1008)]
    assert records[0].raw["Description"] == "Leadership session"


def test_a_day_first_file_whose_order_was_learned_late_is_read_again_for_landing(
    run_import: Importer, scoped: Business
) -> None:
    with unscoped():
        london = business_create(
            slug="london-studio",
            name="London Studio",
            currency="GBP",
            timezone_name="Europe/London",
        )
    # 10/05/2026 (line 2) fits both orders; 13/05/2026 (line 3) proves day-first.
    with spool.RecordSpool() as kept:
        check = file_check(
            fixture("square_transactions_day_first.csv"),
            zone=CHICAGO,
            currency="GBP",
            spool=kept,
        )
    assert check.spooled is False
    run = run_import("square_transactions_day_first.csv", target=london)
    assert (run.state, run.imported) == (RunState.DONE, 2)
    with business_scope(london):
        days = [
            payment.succeeded_at.astimezone(ZoneInfo("Europe/London")).date()
            for payment in Payment.objects.order_by("succeeded_at")
        ]
    assert days == [date(2026, 5, 10), date(2026, 5, 13)]


def test_an_error_while_landing_stops_the_thread_reading_the_file(
    run_import: Importer, scoped: Business, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batches of two, 40 rows: the reading thread is far ahead when the landing fails, and
    # must not be left waiting (holding the file) for batches nobody will take.
    monkeypatch.setattr(landing, "BATCH", 2)
    calls = []

    def broken(**kwargs: object) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return landing.ledger_land_batch(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(services, "ledger_land_batch", broken)
    lines = [
        f"txn_{n},charge,ch_{n},12.00,0.65,11.35,usd,2026-09-01 10:00,po_1\n" for n in range(40)
    ]
    with pytest.raises(RuntimeError, match="disk full") as raised:
        run_import(source(BALANCE + "".join(lines)))
    # Asked while `raised` still holds the error and its frames (and so the batches' generator
    # of the failed landing, had nothing closed it).
    assert str(raised.value) == "disk full"
    assert [t.name for t in threading.enumerate() if t.name == "import-reader"] == []
    assert (Payment.objects.count(), BalanceTransaction.objects.count()) == (0, 0)
