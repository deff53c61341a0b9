"""An import commits its payments after a card payment with a higher id has committed, and the
dashboard refreshes its rollups in between: the rollups must still count the import.

The rollups read rows above a watermark id. The import holds the watermarks while it writes
(rollups_hold), so the refresh waits for its commit and then reads its rows. The negative
control takes the hold away: the refresh moves the watermark past the import's uncommitted
ids, and the import's payments are missing from the dashboard for good.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.models import Sum

from tillbook.core.hooks import installed_pause
from tillbook.core.models import Business
from tillbook.core.scoping import business_scope, unscoped
from tillbook.imports import services
from tillbook.imports.models import ImportRun, RunState
from tillbook.imports.services import import_run_create, import_run_execute
from tillbook.imports.source import ImportSource
from tillbook.insights.models import DailyLedger
from tillbook.insights.rollups import rollups_refresh
from tillbook.payments.models import Payment, PaymentState, Source

from .race import BARRIER_TIMEOUT, postgresql_only

pytestmark = [postgresql_only, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# A payments export: payments only, no balance lines (lines of the same day would make the
# rollups read the day again and hide the loss).
PAYMENTS = (
    "id,Created date (UTC),Amount,Amount Refunded,Currency,Status,Fee\n"
    "ch_1,2026-10-01 15:00:00,100.00,0.00,usd,Paid,3.20\n"
    "ch_2,2026-10-01 16:00:00,50.00,0.00,usd,Paid,1.75\n"
)


def _import(business: Business) -> ImportRun:
    with business_scope(business):
        run = import_run_create(
            business=business, actor=None, file_name="payments.csv", enqueue=False
        )
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


def _race(business: Business) -> list[ImportRun]:
    """The import pauses with its rows written and not committed; a card payment commits; a
    refresh starts; then the import goes on. Returns the import's run."""
    _refresh(business)  # the watermarks exist and sit at the start
    landed, release = threading.Event(), threading.Event()

    def pause() -> None:
        landed.set()
        assert release.wait(BARRIER_TIMEOUT)

    runs: list[ImportRun] = []

    def importer() -> None:
        try:
            runs.append(_import(business))
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

    with installed_pause("import.landed", pause):
        importing = threading.Thread(target=importer, daemon=True)
        importing.start()
        try:
            assert landed.wait(BARRIER_TIMEOUT)
            _card_payment(business)
            refreshing = threading.Thread(target=refresher, daemon=True)
            refreshing.start()
            assert started.wait(BARRIER_TIMEOUT)
            yield_to(refreshing, pids[0])
        finally:
            release.set()  # never leave the import holding its locks
        importing.join(BARRIER_TIMEOUT)
    refreshing.join(BARRIER_TIMEOUT)
    assert not importing.is_alive()
    assert not refreshing.is_alive()
    return runs


def yield_to(refreshing: threading.Thread, pid: int) -> None:
    """Until the refresh has finished, or its session waits for a lock (held by the import)."""
    deadline = time.monotonic() + BARRIER_TIMEOUT
    while refreshing.is_alive() and not _waits_for_a_lock(pid):
        assert time.monotonic() < deadline, "the refresh neither finished nor waited"
        time.sleep(0.01)


def test_a_refresh_during_an_import_waits_for_it_and_counts_its_payments(
    business: Business,
) -> None:
    runs = _race(business)
    assert [(run.state, run.imported) for run in runs] == [(RunState.DONE, 2)]
    # 100.00 + 50.00 imported, 25.00 at the till.
    assert _dashboard_gross(business) == 10000 + 5000 + 2500


def test_negative_control_without_the_hold_the_import_is_lost(
    business: Business, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "rollups_hold", lambda *, business: None)
    runs = _race(business)
    assert [(run.state, run.imported) for run in runs] == [(RunState.DONE, 2)]
    # The refresh read the till's payment (a higher id) and moved past the import's.
    assert _dashboard_gross(business) == 2500
    with unscoped():
        assert Payment.objects.filter(business=business).count() == 3
