"""Import runs: create one for a file, and carry it out (as a task, or inline for the CLI).

A file with any problem writes nothing, and the run lists every problem with its line number.
On PostgreSQL a processor's file is checked and landed in one pass, in one transaction rolled
back at the first problem (in_one_pass). Otherwise a run first checks the whole file without
writing, keeping the records it read in a spool on disk, then lands them in batches; every few
batches commit with the run's progress (50,000 rows), so the back office can show a progress
bar. Either way a run interrupted half-way is simply run again, since landing is deduplicated
by the processors' own ids.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, closing
from datetime import date
from itertools import chain, islice
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from tillbook.core.audit import audit_record
from tillbook.core.errors import InvalidInput
from tillbook.core.hooks import pause_point
from tillbook.core.models import Business, User
from tillbook.core.tasks import enqueue_on_commit
from tillbook.imports import landing
from tillbook.imports.ad_landing import AdCounts, ad_land_batch, ad_landing_lock
from tillbook.imports.base import readers
from tillbook.imports.dates import DateOrder
from tillbook.imports.landing import (
    SUMMARY_SUFFIX,
    LandingCounts,
    batches,
    index_lookups_preferred,
    large_page_cache,
    ledger_land_batch,
    payouts_settle,
    refunds_link_late,
    statistics_refresh,
)
from tillbook.imports.models import ImportRun, RunState
from tillbook.imports.problems import ImportFileInvalid
from tillbook.imports.reading import FileCheck, Pass, file_check, file_pass, file_verdict
from tillbook.imports.records import AdRecord, LedgerRecord, Record
from tillbook.imports.source import ImportSource
from tillbook.imports.spool import RecordSpool
from tillbook.imports.streamed import BatchReader, SideProgress
from tillbook.insights.rollups import rollups_hold, rollups_refresh
from tillbook.payments.ledger_lock import ledger_insert_lock
from tillbook.payments.models import BalanceKind, BalanceTransaction, Refund

logger = logging.getLogger(__name__)

# Progress is committed with the rows, so the back office's bar moves every 50,000 rows.
BATCHES_PER_COMMIT = 5
# How long a run waits for another import of its business between the times it says it is
# waiting (a PostgreSQL interval).
WAIT_TURN = "5s"
WAITING = "Waiting for another import into this business to finish."
# Seconds between the progress a file landed in one pass writes while it only reads (past its
# first problem, read to the end for the report of every problem).
PROGRESS_EVERY = 2.0
STATISTICS_FROM = 50_000  # rows landed before the first statistics refresh, then each doubling

REFUNDS_TWICE = (
    "Stripe's balance history has {count} refund(s) not linked to their payment, and Stripe's "
    "payments export says how much of each payment was refunded: until they are linked, those "
    "refunds may count twice. Import Stripe's itemized balance report for the same dates."
)
UNLINKED_REFUNDS = (
    "{count} refund(s) could not be linked to their payment because the file does not name it "
    "(Stripe's balance history does not). They count as refunds; import Stripe's itemized "
    "balance report for the same dates to link them."
)
UNKNOWN_REFUNDED = (
    "{count} refund(s) name a payment Tillbook does not have yet (in an older file?). They "
    "count as refunds; import the file with those payments, then this one again, to link them."
)


STOPPED = (
    "The import stopped because of an unexpected error. Rows imported before it stopped are "
    "kept; importing the file again adds only what is missing. If it stops again, tell the "
    "person who runs Tillbook."
)
INTERRUPTED = (
    "The import was interrupted before it finished. Rows imported before it stopped are kept; "
    "importing the file again adds only what is missing."
)
# Of a file landed in one transaction (in_one_pass), which leaves nothing half-imported.
STOPPED_WHOLE = (
    "The import stopped because of an unexpected error; nothing was imported. Import the file "
    "again; if it stops again, tell the person who runs Tillbook."
)
INTERRUPTED_WHOLE = (
    "The import was interrupted before it finished; nothing was imported. Import the file again."
)


def import_kinds() -> list[tuple[str, str]]:
    return [(kind, reader.label) for kind, reader in sorted(readers().items())]


def _date_order(value: str) -> DateOrder | None:
    if not value:
        return None
    try:
        return DateOrder(value)
    except ValueError:
        raise InvalidInput(
            f"“{value}” is not a date format; use mdy (month first) or dmy (day first).",
            field_errors={"date_order": ["Choose month first or day first."]},
        ) from None


def import_run_create(
    *,
    business: Business,
    actor: User | None,
    file_name: str,
    kind: str = "",
    date_order: str = "",
    is_dry_run: bool = False,
    stored_path: str = "",
    enqueue: bool = True,
) -> ImportRun:
    if kind and kind not in readers():
        known = ", ".join(sorted(readers()))
        raise InvalidInput(
            f"There is no “{kind}” kind; use {known}.", field_errors={"kind": ["Unknown kind."]}
        )
    _date_order(date_order)
    with transaction.atomic():
        run = ImportRun(
            business=business,
            file_name=file_name[:255],
            stored_path=stored_path,
            kind=kind,
            date_order=date_order,
            is_dry_run=is_dry_run,
            created_by=actor,
        )
        run.save()
        if actor is not None:
            audit_record(
                business=business,
                actor=actor,
                action="import.start",
                summary=f"Started importing {run.file_name}",
                target=run,
            )
        if enqueue:
            from tillbook.imports.tasks import import_run_task

            enqueue_on_commit(import_run_task, run.pk)
    return run


def import_upload_discard(stored_path: str) -> None:
    """Remove an uploaded file and its folder once its run is finished (its rows now live in
    the ledger with their raw values; the file holds customer data Tillbook need not keep)."""
    if not stored_path:
        return
    path = Path(stored_path)
    path.unlink(missing_ok=True)
    try:
        path.parent.rmdir()  # the upload's own folder (import_upload_store); only when empty
    except OSError:
        logger.warning("Could not remove the folder of import upload %s", stored_path)


def import_upload_store(*, business: Business, name: str, stream: IO[bytes]) -> str:
    """Keep an uploaded file where the worker can read it; returns its path."""
    folder = Path(settings.DATA_DIR) / "imports" / str(business.pk) / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in Path(name).name)[:100]
    path = folder / (safe or "upload.csv")
    with path.open("wb") as target:
        shutil.copyfileobj(stream, target, 1 << 20)
    return str(path)


def _save(run: ImportRun, *fields: str) -> None:
    run.updated_at = timezone.now()
    run.save(update_fields=[*fields, "updated_at"])


def import_run_execute(*, run: ImportRun, source: ImportSource) -> ImportRun:
    """Check, then land, the file of `run`. Returns the finished run (DONE or FAILED)."""
    run.state, run.started_at = RunState.CHECKING, timezone.now()
    run.rows_done = run.rows_total = 0
    run.message = ""  # a run carried out again may have stopped while it said it waited
    _save(run, "state", "started_at", "rows_done", "rows_total", "message")

    def progress(rows: int) -> None:
        run.rows_read = rows
        _save(run, "rows_read")

    whole = in_one_pass(run)
    finished: ImportRun | None = None
    try:
        if whole:
            finished = _execute_in_one_pass(run, source)
        if finished is None:
            if whole:  # its dates must be read again: checked first, then landed
                whole = False
                run.state, run.rows_done = RunState.CHECKING, 0
                run.bytes_read = run.bytes_total = 0
                _save(run, "state", "rows_done", "bytes_read", "bytes_total")
            with RecordSpool(Path(settings.DATA_DIR) / "imports" / "spool") as spool:
                return _execute(run, source, spool, progress)
    except BaseException as error:
        # Ctrl-C on the command line or a worker told to stop included.
        if whole:
            run.rows_done = 0  # the progress said landed what the rollback took back
        if isinstance(error, Exception):
            _stopped(run, STOPPED_WHOLE if whole else STOPPED)
        else:
            _stopped(run, INTERRUPTED_WHOLE if whole else INTERRUPTED)
        raise
    if finished.state == RunState.DONE:
        # Committed: the run is done, whatever befalls the dashboard's refresh (an error or a
        # Ctrl-C here must not have it say that nothing was imported; a later refresh reads it).
        rollups_refresh(business=finished.business)
    return finished


def in_one_pass(run: ImportRun) -> bool:
    """Whether `run` checks and lands its file in one pass, in one transaction.

    On PostgreSQL: the file is read once, in a thread of its own, while what it has read lands
    (imports/streamed.py), and the transaction is rolled back at the first problem. On SQLite,
    which allows one writer at a time, the progress could not be written beside that
    transaction; a dry run is one transaction already. Those check the whole file first (its
    records kept in a spool on disk), then land them, committing every 50,000 rows.
    """
    return connection.vendor == "postgresql" and not run.is_dry_run


class _ReadAgain(Exception):
    """The file's ambiguous dates turned out day-first after some were read month-first."""


def _execute_in_one_pass(run: ImportRun, source: ImportSource) -> ImportRun | None:
    """Check and land `run`'s ledger file in one transaction (see in_one_pass). None, with
    nothing written, for a file that must be read twice: an ad platform's report (landed in
    batches of days), or one whose ambiguous dates were read before their order was known."""
    business = run.business
    asked = _date_order(run.date_order)
    side = SideProgress(run)
    try:
        with transaction.atomic():
            with file_pass(
                source,
                kind=run.kind or None,
                date_order=asked,
                zone=business.zone,
                currency=business.currency,
            ) as (current, records):
                if current.table.reader.family != "ledger":
                    return None
                reader = BatchReader(
                    current, records, landing.BATCH, prepare=landing.copy_texts_prepare
                )
                counts = _land_as_read(run, reader, side, size=source.size)
            check = file_verdict(current, asked=asked, records=reader.records, kept=True)
            if not check.spooled:
                raise _ReadAgain
            _checked(run, check)
            _landed(run, check, counts)
            pause_point("import.landed")  # rows written, not yet committed
            _done(run)
    except ImportFileInvalid as error:
        _refused(run, error)
        return run
    except _ReadAgain:
        return None
    finally:
        side.close()
    return run


def _land_as_read(
    run: ImportRun, reader: BatchReader, side: SideProgress, *, size: int
) -> LandingCounts:
    """Land the batches `reader` hands over until the file shows a problem (the caller's
    transaction is then rolled back); reading goes on to the end for the report."""
    business, current = run.business, reader.current
    run.state, run.bytes_total = RunState.IMPORTING, size
    # A refresh of the dashboard skips its round rather than wait for the whole import; the
    # one after the commit reads it (payments/ledger_lock.py). And none moves the watermarks
    # past the import's rows meanwhile.
    ledger_insert_lock(business_id=business.pk)
    _rollups_hold_waiting(run, side)
    with connection.cursor() as cursor:
        # Foreign keys checked by each statement, not all at the commit: PostgreSQL keeps the
        # checks it defers in memory, a few for every row of a file of millions of rows.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    index_lookups_preferred()
    total = LandingCounts()
    analysed = STATISTICS_FROM // 2
    batches = reader.batches(tick=PROGRESS_EVERY)
    try:
        for batch in batches:
            # After the file's first problem nothing more lands (the transaction will be rolled
            # back), but the rest is read for the report, and the bar follows that reading.
            if batch and not current.problem_total:
                total.add(ledger_land_batch(business=business, records=batch))  # type: ignore[arg-type]
                run.rows_done += len(batch)
            side.write(
                rows_read=current.rows_read,
                rows_done=run.rows_done,
                characters=current.characters_read,
            )
            if run.rows_done >= analysed * 2:
                statistics_refresh()
                analysed = run.rows_done
    finally:
        batches.close()  # on an error here, the reading thread stops before the file closes
    return total


def _rollups_hold_waiting(run: ImportRun, side: SideProgress) -> None:
    """rollups_hold for `run`'s transaction. Another import of the business (or a payout's
    lines) holds the rollups until it commits, which for a large file is minutes: the run
    says so meanwhile, through `side`, and its page does not take it for stopped."""
    waited = False
    while not rollups_hold(business=run.business, patience=WAIT_TURN):
        side.waiting(WAITING)
        waited = True
    if waited:  # its page shows its progress again
        side.write(rows_read=run.rows_read, rows_done=run.rows_done, characters=run.bytes_read)


def _stopped(run: ImportRun, message: str) -> None:
    """The run ended without finishing: it must not look as if it were still going."""
    run.state, run.finished_at, run.message = RunState.FAILED, timezone.now(), message
    try:
        with transaction.atomic():
            _save(run, "state", "finished_at", "message", "rows_done")
    except DatabaseError:  # the error was the database's; the log keeps the first one
        logger.exception("Import run %s could not be marked as stopped", run.pk)


def _execute(
    run: ImportRun, source: ImportSource, spool: RecordSpool, progress: Callable[[int], None]
) -> ImportRun:
    business = run.business
    try:
        check = file_check(
            source,
            kind=run.kind or None,
            date_order=_date_order(run.date_order),
            zone=business.zone,
            currency=business.currency,
            progress=progress,
            spool=spool,
        )
    except ImportFileInvalid as error:
        _refused(run, error)
        return run
    _checked(run, check)
    run.state = RunState.IMPORTING
    _save(run, "kind", "date_order", "rows_read", "rows_total", "skipped", "warnings", "state")
    if run.is_dry_run:
        with transaction.atomic():
            counts = _land(run, source, check, spool)
            _warned(run, check, counts)
            transaction.set_rollback(True)  # a dry run counts what would happen, then forgets
    else:
        counts = _land(run, source, check, spool)
        _warned(run, check, counts)
        rollups_refresh(business=business)
    _done(run)
    return run


def _refused(run: ImportRun, error: ImportFileInvalid) -> None:
    run.state, run.finished_at, run.rows_done = RunState.FAILED, timezone.now(), 0
    run.message = error.message[:500]
    run.problems = [[problem.line, problem.message] for problem in error.problems]
    run.problem_total = error.total
    _save(run, "state", "finished_at", "message", "problems", "problem_total", "rows_done")


def _checked(run: ImportRun, check: FileCheck) -> None:
    run.kind = check.kind
    run.date_order = check.date_order.value if check.date_order else ""
    run.rows_read, run.rows_total = check.rows_read, check.records
    run.skipped, run.warnings = check.skipped, check.warnings


def _landed(run: ImportRun, check: FileCheck, counts: LandingCounts) -> None:
    """What a ledger file's landing leaves to do at its end (in its transaction)."""
    business = run.business
    if counts.named_unknown:
        refunds_link_late(business=business, counts=counts)
    if counts.payouts:
        payouts_settle(business=business, payout_ids=counts.payouts)
    _warned(run, check, counts)


def _warned(run: ImportRun, check: FileCheck, counts: LandingCounts | AdCounts) -> None:
    run.imported, run.duplicates = counts.imported, counts.duplicates
    twice = refunds_counted_twice(run.business) if check.kind.startswith("stripe") else 0
    if isinstance(counts, LandingCounts) and counts.unlinked_refunds:
        said = UNLINKED_REFUNDS if check.kind.startswith("stripe") else UNKNOWN_REFUNDED
        run.warnings = [*run.warnings, said.format(count=counts.unlinked_refunds)]
    if twice:
        run.warnings = [*run.warnings, REFUNDS_TWICE.format(count=twice)]


def _done(run: ImportRun) -> None:
    run.state, run.finished_at = RunState.DONE, timezone.now()
    run.rows_done = run.rows_total
    run.message = _summary(run)
    _save(
        run, "kind", "date_order", "rows_read", "rows_total", "skipped", "imported",
        "duplicates", "warnings", "state", "finished_at", "rows_done", "message",
    )  # fmt: skip


def _land(
    run: ImportRun, source: ImportSource, check: FileCheck, spool: RecordSpool
) -> LandingCounts | AdCounts:
    business = run.business
    side = SideProgress(run)  # connects only if the run has to say it waits (PostgreSQL)
    with closing(side):
        ledger = check.family == "ledger"
        covers = check.ad_covers
        if check.ad_covers_unread:
            covers = _ad_covers(source, check, business)
        if check.spooled:
            total = _land_records(run, spool.records(), side, ledger=ledger, covers=covers)
        else:
            with _pass_again(source, check, business) as (current, records):
                total = _land_records(run, records, side, ledger=ledger, covers=covers)
                if current.problem_total:  # the file changed between the two passes
                    raise ImportFileInvalid(current.problems, current.problem_total)
        if isinstance(total, LandingCounts) and total.named_unknown:
            with transaction.atomic():
                if not run.is_dry_run:
                    _rollups_hold_waiting(run, side)
                refunds_link_late(business=business, counts=total)
    if isinstance(total, LandingCounts) and total.payouts:
        with transaction.atomic():
            payouts_settle(business=business, payout_ids=total.payouts)
    return total


def _ad_covers(
    source: ImportSource, check: FileCheck, business: Business
) -> tuple[date, date] | None:
    """The first and last day of a daily ad report whose dates the check read before it knew
    they were day-first: read in their order now, before any row lands (ad reports are small)."""
    with _pass_again(source, check, business, keep_raw=False) as (current, records):
        for _ in records:
            pass
    return current.ad_span if current.ad_daily else None


def _pass_again(
    source: ImportSource, check: FileCheck, business: Business, *, keep_raw: bool = True
) -> AbstractContextManager[tuple[Pass, Iterator[Record]]]:
    """Another reading of a checked file, its kind and date order known."""
    return file_pass(
        source,
        kind=check.kind,
        date_order=check.date_order,
        zone=business.zone,
        currency=business.currency,
        keep_raw=keep_raw,
    )


def _land_records(
    run: ImportRun,
    records: Iterator[Record],
    side: SideProgress,
    *,
    ledger: bool,
    covers: tuple[date, date] | None = None,
) -> LandingCounts | AdCounts:
    total: LandingCounts | AdCounts = LandingCounts() if ledger else AdCounts()
    cache: dict = {}
    analysed = STATISTICS_FROM // 2
    with large_page_cache():
        pending = batches(records)  # type: ignore[arg-type]  # records of one family
        for batch in pending:
            # Several batches per commit: SQLite writes every index page a transaction touched
            # to its log, and a batch of new rows touches pages all over the date indexes, so
            # commits of 5,000 rows made a million-row import slow down as the tables grew.
            with transaction.atomic():
                if ledger and not run.is_dry_run:  # a dry run's rows are never committed
                    _rollups_hold_waiting(run, side)
                if not ledger:
                    ad_landing_lock(business_id=run.business_id)
                index_lookups_preferred()
                for each in chain([batch], islice(pending, BATCHES_PER_COMMIT - 1)):
                    _land_batch(run, each, total, cache, covers)
                    run.rows_done += len(each)
                pause_point("import.landed")  # rows written, not yet committed
                _save(run, "rows_done")
            if run.rows_done >= analysed * 2:
                statistics_refresh()
                analysed = run.rows_done
    return total


def _land_batch(
    run: ImportRun,
    batch: Sequence[Record],
    total: LandingCounts | AdCounts,
    cache: dict,
    covers: tuple[date, date] | None = None,
) -> None:
    business = run.business
    if isinstance(total, LandingCounts):
        lines = [r for r in batch if isinstance(r, LedgerRecord)]
        total.add(ledger_land_batch(business=business, records=lines))
    else:
        ads: list[AdRecord] = [r for r in batch if isinstance(r, AdRecord)]
        if covers is not None:
            for ad in ads:
                ad.covers = ad.covers or covers
        counts = ad_land_batch(business=business, records=ads, run_id=run.pk, cache=cache)
        total.imported += counts.imported
        total.duplicates += counts.duplicates


def refunds_counted_twice(business: Business) -> int:
    """Stripe refund lines no payment claims, when the payments export's refunded totals are
    in the ledger too: neither can tell which of the other it is, so both count. How many."""
    if not Refund.objects.filter(
        business=business,
        payment__provider="stripe",
        provider_reference__endswith=SUMMARY_SUFFIX,
    ).exists():
        return 0
    return BalanceTransaction.objects.filter(
        business=business, provider="stripe", kind=BalanceKind.REFUND, refund__isnull=True
    ).count()


def _summary(run: ImportRun) -> str:
    verb = "Would import" if run.is_dry_run else "Imported"
    return (
        f"{verb} {run.imported} of {run.rows_read} rows; {run.duplicates} already known, "
        f"{run.skipped_total} skipped."
    )
