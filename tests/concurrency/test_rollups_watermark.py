"""A payment commits after a card payment with a higher id has committed, and the dashboard
refreshes its rollups in between: the rollups must still count it.

The rollups read rows above a watermark id. An import holds the watermarks while it writes
(rollups_hold), so the refresh waits for its commit and then reads its rows; one landed in a
single transaction (PostgreSQL) also holds its business's shared ledger lock, so the refresh
skips its round instead of waiting for the whole import. A payment written
one at a time (staff recording cash) holds its business's shared ledger lock until it commits;
the refresh reads the highest ids under the exclusive one (payments/ledger_lock.py), and skips
a round rather than wait in line for it (which would hold up every new checkout). The
negative controls take the hold or the lock away: the refresh moves the watermark past the
uncommitted ids, and those payments are missing from the dashboard for good; or make the
refresh queue for the lock: a checkout then waits until its lock timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Generic, TypeVar

import pytest
from django.db import OperationalError, connection, transaction
from django.db.models import Sum

from tillbook.core.hooks import installed_pause
from tillbook.core.models import Business, User
from tillbook.core.money import Money
from tillbook.core.scoping import business_scope, unscoped
from tillbook.imports import services
from tillbook.imports.models import ImportRun, RunState
from tillbook.imports.services import import_run_create, import_run_execute
from tillbook.imports.source import ImportSource
from tillbook.insights.models import CustomerValue, DailyLedger
from tillbook.insights.rollups import customer_values_refresh, rollups_refresh
from tillbook.payments import ledger_lock
from tillbook.payments import models as payment_models
from tillbook.payments.models import Payment, PaymentState, Source
from tillbook.payments.services import manual_payment_record, payment_request_create

from ..payments.fixtures import RecordingPurpose
from .race import BARRIER_TIMEOUT, postgresql_only

pytestmark = [postgresql_only, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

T = TypeVar("T")

# A payments export: payments only, no balance lines (lines of the same day would make the
# rollups read the day again and hide the loss).
PAYMENTS = (
    "id,Created date (UTC),Amount,Amount Refunded,Currency,Status,Fee,Customer Email\n"
    "ch_1,2026-10-01 15:00:00,100.00,0.00,usd,Paid,3.20,ann@example.com\n"
    "ch_2,2026-10-01 16:00:00,50.00,0.00,usd,Paid,1.75,bo@example.com\n"
)


def _import(business: Business) -> ImportRun:
    run = import_run_create(business=business, actor=None, file_name="payments.csv", enqueue=False)
    return import_run_execute(
        run=run, source=ImportSource.from_bytes(PAYMENTS.encode(), "payments.csv")
    )


def _card_payment(business: Business) -> Payment:
    """A payment taken at the till while the import is writing (committed at once)."""
    with business_scope(business):
        return Payment.objects.create(
            business=business,
            provider="stripe",
            source=Source.LIVE,
            state=PaymentState.SUCCEEDED,
            currency="USD",
            amount=2500,
            provider_reference="pi_till",
            customer_email="cy@example.com",
            created_at=datetime(2026, 10, 1, 17, 0, tzinfo=UTC),
            succeeded_at=datetime(2026, 10, 1, 17, 0, tzinfo=UTC),
        )


def _refresh(business: Business) -> bool:
    """The background sweep's refresh: the customers' values (which pages other than the
    cohort table leave alone) first, so that it too meets the import's hold."""
    with business_scope(business):
        customer_values_refresh(business=business)
        return rollups_refresh(business=business)


def _waits_for_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'",
            [pid],
        )
        return bool(cursor.fetchone()[0])


def _dashboard_gross(business: Business) -> int:
    with unscoped():
        total = DailyLedger.objects.filter(business=business).aggregate(gross=Sum("gross"))
    return int(total["gross"] or 0)


def _cohort_revenue(business: Business) -> int:
    with unscoped():
        total = CustomerValue.objects.filter(business=business).aggregate(paid=Sum("revenue"))
    return int(total["paid"] or 0)


class _Paused(Generic[T]):
    """`write` in a thread and database session of its own, held at a pause point (with its
    rows written and not committed) until released."""

    def __init__(self, business: Business, write: Callable[[], T]) -> None:
        self.written, self.released = threading.Event(), threading.Event()
        self.results: list[T] = []
        self.thread = threading.Thread(target=self._run, args=(business, write), daemon=True)

    def pause(self) -> None:
        self.written.set()
        assert self.released.wait(BARRIER_TIMEOUT)

    def _run(self, business: Business, write: Callable[[], T]) -> None:
        try:
            with business_scope(business):
                self.results.append(write())
        finally:
            connection.close()


class _Refresh:
    """A refresh of the rollups in a thread and database session of its own."""

    def __init__(self, business: Business) -> None:
        self.pid = 0
        self.refreshed: list[bool] = []
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(business,), daemon=True)

    def start(self) -> int:
        """Start it; returns its session's process id."""
        self.thread.start()
        assert self.started.wait(BARRIER_TIMEOUT)
        return self.pid

    def _run(self, business: Business) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.pid = cursor.fetchone()[0]
            self.started.set()
            self.refreshed.append(_refresh(business))
        finally:
            connection.close()


def _race(business: Business, pause_at: str, write: Callable[[], T]) -> tuple[T, Payment, bool]:
    """`write` runs in a thread and pauses at `pause_at` with its rows written and not
    committed; a card payment commits; a refresh starts and runs until it finishes or waits for
    a lock; then the writer goes on. Returns what `write` returned, the card payment, and
    whether the refresh went ahead (False: it skipped a round)."""
    _refresh(business)  # the watermarks exist and sit at the start
    writer, refresh = _Paused(business, write), _Refresh(business)
    with installed_pause(pause_at, writer.pause):
        writer.thread.start()
        try:
            assert writer.written.wait(BARRIER_TIMEOUT)
            card = _card_payment(business)
            yield_to(refresh.thread, refresh.start())
        finally:
            writer.released.set()  # never leave the writer holding its locks
        writer.thread.join(BARRIER_TIMEOUT)
    refresh.thread.join(BARRIER_TIMEOUT)
    assert not writer.thread.is_alive()
    assert not refresh.thread.is_alive()
    assert len(writer.results) == 1
    assert len(refresh.refreshed) == 1
    assert _refresh(business)  # what the first refresh missed, a later one does not find
    return writer.results[0], card, refresh.refreshed[0]


def yield_to(refreshing: threading.Thread, pid: int) -> None:
    """Until the refresh has finished, or its session waits for a lock (held by the import)."""
    deadline = time.monotonic() + BARRIER_TIMEOUT
    while refreshing.is_alive() and not _waits_for_a_lock(pid):
        assert time.monotonic() < deadline, "the refresh neither finished nor waited"
        time.sleep(0.01)


def test_a_refresh_during_an_import_skips_its_round_and_the_next_counts_its_payments(
    business: Business,
) -> None:
    # Landed in one transaction (in_one_pass), the import holds the business's shared ledger
    # lock: the dashboard's refresh gives up after a second instead of waiting for the whole
    # import, and the refresh after the commit reads it.
    run, _, refreshed = _race(business, "import.landed", lambda: _import(business))
    assert (services.in_one_pass(run), run.state, run.imported) == (True, RunState.DONE, 2)
    assert refreshed is False
    # 100.00 + 50.00 imported, 25.00 at the till.
    assert _dashboard_gross(business) == 10000 + 5000 + 2500
    assert _cohort_revenue(business) == 10000 + 5000 + 2500


def test_a_refresh_during_an_import_checked_first_waits_for_it_and_counts_its_payments(
    business: Business, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Checked whole, then landed in batches (SQLite; a dry run; an ad report; a day-first
    # file read again): each batch's transaction holds the watermarks, and the refresh waits.
    monkeypatch.setattr(services, "in_one_pass", lambda run: False)
    run, _, refreshed = _race(business, "import.landed", lambda: _import(business))
    assert (run.state, run.imported, refreshed) == (RunState.DONE, 2, True)
    assert _dashboard_gross(business) == 10000 + 5000 + 2500
    assert _cohort_revenue(business) == 10000 + 5000 + 2500


def test_negative_control_without_the_hold_the_import_is_lost(
    business: Business, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "rollups_hold", lambda *, business, patience=None: True)
    monkeypatch.setattr(services, "ledger_insert_lock", lambda *, business_id: None)
    run, _, refreshed = _race(business, "import.landed", lambda: _import(business))
    assert (run.state, run.imported, refreshed) == (RunState.DONE, 2, True)
    # The refresh read the till's payment (a higher id) and moved past the import's.
    assert _dashboard_gross(business) == 2500
    assert _cohort_revenue(business) == 2500
    with unscoped():
        assert Payment.objects.filter(business=business).count() == 3


def test_the_hold_alone_keeps_a_refresh_from_losing_an_import_landed_at_once(
    business: Business, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the shared ledger lock the refresh goes ahead, meets the held watermarks and
    # waits for the commit: slower for the dashboard, but nothing is lost.
    monkeypatch.setattr(services, "ledger_insert_lock", lambda *, business_id: None)
    run, _, refreshed = _race(business, "import.landed", lambda: _import(business))
    assert (run.state, run.imported, refreshed) == (RunState.DONE, 2, True)
    assert _dashboard_gross(business) == 10000 + 5000 + 2500
    assert _cohort_revenue(business) == 10000 + 5000 + 2500


def test_negative_control_without_holding_the_customer_values_the_cohorts_lose_the_import(
    business: Business, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tillbook.insights.models import RollupWatermark
    from tillbook.insights.rollups import DAILY, FIRSTS

    def hold_all_but_the_values(*, business: Business, patience: str | None = None) -> bool:
        for name in (FIRSTS, DAILY):
            RollupWatermark.objects.get_or_create(business=business, name=name)
        list(
            RollupWatermark.objects.select_for_update()
            .filter(business=business, name__in=(FIRSTS, DAILY))
            .order_by("name")
        )
        return True

    monkeypatch.setattr(services, "rollups_hold", hold_all_but_the_values)
    monkeypatch.setattr(services, "ledger_insert_lock", lambda *, business_id: None)
    run, _, refreshed = _race(business, "import.landed", lambda: _import(business))
    assert (run.state, run.imported, refreshed) == (RunState.DONE, 2, True)
    assert _dashboard_gross(business) == 10000 + 5000 + 2500
    assert _cohort_revenue(business) == 2500  # the values moved past the import's payments


# Staff record cash for a request while the till takes a card ------------------------------


def _cash_recorder(business: Business, owner: User) -> Callable[[], Payment]:
    """Staff record 40.00 in cash for a payment request (the payment is written, then
    confirmed: the pause point payment_confirm.locked lies between)."""
    with business_scope(business):
        request = payment_request_create(
            business=business, purpose="test", title="Session", amount=Money(4000, "USD")
        )

    def record() -> Payment:
        return manual_payment_record(
            request=request, amount=Money(4000, "USD"), method="cash", note="", actor=owner
        )

    return record


def _cash_race(business: Business, owner: User) -> tuple[Payment, bool]:
    """The cash payment is written and not committed when the card payment commits with a
    higher id and the refresh starts."""
    cash, card, refreshed = _race(
        business, "payment_confirm.locked", _cash_recorder(business, owner)
    )
    assert cash.pk < card.pk  # the case that needs the lock: the lower id commits last
    return cash, refreshed


def test_a_refresh_skips_a_round_rather_than_pass_a_payment_being_written(
    business: Business, owner: User, purpose: RecordingPurpose
) -> None:
    cash, refreshed = _cash_race(business, owner)
    assert (cash.state, refreshed) == (PaymentState.SUCCEEDED, False)
    # 40.00 in cash, 25.00 at the till.
    assert _dashboard_gross(business) == 4000 + 2500


def test_negative_control_without_the_ledger_lock_the_payment_is_lost(
    business: Business, owner: User, purpose: RecordingPurpose, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(payment_models, "ledger_insert_lock", lambda *, business_id: None)
    cash, refreshed = _cash_race(business, owner)
    assert (cash.state, refreshed) == (PaymentState.SUCCEEDED, True)
    # The refresh read the till's payment (a higher id) and moved past the cash payment's.
    assert _dashboard_gross(business) == 2500
    with unscoped():
        assert Payment.objects.filter(business=business, state=PaymentState.SUCCEEDED).count() == 2


# A refresh kept out by a payment being written holds up no checkout --------------------


def _checkout_while_a_refresh_is_kept_out(
    business: Business, owner: User, kept_out: Callable[[int], None]
) -> Exception | None:
    """Cash is being recorded (written, not committed) and a refresh wants the exclusive ledger
    lock; `kept_out(pid)` returns once the refresh session `pid` is kept out. Then a checkout
    writes a payment, waiting at most two seconds for a lock. Returns its error, if any."""
    _refresh(business)
    writer, refresh = _Paused(business, _cash_recorder(business, owner)), _Refresh(business)
    error: Exception | None = None
    with installed_pause("payment_confirm.locked", writer.pause):
        writer.thread.start()
        try:
            assert writer.written.wait(BARRIER_TIMEOUT)
            kept_out(refresh.start())
            try:
                with business_scope(business), transaction.atomic():
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL lock_timeout = '2s'")
                    Payment.objects.create(
                        business=business,
                        provider="stripe",
                        currency="USD",
                        amount=2500,
                        provider_reference="pi_checkout",
                    )
            except OperationalError as raised:
                error = raised
        finally:
            writer.released.set()
        writer.thread.join(BARRIER_TIMEOUT)
        refresh.thread.join(BARRIER_TIMEOUT)
    assert not writer.thread.is_alive()
    assert not refresh.thread.is_alive()
    return error


def test_a_refresh_kept_out_by_a_payment_being_written_holds_up_no_checkout(
    business: Business, owner: User, purpose: RecordingPurpose, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_lock, "PATIENCE", BARRIER_TIMEOUT)  # it keeps trying meanwhile
    busy = threading.Event()

    def kept_out(pid: int) -> None:
        assert busy.wait(BARRIER_TIMEOUT)

    with installed_pause("ledger_lock.busy", busy.set):
        error = _checkout_while_a_refresh_is_kept_out(business, owner, kept_out)
    assert error is None
    with unscoped():
        assert Payment.objects.filter(provider_reference="pi_checkout").count() == 1


def test_negative_control_a_refresh_queued_for_the_lock_holds_up_checkouts(
    business: Business, owner: User, purpose: RecordingPurpose, monkeypatch: pytest.MonkeyPatch
) -> None:
    def queue_for_it(key: list[int], patience: float) -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", key)
        return True

    monkeypatch.setattr(ledger_lock, "_try_lock", queue_for_it)
    error = _checkout_while_a_refresh_is_kept_out(business, owner, _until_waiting)
    assert isinstance(error, OperationalError)
    assert "lock timeout" in str(error)
    with unscoped():
        assert Payment.objects.filter(provider_reference="pi_checkout").count() == 0


def _until_waiting(pid: int) -> None:
    deadline = time.monotonic() + BARRIER_TIMEOUT
    while not _waits_for_a_lock(pid):
        assert time.monotonic() < deadline, "the refresh never queued for the lock"
        time.sleep(0.01)
