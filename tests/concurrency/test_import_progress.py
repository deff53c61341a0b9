"""An import landed in one transaction shows its progress while that transaction is open.

On PostgreSQL a ledger file is checked and landed in one pass, inside one transaction rolled
back at its first problem (imports/services.py, in_one_pass). The back office's progress bar
reads the run's row from another session, so the progress is written through a connection of
the import's own (imports/streamed.py, SideProgress). Here the import pauses in its second
batch, with the first landed and uncommitted: another session sees the progress and none of
the rows. The negative control writes the progress through the import's own connection, as
every other save of the run does: the other session then sees nothing move.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction

from tillbook.core.hooks import installed_pause
from tillbook.core.models import Business
from tillbook.core.scoping import business_scope, unscoped
from tillbook.imports import landing, streamed
from tillbook.imports.models import ImportRun, RunState
from tillbook.imports.services import import_run_create, import_run_execute, in_one_pass
from tillbook.imports.source import ImportSource
from tillbook.insights.rollups import rollups_hold
from tillbook.payments.models import BalanceTransaction, Payment

from .race import BARRIER_TIMEOUT, postgresql_only

pytestmark = [postgresql_only, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BALANCE = "id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Transfer\n" + "".join(
    f"txn_{n},charge,ch_{n},12.00,0.65,11.35,usd,2026-09-01 10:0{n},po_1\n" for n in range(7)
)


class _Import:
    """The import in a thread and session of its own, held in its second batch."""

    def __init__(self, business: Business) -> None:
        self.business = business
        self.paused, self.released = threading.Event(), threading.Event()
        self.calls = 0
        self.runs: list[ImportRun] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def pause(self) -> None:
        self.calls += 1
        if self.calls == 2:  # the first batch landed, the second checked
            self.paused.set()
            assert self.released.wait(BARRIER_TIMEOUT)

    def _run(self) -> None:
        try:
            with business_scope(self.business):
                run = import_run_create(
                    business=self.business, actor=None, file_name="balance.csv", enqueue=False
                )
                source = ImportSource.from_bytes(BALANCE.encode(), "balance.csv")
                self.runs.append(import_run_execute(run=run, source=source))
        finally:
            connection.close()


def _seen_while_paused(business: Business) -> tuple[Any, ...]:
    """What another session sees of the run and the ledger while the import is paused."""
    importing = _Import(business)
    with installed_pause("ledger_land.checked", importing.pause):
        importing.thread.start()
        try:
            assert importing.paused.wait(BARRIER_TIMEOUT)
            with unscoped():
                run = ImportRun.objects.get(business=business)
                seen = (
                    run.state,
                    run.rows_done,
                    run.bytes_read > 0,
                    run.bytes_total,
                    run.percent > 0,
                    Payment.objects.filter(business=business).count(),
                )
        finally:
            importing.released.set()
        importing.thread.join(BARRIER_TIMEOUT)
    assert not importing.thread.is_alive()
    (finished,) = importing.runs
    assert (in_one_pass(finished), finished.state, finished.imported) == (True, RunState.DONE, 7)
    with unscoped():
        assert BalanceTransaction.objects.filter(business=business).count() == 7
    return seen


def test_the_progress_of_an_import_landed_at_once_is_seen_before_its_commit(
    business: Business, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(landing, "BATCH", 3)
    assert _seen_while_paused(business) == (
        RunState.IMPORTING,
        3,  # the first batch, landed and not committed
        True,
        len(BALANCE),
        True,
        0,  # none of its payments is seen before the commit
    )


def test_negative_control_progress_written_in_the_import_s_transaction_is_not_seen(
    business: Business, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(landing, "BATCH", 3)

    def in_the_transaction(self: streamed.SideProgress, **progress: int) -> None:
        run = self._run
        run.rows_read, run.rows_done = progress["rows_read"], progress["rows_done"]
        run.bytes_read = progress["characters"]
        run.save(update_fields=["state", "rows_read", "rows_done", "bytes_read", "bytes_total"])

    monkeypatch.setattr(streamed.SideProgress, "write", in_the_transaction)
    assert _seen_while_paused(business) == (RunState.CHECKING, 0, False, 0, False, 0)


def test_an_import_run_inside_a_transaction_that_holds_its_run_does_not_wait_for_itself(
    business: Business,
) -> None:
    # A caller that changed the run in a transaction of its own and imports in it: the
    # progress connection must not wait for that row (the import would wait for it for ever).
    with business_scope(business):
        run = import_run_create(
            business=business, actor=None, file_name="balance.csv", enqueue=False
        )
    finished: list[ImportRun] = []

    def importing() -> None:
        try:
            with business_scope(business), transaction.atomic():
                ImportRun.objects.filter(pk=run.pk).update(file_name="balance (again).csv")
                source = ImportSource.from_bytes(BALANCE.encode(), "balance.csv")
                finished.append(import_run_execute(run=run, source=source))
        finally:
            connection.close()

    thread = threading.Thread(target=importing, daemon=True)
    thread.start()
    thread.join(BARRIER_TIMEOUT)
    assert not thread.is_alive(), "the import waited for its own run's row"
    assert (finished[0].state, finished[0].imported) == (RunState.DONE, 7)
    with unscoped():
        assert ImportRun.objects.get(pk=run.pk).state == RunState.DONE
        assert BalanceTransaction.objects.filter(business=business).count() == 7


@pytest.mark.parametrize("error", [RuntimeError("the refresh failed"), KeyboardInterrupt()])
def test_an_error_after_the_commit_does_not_say_a_committed_import_imported_nothing(
    business: Business, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    # The import's rows are committed; the dashboard's refresh after it fails (or Ctrl-C
    # arrives then). The run must not turn into "nothing was imported" with its rows all there.
    from tillbook.imports import services

    def refresh(*, business: Business) -> bool:
        raise error

    monkeypatch.setattr(services, "rollups_refresh", refresh)
    with business_scope(business):
        run = import_run_create(
            business=business, actor=None, file_name="balance.csv", enqueue=False
        )
        source = ImportSource.from_bytes(BALANCE.encode(), "balance.csv")
        with pytest.raises(type(error)):
            import_run_execute(run=run, source=source)
    with unscoped():
        assert BalanceTransaction.objects.filter(business=business).count() == 7
        run.refresh_from_db()
    assert (run.state, run.imported, run.rows_done) == (RunState.DONE, 7, 7)
    assert run.message.startswith("Imported 7 of 7 rows")


def test_an_import_whose_progress_cannot_be_written_still_lands(
    business: Business, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second connection refused (the server's connection limit reached): only the bar
    depends on it, so the import goes on instead of rolling back with "nothing imported"."""
    from django.db import OperationalError

    tried = []

    def refused(self: streamed.SideProgress, **progress: int) -> None:
        tried.append(progress["rows_done"])
        raise OperationalError("sorry, too many clients already")

    monkeypatch.setattr(landing, "BATCH", 3)
    monkeypatch.setattr(streamed.SideProgress, "_write", refused)
    with business_scope(business):
        run = import_run_create(
            business=business, actor=None, file_name="balance.csv", enqueue=False
        )
        source = ImportSource.from_bytes(BALANCE.encode(), "balance.csv")
        finished = import_run_execute(run=run, source=source)
    assert (finished.state, finished.imported, finished.rows_done) == (RunState.DONE, 7, 7)
    assert tried == [3]  # tried once, then left alone
    with unscoped():
        assert BalanceTransaction.objects.filter(business=business).count() == 7


class _AnalyseHolder:
    """Another import's transaction that has analysed the ledger's tables and not committed."""

    def __init__(self) -> None:
        self.holding, self.release = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {Payment._meta.db_table}")
                self.holding.set()
                assert self.release.wait(BARRIER_TIMEOUT)
        finally:
            connection.close()


def _refresh_in_a_thread() -> tuple[threading.Thread, list[bool]]:
    refreshed: list[bool] = []

    def run() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:  # its import's transaction
                refreshed.append(landing.statistics_refresh())
                cursor.execute("SELECT 1")  # and that transaction is still usable
                refreshed.append(cursor.fetchone() == (1,))
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, refreshed


def test_an_import_does_not_wait_for_another_import_s_statistics_lock() -> None:
    holder = _AnalyseHolder()
    holder.thread.start()
    try:
        assert holder.holding.wait(BARRIER_TIMEOUT)
        thread, refreshed = _refresh_in_a_thread()
        thread.join(BARRIER_TIMEOUT)
        assert not thread.is_alive()
        assert refreshed == [False, True]  # went on with the statistics it had
    finally:
        holder.release.set()
        holder.thread.join(BARRIER_TIMEOUT)
    thread, refreshed = _refresh_in_a_thread()
    thread.join(BARRIER_TIMEOUT)
    assert refreshed == [True, True]  # once the other committed


def test_negative_control_without_the_lock_timeout_an_import_waits_for_the_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(landing, "STATISTICS_PATIENCE", "0")  # PostgreSQL: wait for ever
    holder = _AnalyseHolder()
    holder.thread.start()
    try:
        assert holder.holding.wait(BARRIER_TIMEOUT)
        thread, refreshed = _refresh_in_a_thread()
        thread.join(3)
        assert thread.is_alive()  # stalled behind the other import
    finally:
        holder.release.set()
        holder.thread.join(BARRIER_TIMEOUT)
    thread.join(BARRIER_TIMEOUT)
    assert refreshed == [True, True]


class _RollupsHolder:
    """Another import of the business in its transaction: it holds the rollups to its commit."""

    def __init__(self, business: Business) -> None:
        self.business = business
        self.holding, self.release = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            with business_scope(self.business), transaction.atomic():
                rollups_hold(business=self.business)
                self.holding.set()
                assert self.release.wait(BARRIER_TIMEOUT)
        finally:
            connection.close()


def _seen_while_another_import_holds(
    business: Business, *, waits: int | None = None
) -> list[tuple[str, str, int]]:
    """(state, message, payments) of the run each time another session sees it change while
    another import holds the business's rollups: for a second and a bit, or until it said
    `waits` times that it waits (at most BARRIER_TIMEOUT); then that import ends."""
    from tillbook.imports.services import WAITING

    holder = _RollupsHolder(business)
    holder.thread.start()
    assert holder.holding.wait(BARRIER_TIMEOUT)
    importing = _Import(business)
    importing.thread.start()
    seen: list[tuple[str, str, int]] = []
    try:
        stamps: set[object] = set()
        deadline = time.monotonic() + (1.2 if waits is None else BARRIER_TIMEOUT)
        while time.monotonic() < deadline:
            if waits is not None and sum(entry[1] == WAITING for entry in seen) >= waits:
                break
            with unscoped():
                run = ImportRun.objects.filter(business=business).first()
                if run is not None and run.updated_at not in stamps:
                    stamps.add(run.updated_at)
                    payments = Payment.objects.filter(business=business).count()
                    seen.append((run.state, run.message, payments))
            time.sleep(0.02)
    finally:
        holder.release.set()
    holder.thread.join(BARRIER_TIMEOUT)
    importing.thread.join(BARRIER_TIMEOUT)
    assert not importing.thread.is_alive()
    (finished,) = importing.runs
    assert (finished.state, finished.imported, finished.message) == (
        RunState.DONE,
        7,
        "Imported 7 of 7 rows; 0 already known, 0 skipped.",
    )
    return seen


BEFORE_WAITING = {  # what the run's page may show before it waits
    (RunState.QUEUED, "", 0),
    (RunState.CHECKING, "", 0),
    (RunState.IMPORTING, "", 0),  # checked first (not in one pass): landing begins
}


@pytest.mark.parametrize("one_pass", [True, False], ids=["in one pass", "checked first"])
def test_an_import_waiting_for_another_import_of_its_business_says_so_and_keeps_alive(
    business: Business, monkeypatch: pytest.MonkeyPatch, one_pass: bool
) -> None:
    from tillbook.imports import services

    monkeypatch.setattr(services, "WAIT_TURN", "100ms")
    monkeypatch.setattr(services, "in_one_pass", lambda run: one_pass)
    seen = _seen_while_another_import_holds(business, waits=5)
    waiting = (RunState.IMPORTING, services.WAITING, 0)
    # Created, then checking, then a sign of life every 100 ms while it waits: its page says
    # why it waits, and never takes it for stopped (a run unchanged for 15 minutes).
    first = seen.index(waiting)
    assert set(seen[:first]) <= BEFORE_WAITING
    assert set(seen[first:]) == {waiting}
    assert len(seen[first:]) >= 5
    with unscoped():
        assert BalanceTransaction.objects.filter(business=business).count() == 7
        assert ImportRun.objects.get(business=business).message.startswith("Imported 7 of 7")


@pytest.mark.parametrize("one_pass", [True, False], ids=["in one pass", "checked first"])
def test_negative_control_an_import_that_waits_without_patience_shows_no_sign_of_life(
    business: Business, monkeypatch: pytest.MonkeyPatch, one_pass: bool
) -> None:
    from tillbook.imports import services

    def hold_for_as_long_as_it_takes(*, business: Business, patience: str | None = None) -> bool:
        return rollups_hold(business=business)

    monkeypatch.setattr(services, "WAIT_TURN", "100ms")
    monkeypatch.setattr(services, "in_one_pass", lambda run: one_pass)
    monkeypatch.setattr(services, "rollups_hold", hold_for_as_long_as_it_takes)
    # Its row stays as it was when it began to wait: after 15 minutes of another import, its
    # page says it stopped.
    seen = _seen_while_another_import_holds(business)
    assert seen[-1] == ((RunState.CHECKING if one_pass else RunState.IMPORTING), "", 0)
    assert set(seen) <= BEFORE_WAITING


def test_a_hold_given_up_leaves_the_transaction_usable_and_one_taken_keeps_its_lock_timeout(
    business: Business,
) -> None:
    holder = _RollupsHolder(business)
    holder.thread.start()
    assert holder.holding.wait(BARRIER_TIMEOUT)
    try:
        with business_scope(business), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '7s'")
            assert rollups_hold(business=business, patience="50ms") is False
            cursor.execute("SHOW lock_timeout")
            assert cursor.fetchone() == ("7s",)
    finally:
        holder.release.set()
    holder.thread.join(BARRIER_TIMEOUT)
    with business_scope(business), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '7s'")
        assert rollups_hold(business=business, patience="50ms") is True
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone() == ("7s",)


def test_a_hold_that_fails_for_another_reason_than_waiting_is_not_tried_again(
    business: Business, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lost connection is not "another import holds the rollups": the import would say it
    waits, and try again, for ever."""
    from django.db import OperationalError

    from tillbook.insights import rollups

    def lost(business: Business) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(rollups, "_watermarks_lock", lost)
    with (
        business_scope(business),
        transaction.atomic(),
        pytest.raises(OperationalError, match="server closed the connection"),
    ):
        rollups_hold(business=business, patience="50ms")


def test_a_damaged_file_s_progress_follows_its_reading_past_the_first_problem(
    business: Business, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing lands after a file's first problem, but the rest is read for the report: the
    bar goes on moving with the reading (a large damaged file looked stopped otherwise)."""
    from tillbook.imports import services

    written: list[tuple[int, int]] = []

    def recorded(self: streamed.SideProgress, **progress: int) -> None:
        written.append((progress["rows_read"], progress["rows_done"]))

    monkeypatch.setattr(landing, "BATCH", 3)
    monkeypatch.setattr(services, "PROGRESS_EVERY", 0.0001)
    monkeypatch.setattr(streamed.SideProgress, "_write", recorded)
    line = "txn_{0},charge,ch_{0},{1},0.65,11.35,usd,2026-09-01 10:00,po_1\n"
    rest = "".join(line.format(n, "12.00") for n in range(7, 30_000))
    damaged = BALANCE + line.format("x", "twelve") + rest
    with business_scope(business):
        run = import_run_create(
            business=business, actor=None, file_name="balance.csv", enqueue=False
        )
        finished = import_run_execute(
            run=run, source=ImportSource.from_bytes(damaged.encode(), "balance.csv")
        )
    assert (finished.state, finished.imported, finished.problem_total) == (RunState.FAILED, 0, 1)
    with unscoped():
        assert BalanceTransaction.objects.filter(business=business).count() == 0
    # Written once the reading was past the damaged row (the 8th) and the row after it.
    past = [(read, done) for read, done in written if read > 9]
    # Far more than the two batches read before the problem could give: the reading's ticks.
    assert len(past) >= 10
    assert [read for read, _ in past] == sorted(read for read, _ in past)
    # What landed before the problem was seen (none, one or two batches), then nothing.
    assert len({done for _, done in past}) == 1
    assert past[0][1] in (0, 3, 6)


def test_a_run_that_waited_says_so_no_more_once_its_turn_comes(
    business: Business, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tillbook.imports import services

    answers = iter([False, False, True])
    monkeypatch.setattr(services, "rollups_hold", lambda **kwargs: next(answers))
    written: list[str] = []

    class Recorded(streamed.SideProgress):
        def _write(self, **progress: int) -> None:
            written.append(self._run.message)

    run = ImportRun(business=business, state=RunState.IMPORTING)
    services._rollups_hold_waiting(run, Recorded(run))
    # Twice "waiting", then its progress with no message: the page shows the bar again at
    # once, not only after the first batch lands (or, checked first, after 50,000 rows).
    assert written == [services.WAITING, services.WAITING, ""]
    assert run.message == ""


def test_the_bar_s_writes_do_not_wait_for_the_disk_and_the_import_s_own_still_do(
    business: Business,
) -> None:
    with business_scope(business):
        run = import_run_create(
            business=business, actor=None, file_name="balance.csv", enqueue=False
        )
    side = streamed.SideProgress(run)
    try:
        side.write(rows_read=2, rows_done=1, characters=10)
        with side._connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone() == ("off",)
    finally:
        side.close()
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("on",)
    with unscoped():
        assert ImportRun.objects.values_list("rows_read", "rows_done").get(pk=run.pk) == (2, 1)
