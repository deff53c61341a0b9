"""A payment commits after a card payment with a higher id has committed, and the dashboard
refreshes its rollups in between: the rollups must still count it.

The rollups read rows above a watermark id. An import holds the watermarks while it writes
(rollups_hold), so the refresh waits for its commit and then reads its rows. A payment written
one at a time (staff recording cash) holds its business's shared ledger lock until it commits,
and the refresh reads the highest ids under the exclusive one (payments/ledger_lock.py). The
negative controls take the hold or the lock away: the refresh moves the watermark past the
uncommitted ids, and those payments are missing from the dashboard for good.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import pytest
from django.db import connection
from django.db.models import Sum

from tillbook.core.hooks import installed_pause
from tillbook.core.models import Business, User
from tillbook.core.money import Money
from tillbook.core.scoping import business_scope, unscoped
from tillbook.imports import services
from tillbook.imports.models import ImportRun, RunState
from tillbook.imports.services import import_run_create, import_run_execute
from tillbook.imports.source import ImportSource
from tillbook.insights.models import DailyLedger
from tillbook.insights.rollups import rollups_refresh
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
    "id,Created date (UTC),Amount,Amount Refunded,Currency,Status,Fee\n"
    "ch_1,2026-10-01 15:00:00,100.00,0.00,usd,Paid,3.20\n"
    "ch_2,2026-10-01 16:00:00,50.00,0.00,usd,Paid,1.75\n"
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
            created_at=datetime(2026, 10, 1, 17, 0, tzinfo=UTC),
            succeeded_at=datetime(2026, 10, 1, 17, 0, tzinfo=UTC),
        )


def _refresh(business: Business) -> None:
    with business_scope(business):
        rollups_refresh(business=business)


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


def _race(business: Business, pause_at: str, write: Callable[[], T]) -> tuple[T, Payment]:
    """`write` runs in a thread and pauses at `pause_at` with its rows written and not
    committed; a card payment commits; a refresh starts and runs until it finishes or waits for
    a lock; then the writer goes on. Returns what `write` returned and the card payment."""
    _refresh(business)  # the watermarks exist and sit at the start
    written, release = threading.Event(), threading.Event()

    def pause() -> None:
        written.set()
        assert release.wait(BARRIER_TIMEOUT)

    results: list[T] = []

    def writer() -> None:
        try:
            with business_scope(business):
                results.append(write())
        finally:
            connection.close()

    pids: list[int] = []
    started = threading.Event()

    def refresher() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pids.append(cursor.fetchone()[0])
            started.set()
            _refresh(business)
        finally:
            connection.close()

    with installed_pause(pause_at, pause):
        writing = threading.Thread(target=writer, daemon=True)
        writing.start()
        try:
            assert written.wait(BARRIER_TIMEOUT)
            card = _card_payment(business)
            refreshing = threading.Thread(target=refresher, daemon=True)
            refreshing.start()
            assert started.wait(BARRIER_TIMEOUT)
            yield_to(refreshing, pids[0])
        finally:
            release.set()  # never leave the writer holding its locks
        writing.join(BARRIER_TIMEOUT)
    refreshing.join(BARRIER_TIMEOUT)
    assert not writing.is_alive()
    assert not refreshing.is_alive()
    assert len(results) == 1
    _refresh(business)  # what the first refresh missed, a later one does not find either
    return results[0], card


def yield_to(refreshing: threading.Thread, pid: int) -> None:
    """Until the refresh has finished, or its session waits for a lock (held by the import)."""
    deadline = time.monotonic() + BARRIER_TIMEOUT
    while refreshing.is_alive() and not _waits_for_a_lock(pid):
        assert time.monotonic() < deadline, "the refresh neither finished nor waited"
        time.sleep(0.01)


def test_a_refresh_during_an_import_waits_for_it_and_counts_its_payments(
    business: Business,
) -> None:
    run, _ = _race(business, "import.landed", lambda: _import(business))
    assert (run.state, run.imported) == (RunState.DONE, 2)
    # 100.00 + 50.00 imported, 25.00 at the till.
    assert _dashboard_gross(business) == 10000 + 5000 + 2500


def test_negative_control_without_the_hold_the_import_is_lost(
    business: Business, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "rollups_hold", lambda *, business: None)
    run, _ = _race(business, "import.landed", lambda: _import(business))
    assert (run.state, run.imported) == (RunState.DONE, 2)
    # The refresh read the till's payment (a higher id) and moved past the import's.
    assert _dashboard_gross(business) == 2500
    with unscoped():
        assert Payment.objects.filter(business=business).count() == 3


# Staff record cash for a request while the till takes a card ------------------------------


def _cash_race(business: Business, owner: User) -> Payment:
    """Staff record a cash payment; it is written and not committed (paused in payment_confirm)
    when the card payment commits with a higher id and the refresh starts."""
    with business_scope(business):
        request = payment_request_create(
            business=business, purpose="test", title="Session", amount=Money(4000, "USD")
        )

    def record() -> Payment:
        return manual_payment_record(
            request=request, amount=Money(4000, "USD"), method="cash", note="", actor=owner
        )

    cash, card = _race(business, "payment_confirm.locked", record)
    assert cash.pk < card.pk  # the case that needs the lock: the lower id commits last
    return cash


def test_a_refresh_waits_for_a_payment_being_written_and_counts_it(
    business: Business, owner: User, purpose: RecordingPurpose
) -> None:
    cash = _cash_race(business, owner)
    assert cash.state == PaymentState.SUCCEEDED
    # 40.00 in cash, 25.00 at the till.
    assert _dashboard_gross(business) == 4000 + 2500


def test_negative_control_without_the_ledger_lock_the_payment_is_lost(
    business: Business, owner: User, purpose: RecordingPurpose, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(payment_models, "ledger_insert_lock", lambda *, business_id: None)
    cash = _cash_race(business, owner)
    assert cash.state == PaymentState.SUCCEEDED
    # The refresh read the till's payment (a higher id) and moved past the cash payment's.
    assert _dashboard_gross(business) == 2500
    with unscoped():
        assert Payment.objects.filter(business=business, state=PaymentState.SUCCEEDED).count() == 2
