"""Landing processor rows in the payments ledger, deduplicated by the processor's own ids.

Each balance row becomes one BalanceTransaction keyed by (provider, row id): importing the
same file twice, or files that overlap, finds the ids taken and adds nothing. Sales become
Payments keyed by the payment's id, so the payments export and the balance history of one
charge meet in one Payment. A refund becomes a Refund of its payment when the file names the
payment; Stripe's balance history does not, so such a refund stays an unlinked refund line
until a file that names the charge (an itemized report) is imported and links it. A payout is
linked to its lines; one known only as the id on its lines (a Square deposit) is their sum.
Transfers, fees and adjustments are balance lines, never sales.

Work goes in batches of a few set-based queries each, so a million rows stay fast.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, tzinfo
from functools import lru_cache
from itertools import islice
from typing import Any

import orjson
from django.db import OperationalError, connection, transaction
from django.db.models import Field, Model, Sum
from django.db.models.functions import Lower
from django.utils import timezone

from tillbook.core.bulk import copy_key, copy_lines, copy_text, insert_rows, stored_moment
from tillbook.core.hooks import pause_point
from tillbook.core.models import Business
from tillbook.customers.models import Customer
from tillbook.imports.records import LedgerRecord, Movement
from tillbook.insights.rollups import (
    customer_values_reread,
    lines_reread,
    payout_contents_recompute,
    rollups_reread,
)
from tillbook.payments.models import (
    BalanceKind,
    BalanceTransaction,
    Payment,
    PaymentState,
    Payout,
    PayoutState,
    Refund,
    RefundState,
    Source,
)

logger = logging.getLogger(__name__)

# Records landed at once. Each batch costs a dozen round trips whatever its size, which
# PostgreSQL waits through: 10,000 imported a million rows about a twentieth faster than 5,000.
BATCH = 10_000
IMPORT_CACHE_KIB = 128 * 1024  # SQLite's page cache while landing (see large_page_cache)
STATISTICS_PATIENCE = "200ms"  # how long an import waits to analyse its tables (see below)
LOOKUP_PAGE_COST = "1.1"  # the planner's cost of a random page while landing (see below)
LOOKUP_CHUNK = BATCH  # ids per lookup query (SQLite allows 32766 parameters per statement)
# Payments and balance lines go in with insert_rows (no model instance per row): a
# million-row balance export would otherwise spend most of its time in bulk_create.
PAYMENT_FIELDS = (
    "business", "provider", "source", "state", "currency", "amount", "tip_amount",
    "tax_amount", "fee_amount", "provider_reference", "checkout_reference", "other_reference",
    "method", "customer", "customer_email", "description", "metadata", "raw", "failure_reason",
    "created_at", "succeeded_at",
)  # fmt: skip
LINE_FIELDS = (
    "business", "provider", "provider_reference", "source", "kind", "currency", "gross", "fee",
    "net", "occurred_at", "available_on", "payment", "refund", "payout", "description", "raw",
)  # fmt: skip
# On PostgreSQL, lines and payments go in as COPY text. The columns a row alone decides are
# written by copy_texts_prepare, in the thread that reads the file while the landing waits
# for PostgreSQL (imports/streamed.py); the landing adds the rest (LANDED), the keys above all.
LINE_OWN = (
    "provider_reference", "currency", "gross", "fee", "net", "occurred_at", "available_on",
    "description", "raw",
)  # fmt: skip
LINE_LANDED = ("business", "provider", "source", "kind", "payment", "refund", "payout")
PAYMENT_OWN = (
    "currency", "amount", "tip_amount", "tax_amount", "fee_amount", "provider_reference",
    "other_reference", "customer_email", "description", "metadata", "raw", "created_at",
    "succeeded_at",
)  # fmt: skip
PAYMENT_LANDED = (
    "id", "business", "provider", "source", "state", "checkout_reference", "method", "customer",
    "failure_reason",
)  # fmt: skip
KINDS = {
    Movement.SALE: BalanceKind.CHARGE,
    Movement.REFUND: BalanceKind.REFUND,
    Movement.PAYOUT: BalanceKind.PAYOUT,
    Movement.PAYOUT_FAILURE: BalanceKind.PAYOUT_REVERSAL,
    Movement.PAYOUT_CANCEL: BalanceKind.PAYOUT_REVERSAL,
    Movement.FEE: BalanceKind.FEE,
    Movement.ADJUSTMENT: BalanceKind.ADJUSTMENT,
    Movement.REFUND_FAILURE: BalanceKind.ADJUSTMENT,
    Movement.TRANSFER: BalanceKind.TRANSFER,
    Movement.OTHER: BalanceKind.OTHER,
}


REVERSED_STATES = {
    Movement.PAYOUT_FAILURE: PayoutState.FAILED,
    Movement.PAYOUT_CANCEL: PayoutState.CANCELLED,
}


SUMMARY_SUFFIX = ":refunded"  # no processor's own refund id ends so


def summary_refund_reference(payment_reference: str) -> str:
    """The payments export's single refund per charge (it knows the total, not the refunds)."""
    return f"{payment_reference}{SUMMARY_SUFFIX}"


@dataclass
class LandingCounts:
    imported: int = 0
    duplicates: int = 0
    unlinked_refunds: int = 0
    payouts: set[int] = field(default_factory=set)
    # Refunds that name a payment not in the ledger when they landed: a file listing newest
    # first (PayPal) has a refund before its sale, in an earlier batch when they are far apart.
    named_unknown: list[LedgerRecord] = field(default_factory=list)

    def add(self, other: LandingCounts) -> None:
        self.imported += other.imported
        self.duplicates += other.duplicates
        self.unlinked_refunds += other.unlinked_refunds
        self.payouts |= other.payouts
        if len(self.named_unknown) < NAMED_UNKNOWN_KEPT:
            self.named_unknown += other.named_unknown


# Refunds of an import whose payment came later that are linked at its end (beyond, the
# import's warning says to import the file again, which links the rest).
NAMED_UNKNOWN_KEPT = 50_000


def refunds_link_late(*, business: Business, counts: LandingCounts) -> None:
    """Link the import's refunds that named a payment landed after them (the caller owns the
    transaction): their lines are known now, so they land again as the relinking of a line
    imported twice does. Counts only how many stay unlinked."""
    again = LandingCounts()
    for chunk in batches(counts.named_unknown):
        again.add(ledger_land_batch(business=business, records=chunk))
    counts.unlinked_refunds -= len(counts.named_unknown) - again.unlinked_refunds
    counts.named_unknown = []


def batches(
    records: Iterable[LedgerRecord], size: int | None = None
) -> Iterator[list[LedgerRecord]]:
    iterator = iter(records)
    while chunk := list(islice(iterator, size or BATCH)):
        yield chunk


@contextmanager
def large_page_cache() -> Iterator[None]:
    """On SQLite, a page cache that holds the indexes a large import writes into.

    SQLite's default cache is 2 MB. A million balance lines and payments make indexes many
    times that size, and each batch then rereads from disk the pages the last one evicted:
    the import slowed down as the tables grew. The connection gets its default back after.
    """
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (previous,) = cursor.fetchone()
        cursor.execute(f"PRAGMA cache_size = {-IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous)}")


LOOKED_UP_BY: dict[type[Model], tuple[str, ...]] = {
    Payment: ("business", "provider", "provider_reference", "other_reference"),
    BalanceTransaction: ("business", "provider", "provider_reference", "refund"),
    Payout: ("business", "provider", "provider_reference"),
    Refund: ("business", "payment", "provider_reference"),
}


def _columns(model: type[Model], names: tuple[str, ...]) -> list[str]:
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in names]
    return [quote(field.column) for field in fields if isinstance(field, Field) and field.column]


def statistics_refresh() -> bool:
    """On PostgreSQL, fresh planner statistics for the tables an import is filling.

    A table analysed while it was small keeps looking small: the id lookups then filter every
    row of the business instead of probing the unique index, and each batch was slower than
    the last. Landing calls this each time the rows it has added double.

    ANALYZE takes a lock that another import landing in one transaction holds until it
    commits (it analysed too): rather than stall until then, this one goes on with the
    statistics it has (returns False). Inside the import's transaction, in a savepoint, so
    the refusal leaves that transaction usable.
    """
    if connection.vendor != "postgresql":
        return True
    quote = connection.ops.quote_name
    # Only the columns the landing looks rows up by: the row counts are refreshed whatever
    # the columns, and the rest (a line's raw values above all) cost most of the sampling.
    tables = ", ".join(
        f"{quote(model._meta.db_table)} ({', '.join(_columns(model, names))})"
        for model, names in LOOKED_UP_BY.items()
    )
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [STATISTICS_PATIENCE])
            cursor.execute(f"ANALYZE {tables}")
            cursor.execute("SET LOCAL lock_timeout TO DEFAULT")  # the import's own waits
    except OperationalError:
        logger.info("Import statistics not refreshed: another import holds the tables' lock")
        return False
    return True


def _identities(model: type[Model], count: int) -> list[int] | None:
    """On PostgreSQL, `count` new ids from the table's own sequence (else None).

    Rows written with the ids they will have need no second query to learn them: for a
    balance export, that query was one lookup per new payment.
    """
    if connection.vendor != "postgresql" or not count:
        return None
    table = model._meta.db_table
    with connection.cursor() as cursor:
        # The sequence is named once, not once per id: pg_get_serial_sequence reads the
        # catalog on each call, which cost nine times the nextval itself.
        key = (connection.settings_dict["NAME"], table)
        if key not in _SEQUENCES:
            cursor.execute(
                "SELECT pg_get_serial_sequence(%s, %s)",
                [connection.ops.quote_name(table), model._meta.pk.column],
            )
            _SEQUENCES[key] = cursor.fetchone()[0]
        cursor.execute(
            "SELECT nextval(CAST(%s AS regclass)) FROM generate_series(1, %s)",
            [_SEQUENCES[key], count],
        )
        return [row[0] for row in cursor.fetchall()]


_SEQUENCES: dict[tuple[str, str], str] = {}  # {(database, table): its id sequence}


def index_lookups_preferred() -> None:
    """On PostgreSQL, plan the rest of the caller's transaction with the cost of a cached page
    (an import calls this in each transaction it lands rows in).

    A batch looks up thousands of processor ids at once in unique indexes. With the default
    cost of a random page (4, a spinning disk's), the planner judged thousands of index
    probes dearer than reading the whole table once it held a few hundred thousand rows, and
    each batch then read every payment and every balance line of the ledger (bench/: the
    lookups took twice as long at 400k rows). The tables a landing reads are the ones it is
    writing, in memory. Local to the transaction: nothing after the import plans so.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('random_page_cost', %s, true)", [LOOKUP_PAGE_COST])


ID_SEPARATOR = "\x1f"  # ASCII's unit separator: in no processor's ids


def _text_array(values: list[str]) -> tuple[str, list[Any]]:
    """SQL for a text array of `values` and its parameters, for a PostgreSQL lookup."""
    joined = ID_SEPARATOR.join(values)
    if joined.count(ID_SEPARATOR) != len(values) - 1:  # an id holds it: the array, as it is
        return "%s", [values]
    return "string_to_array(%s, %s)", [joined, ID_SEPARATOR]


def _json(values: dict[str, str]) -> str:
    """JSON text of a row's own values (stored with each line: a million of them in a large
    export), by orjson, which writes it about eight times faster than json.dumps."""
    return orjson.dumps(values).decode()


def copy_texts_prepare(records: Iterable[object]) -> None:
    """The COPY text of what each ledger record alone decides of its balance line and its
    sale's payment (LINE_OWN, PAYMENT_OWN), for the landing to complete. Where it is made
    does not change the rows: the one-pass import has the file's reading thread make it, so
    the landing's thread, which PostgreSQL waits for between statements, has less to do."""
    for record in records:
        if isinstance(record, LedgerRecord):
            moment = _moment(record.occurred_at)  # the line's and its sale's
            if record.is_balance_line:  # a payments export's rows are payments only
                _line_copy(record, moment)
            if record.movement is Movement.SALE:
                _sale_copy(record, moment)


def _line_copy(r: LedgerRecord, moment: str = "") -> str:
    if not r.line_copy:
        day = "\\N" if r.available_on is None else _day_moment(r.available_on)
        r.line_copy = "\t".join(
            (
                copy_text(r.reference),
                copy_text(r.currency),
                str(r.gross),
                str(r.fee),
                str(r.net),
                moment or _moment(r.occurred_at),
                day,
                copy_text(r.description[:300]),
                copy_text(_json(r.raw)),
            )
        )
    return r.line_copy


def _sale_copy(r: LedgerRecord, moment: str = "") -> str:
    if not r.sale_copy:
        moment = moment or _moment(r.occurred_at)
        r.sale_copy = "\t".join(
            (
                copy_text(r.currency),
                str(r.gross - r.tip),
                str(r.tip),
                str(r.tax),
                str(r.fee),
                copy_text(r.payment_reference),
                copy_text(r.payment_alias[:255]),  # the PaymentIntent of a charge, if said
                copy_text(r.customer_email[:254]),
                copy_text(r.description[:300]),
                copy_text(_json(r.metadata) if r.metadata else "{}"),
                # A sale read from a balance line keeps its row once, on that line.
                copy_text("{}" if r.is_balance_line or not r.raw else _json(r.raw)),
                moment,
                moment,
            )
        )
    return r.sale_copy


@lru_cache(maxsize=1024)
def _stored_day(day: date, zone: tzinfo | None) -> str:
    """SQLite's text of the midnight (UTC) of `day`: the lines of a day share it."""
    return stored_moment(datetime.combine(day, time(0), tzinfo=UTC), zone)


@lru_cache(maxsize=1024)
def _day_moment(day: date) -> str:
    """COPY text of the midnight (UTC) of `day`: the lines of a day share it."""
    return _moment(datetime.combine(day, time(0), tzinfo=UTC))


def _moment(value: datetime) -> str:
    if value.tzinfo is None:  # never from a reader; as Django would store it (UTC)
        value = timezone.make_aware(value, UTC)
    return value.isoformat()


def ledger_land_batch(
    *, business: Business, records: list[LedgerRecord], source: Source = Source.IMPORT
) -> LandingCounts:
    """Land one batch; the caller owns the transaction. Records may mix providers.

    `source` marks the balance lines and payouts: `live` when Tillbook read them from the
    processor's API (a Stripe payout), `import` from a file. Payments and refunds the batch
    has to create were taken outside Tillbook, so they are always `import`.
    """
    counts = LandingCounts()
    for provider in sorted({r.provider for r in records}):
        chosen = [r for r in records if r.provider == provider]
        _Batch(business, provider, chosen, counts, source).land()
    return counts


class _Batch:
    def __init__(
        self,
        business: Business,
        provider: str,
        records: list[LedgerRecord],
        counts: LandingCounts,
        source: Source = Source.IMPORT,
    ) -> None:
        self.business = business
        self.provider = provider
        self.records = records
        self.counts = counts
        self.source = source

    def land(self) -> None:
        # {line id: (refund pk, payout pk)} of the lines already in the ledger.
        existing = self._known(
            BalanceTransaction,
            ("refund_id", "payout_id"),
            (r.reference for r in self.records if r.is_balance_line),
        )
        # Between finding which lines are known and writing the new ones: two writers of the
        # same lines must not both pass here at once (a Stripe payout's lines are landed under
        # the payout's row lock).
        pause_point("ledger_land.checked")
        new_lines: list[LedgerRecord] = []
        relink: list[LedgerRecord] = []
        # Known lines this file says went out in a payout: an earlier file may have had them
        # before the payout was made (Stripe fills Transfer in then).
        paid_out: list[LedgerRecord] = []
        seen: set[str] = set()
        for record in self.records:
            if not record.is_balance_line:
                continue
            if record.reference in existing or record.reference in seen:
                self.counts.duplicates += 1
                refund_id, payout_id = existing.get(record.reference, (0, 0))
                if (
                    record.movement is Movement.REFUND
                    and record.payment_reference
                    and refund_id is None
                ):
                    relink.append(record)
                if payout_id is None and record.payout_reference:
                    paid_out.append(record)
                continue
            seen.add(record.reference)
            new_lines.append(record)
        payment_rows = [r for r in self.records if not r.is_balance_line]
        payments = self._payments(new_lines, payment_rows, relink)
        refunds = self._refunds([*new_lines, *relink], payments)
        self._summary_refunds(payment_rows, payments)
        payouts = self._payouts(new_lines, paid_out)
        returned = self._refund_failures(new_lines)
        self._lines(new_lines, payments, refunds, payouts, returned)
        self._relink(relink, payments, refunds)
        self._paid_out(paid_out, payouts)

    def _known(
        self,
        model: type[Model],
        columns: tuple[str, ...],
        references: Iterable[str],
        *,
        by: str = "provider_reference",
    ) -> dict[str, Any]:
        """{processor id: value of `columns`} of the rows of `model` this batch's ids already
        name (in the column `by`): the value itself for one column, a tuple for more.

        Raw SQL: with thousands of ids per batch, Django's preparation of each value of an
        `__in` lookup cost more than the query itself. Payment's unique index is partial
        (WHERE NOT provider_reference = ''): SQLite only uses it when the query repeats its
        condition word for word, else every lookup scans the business's payments.
        """
        wanted = list(dict.fromkeys(ref for ref in references if ref))
        found: dict[str, Any] = {}
        if not wanted:
            return found
        quote = connection.ops.quote_name
        table = quote(model._meta.db_table)
        reference = quote(by)
        where = f"{quote('business_id')} = %s AND {quote('provider')} = %s AND {reference}"
        if model is Payment:
            where = f"NOT ({reference} = '') AND {where}"
        selected = ", ".join(quote(name) for name in columns)
        select = f"SELECT {reference}, {selected} FROM {table} WHERE {where}"  # noqa: S608 - names from model metadata
        with connection.cursor() as cursor:
            for start in range(0, len(wanted), LOOKUP_CHUNK):
                chunk = wanted[start : start + LOOKUP_CHUNK]
                if connection.vendor == "postgresql":
                    # One parameter: psycopg's client-side binding parses the statement
                    # placeholder by placeholder, which for 5,000 of them cost more than the
                    # query; and a list is quoted as an array element by element in Python.
                    # The ids joined into one string are split by PostgreSQL, while planning
                    # (string_to_array is immutable): the plan still probes the unique index.
                    array, values = _text_array(chunk)
                    cursor.execute(
                        f"{select} = ANY({array})", [self.business.pk, self.provider, *values]
                    )
                else:
                    marks = ", ".join(["%s"] * len(chunk))
                    cursor.execute(
                        f"{select} IN ({marks})", [self.business.pk, self.provider, *chunk]
                    )
                if len(columns) > 1:
                    found.update((row[0], row[1:]) for row in cursor.fetchall())
                else:
                    found.update(cursor.fetchall())
        return found

    # Payments ----------------------------------------------------------------------------

    def _payments(
        self,
        lines: list[LedgerRecord],
        payment_rows: list[LedgerRecord],
        relink: list[LedgerRecord],
    ) -> dict[str, int]:
        """{payment id at the processor: Payment pk} for every payment the batch names."""
        named = [*lines, *payment_rows, *relink]
        found: dict[str, int] = self._known(Payment, ("id",), (r.payment_reference for r in named))
        # A payment stored under its other id (a checkout's PaymentIntent; a report that named
        # the charge by it) is the same payment, not a new sale.
        aliases = {
            r.payment_alias: r.payment_reference
            for r in named
            if r.payment_alias and r.payment_reference and r.payment_reference not in found
        }
        for alias, (pk, other) in self._known(Payment, ("id", "other_reference"), aliases).items():
            found[aliases[alias]] = pk
            if not other:  # a checkout's payment learns the charge its files name it by (once)
                Payment.objects.filter(pk=pk).update(other_reference=aliases[alias][:255])
        self._by_other_reference(named, found)
        self._fees_learnt(lines, found)
        for row in payment_rows:
            if row.payment_reference in found:
                self.counts.duplicates += 1
        sales: dict[str, LedgerRecord] = {}
        for record in [*lines, *payment_rows]:
            if record.movement is Movement.SALE and record.payment_reference not in found:
                sales.setdefault(record.payment_reference, record)
        self.counts.imported += sum(1 for r in payment_rows if r.payment_reference in sales)
        emails = {r.customer_email.lower() for r in sales.values() if r.customer_email}
        customers = dict(
            Customer.objects.filter(business=self.business)
            .annotate(key=Lower("email"))
            .filter(key__in=emails)
            .values_list("key", "pk")
        )
        zone = connection.timezone  # for SQLite's rows: read once (Django's proxy)
        rows = (
            (
                self.business.pk,
                self.provider,
                Source.IMPORT,
                PaymentState.SUCCEEDED,
                r.currency,
                r.gross - r.tip,
                r.tip,
                r.tax,
                r.fee,
                reference,
                "",
                r.payment_alias[:255],  # the PaymentIntent of a charge, where the file says
                "",
                customers.get(r.customer_email.lower()),
                r.customer_email[:254],
                r.description[:300],
                _json(r.metadata) if r.metadata else "{}",
                # A sale read from a balance line keeps its row once, on that line.
                "{}" if r.is_balance_line or not r.raw else _json(r.raw),
                "",
                *[stored_moment(r.occurred_at, zone)] * 2,  # created and succeeded
            )
            for reference, r in sales.items()
        )
        ids = _identities(Payment, len(sales))
        if ids is not None:  # PostgreSQL
            landed = f"{self.business.pk}\t{copy_text(self.provider)}\t{Source.IMPORT.value}\t"
            landed += f"{PaymentState.SUCCEEDED.value}\t\t\t"
            copy_lines(
                Payment,
                (*PAYMENT_OWN, *PAYMENT_LANDED),
                (
                    f"{_sale_copy(r)}\t{id_}\t{landed}"
                    f"{copy_key(customers.get(r.customer_email.lower()))}\t\n"
                    for id_, r in zip(ids, sales.values(), strict=True)
                ),
            )
            found.update(zip(sales, ids, strict=True))
        elif sales:  # SQLite
            insert_rows(Payment, PAYMENT_FIELDS, rows)
            # insert_rows returns no ids; one query fetches the new payments' back by reference.
            found.update(self._known(Payment, ("id",), sales))
        # A refund this batch names only by the other id of a payment it also names.
        for record in named:
            if record.payment_alias and record.payment_reference in found:
                found.setdefault(record.payment_alias, found[record.payment_reference])
        return found

    def _fees_learnt(self, lines: list[LedgerRecord], found: dict[str, int]) -> None:
        """A known payment whose fee was not known (a checkout whose fee Stripe had not
        settled yet) takes it from its charge's line, in the same currency: the dashboard's
        fees then agree with the payout that carried it."""
        charged = {
            found[r.payment_reference]: r
            for r in lines
            if r.movement is Movement.SALE and r.payment_reference in found
        }
        if not charged:
            return
        learnt = []
        for pk, currency in Payment.objects.filter(
            pk__in=list(charged), fee_amount__isnull=True
        ).values_list("pk", "currency"):
            line = charged[pk]
            if line.currency == currency:
                Payment.objects.filter(pk=pk, fee_amount__isnull=True).update(fee_amount=line.fee)
                learnt.append(pk)
        rollups_reread(business=self.business, payment_ids=learnt)

    def _by_other_reference(self, named: list[LedgerRecord], found: dict[str, int]) -> None:
        """Payments stored under one id and named here by their other: a Stripe checkout's
        sale (stored under its PaymentIntent) named by its charge, or an imported charge
        named by its PaymentIntent (a refund in a later batch or file). Adds them to `found`
        (a lookup in a partial index that holds only payments with a second id)."""
        wanted = [r.payment_reference for r in named if r.payment_reference not in found]
        if not any(wanted) or not self._second_ids():
            return
        found.update(self._known(Payment, ("id",), wanted, by="other_reference"))

    def _second_ids(self) -> bool:
        """Whether any of the business's payments from this processor has a second id: most
        businesses' imported charges have none, and the lookup of a batch's ids is skipped
        (one probe of the partial index instead of thousands)."""
        return (
            Payment.objects.filter(business=self.business, provider=self.provider)
            .exclude(other_reference="")
            .exists()
        )

    # Refunds -----------------------------------------------------------------------------

    def _refunds(self, records: list[LedgerRecord], payments: dict[str, int]) -> dict[str, Refund]:
        wanted = [r for r in records if r.movement is Movement.REFUND]
        self._refunds_known_by_id(wanted, payments)
        linked = [r for r in wanted if r.payment_reference in payments]
        self.counts.unlinked_refunds += len(wanted) - len(linked)
        self.counts.named_unknown += [
            r for r in wanted if r.payment_reference and r.payment_reference not in payments
        ]
        if not linked:
            return {}
        found = {
            refund.provider_reference: refund
            for refund in Refund.objects.filter(
                business=self.business,
                payment_id__in=[payments[r.payment_reference] for r in linked],
                provider_reference__in=[r.refund_reference for r in linked],
            )
        }
        missing: dict[str, LedgerRecord] = {}
        for record in linked:
            if record.refund_reference not in found:
                missing.setdefault(record.refund_reference, record)
        created = Refund.objects.bulk_create(
            Refund(
                business=self.business,
                payment_id=payments[r.payment_reference],
                source=Source.IMPORT,
                state=RefundState.SUCCEEDED,
                currency=r.currency,
                amount=-r.gross,
                reason=r.description[:300],
                idempotency_key=f"import:{self.business.pk}:{self.provider}:{ref}"[:255],
                provider_reference=ref,
                raw=r.raw,
                created_at=r.occurred_at,
                succeeded_at=r.occurred_at,
            )
            for ref, r in missing.items()
        )
        found.update((refund.provider_reference, refund) for refund in created)
        # Real refunds replace the payments export's summary of them, whichever of the
        # payment's ids the export named it by. The refunds may all be known already (made
        # through Tillbook): the rollups must read each such payment again.
        summaries = Refund.objects.filter(
            business=self.business,
            payment_id__in=[payments[r.payment_reference] for r in linked],
            provider_reference__endswith=SUMMARY_SUFFIX,
        )
        replaced = sorted(set(summaries.values_list("payment_id", flat=True)))
        if replaced:
            summaries.delete()
            rollups_reread(business=self.business, payment_ids=replaced)
        return found

    def _refund_failures(self, records: list[LedgerRecord]) -> dict[str, int]:
        """A refund's failure lowers the refunds only where the refund was counted: not for a
        refund Tillbook knows as failed or pending (made through Tillbook, and Stripe's answer
        was that it failed), nor twice for one whose coming back is already a line (Stripe's
        webhook said so before this file). Such a line lands as a line of no kind.

        Returns {refund id: pk} of the known refunds whose failure lines count: the lines are
        linked to them (a charge's refunded total no longer holds them)."""
        failures = [r for r in records if r.movement is Movement.REFUND_FAILURE]
        named = {r.returned_refund for r in failures} - {""}
        if not named:
            return {}
        known = Refund.objects.filter(
            business=self.business, payment__provider=self.provider, provider_reference__in=named
        )
        found = {
            ref: (state, pk, payment)
            for ref, state, pk, payment in known.values_list(
                "provider_reference", "state", "pk", "payment_id"
            )
        }
        adjustments = BalanceTransaction.objects.filter(
            business=self.business, provider=self.provider, kind=BalanceKind.ADJUSTMENT
        )
        uncounted = (
            {ref for ref, (state, _, _) in found.items() if state != RefundState.SUCCEEDED}
            | set(
                adjustments.filter(refund__in=known).values_list(
                    "refund__provider_reference", flat=True
                )
            )
            # A refund known only within its charge's refunded total, whose coming back
            # Stripe's webhook told (its line keeps the refund's object).
            | set(adjustments.filter(raw__id__in=named).values_list("raw__id", flat=True))
        )
        for record in failures:
            if record.returned_refund in uncounted:
                record.movement = Movement.OTHER
        counted = {
            ref: (pk, payment) for ref, (_, pk, payment) in found.items() if ref not in uncounted
        }
        customer_values_reread(
            business=self.business, payment_ids=sorted({payment for _, payment in counted.values()})
        )
        return {ref: pk for ref, (pk, _) in counted.items()}

    def _refunds_known_by_id(self, wanted: list[LedgerRecord], payments: dict[str, int]) -> None:
        """A refund line that does not name its payment (Stripe's balance history) belongs to
        the refund already known by the refund's own id (made through Tillbook, or named by
        another file): it takes that refund's payment, so it is not counted a second time."""
        loose = {r.refund_reference for r in wanted if r.payment_reference not in payments}
        loose.discard("")
        if not loose:
            return
        known = dict(
            Refund.objects.filter(
                business=self.business,
                payment__provider=self.provider,
                provider_reference__in=loose,
            ).values_list("provider_reference", "payment_id")
        )
        for record in wanted:
            payment_id = known.get(record.refund_reference)
            if payment_id is not None and record.payment_reference not in payments:
                record.payment_reference = f"payment #{payment_id}"  # the refund names it
                payments[record.payment_reference] = payment_id

    def _summary_refunds(self, rows: list[LedgerRecord], payments: dict[str, int]) -> None:
        refunded = {r.payment_reference: r for r in rows if r.refunded}
        if not refunded:
            return
        targets = {payments[ref]: summary_refund_reference(ref) for ref in refunded}
        others: set[int] = set()  # payments whose real refunds are known
        summaries: dict[int, int] = {}  # {payment pk: amount of its summary refund}
        for payment_id, reference, amount in Refund.objects.filter(
            business=self.business, payment_id__in=targets
        ).values_list("payment_id", "provider_reference", "amount"):
            if reference == targets[payment_id]:
                summaries[payment_id] = amount
            else:
                others.add(payment_id)
        created: list[Refund] = []
        changed: list[int] = []  # payments whose summary refund says something else now
        for reference, record in refunded.items():
            payment = payments[reference]
            if payment in others:
                continue  # the real refunds are known; the summary would count them twice
            if summaries.get(payment) == record.refunded:
                continue  # this export says what the last one said
            values = {
                "source": Source.IMPORT,
                "state": RefundState.SUCCEEDED,
                "currency": record.currency,
                "amount": record.refunded,
                "reason": "Refunded (from the payments export)",
                "idempotency_key": f"import:{self.business.pk}:{self.provider}:{targets[payment]}"[
                    :255
                ],
                "raw": record.raw,
                # The export does not say when; the charge's time is the best known.
                "created_at": record.occurred_at,
                "succeeded_at": record.occurred_at,
            }
            if payment not in summaries:
                created.append(
                    Refund(
                        business=self.business,
                        payment_id=payment,
                        provider_reference=targets[payment],
                        **values,
                    )
                )
                continue
            # A later export says more (or less) was refunded. The refund row is below the
            # rollups' watermarks, so the dashboard must sum its payment's day again.
            Refund.objects.filter(
                business=self.business, payment_id=payment, provider_reference=targets[payment]
            ).update(**values)
            changed.append(payment)
        rollups_reread(business=self.business, payment_ids=changed)
        Refund.objects.bulk_create(created)  # the import holds the rollups' watermarks

    # Payouts -----------------------------------------------------------------------------

    def _payouts(
        self, records: list[LedgerRecord], paid_out: list[LedgerRecord]
    ) -> dict[str, Payout]:
        """{processor id: Payout} for the payouts the batch's new lines name, or its known
        lines `paid_out`; created where unknown. Only new lines change a known payout."""
        wanted = {r.payout_reference for r in [*records, *paid_out] if r.payout_reference}
        # A failure or cancellation line names a payout that never arrived.
        reversed_ = {r.reversed_payout: r for r in records if r.reversed_payout}
        if not wanted and not reversed_:
            return {}
        found = {
            payout.provider_reference: payout
            for payout in Payout.objects.filter(
                business=self.business,
                provider=self.provider,
                provider_reference__in=wanted | set(reversed_),
            )
        }
        explicit = {r.payout_reference: r for r in records if r.movement is Movement.PAYOUT}
        for reference, record in explicit.items():
            payout = found.get(reference)
            # A payout the processor itself described (a webhook) keeps its word and the
            # object it sent: the task that reads its lines asks for them with it.
            if payout is not None and not processor_described(payout):
                payout.amount = -record.gross
                payout.arrival_date = record.available_on
                payout.raw = record.raw
                payout.save(update_fields=["amount", "arrival_date", "raw"])
        named = {r.payout_reference: r for r in [*paid_out, *records] if r.payout_reference}
        created = Payout.objects.bulk_create(
            self._payout_new(reference, explicit.get(reference), reversed_.get(reference), named)
            for reference in sorted((wanted | set(reversed_)) - set(found))
        )
        found.update((payout.provider_reference, payout) for payout in created)
        for reference, record in reversed_.items():
            payout = found[reference]
            if payout.state not in (PayoutState.FAILED, PayoutState.CANCELLED):
                payout.state = REVERSED_STATES[record.movement]
                payout.save(update_fields=["state"])
        # A payout only named by its failure keeps the amount that came back: the lines it
        # carried, if any, are not in this batch to add up.
        self.counts.payouts |= {found[reference].pk for reference in wanted}
        return found

    def _payout_new(
        self,
        reference: str,
        own_line: LedgerRecord | None,
        reversal: LedgerRecord | None,
        named: dict[str, LedgerRecord],
    ) -> Payout:
        """A payout first met in this batch: by its own line, its failure, or its lines."""
        if own_line is not None:
            amount, arrival, currency = -own_line.gross, own_line.available_on, own_line.currency
        elif reversal is not None:  # what came back is what went out; it never arrived
            amount, arrival, currency = reversal.gross, None, reversal.currency
        else:  # the sum of its lines (payouts_settle)
            line = named[reference]
            amount, arrival, currency = 0, line.payout_date or line.available_on, line.currency
        return Payout(
            business=self.business,
            provider=self.provider,
            provider_reference=reference,
            source=self.source,
            state=PayoutState.PAID if reversal is None else REVERSED_STATES[reversal.movement],
            currency=currency,
            amount=amount,
            arrival_date=arrival,
            raw=own_line.raw if own_line is not None else {},
        )

    # Lines -------------------------------------------------------------------------------

    def _lines(
        self,
        records: list[LedgerRecord],
        payments: dict[str, int],
        refunds: dict[str, Refund],
        payouts: dict[str, Payout],
        returned: dict[str, int],
    ) -> None:
        """Insert the new balance lines; `returned`: {refund id: pk} of refunds whose failure
        lines are among them (see _refund_failures)."""

        def keys(r: LedgerRecord) -> tuple[int | None, int | None, int | None]:
            """The line's payment, refund and payout."""
            refund = refunds.get(r.refund_reference) if r.refund_reference else None
            payout = payouts.get(r.payout_reference) if r.payout_reference else None
            return (
                payments.get(r.payment_reference) if r.payment_reference else None,
                refund.pk if refund is not None else returned.get(r.returned_refund),
                None if payout is None else payout.pk,
            )

        self.counts.imported += len(records)
        if not records:
            return
        if connection.vendor == "postgresql":
            landed = f"{self.business.pk}\t{copy_text(self.provider)}\t{self.source.value}\t"
            copy_lines(
                BalanceTransaction,
                (*LINE_OWN, *LINE_LANDED),
                (
                    f"{_line_copy(r)}\t{landed}{KINDS[r.movement].value}\t"
                    + "\t".join(map(copy_key, keys(r)))
                    + "\n"
                    for r in records
                ),
            )
            return
        zone = connection.timezone  # read once: each read goes through Django's proxy
        insert_rows(
            BalanceTransaction,
            LINE_FIELDS,
            (
                (
                    self.business.pk,
                    self.provider,
                    r.reference,
                    self.source,
                    KINDS[r.movement],
                    r.currency,
                    r.gross,
                    r.fee,
                    r.net,
                    stored_moment(r.occurred_at, zone),
                    None if r.available_on is None else _stored_day(r.available_on, zone),
                    *keys(r),
                    r.description[:300],
                    _json(r.raw),
                )
                for r in records
            ),
        )

    def _paid_out(self, records: list[LedgerRecord], payouts: dict[str, Payout]) -> None:
        """Link known lines that had no payout yet to the one this file names (one query per
        payout), and sum that payout's contents again for the dashboard."""
        by_payout: dict[str, list[str]] = {}
        for record in records:
            by_payout.setdefault(record.payout_reference, []).append(record.reference)
        linked = []
        for reference, lines in by_payout.items():
            payout = payouts[reference]
            if BalanceTransaction.objects.filter(
                business=self.business,
                provider=self.provider,
                provider_reference__in=lines,
                payout__isnull=True,
            ).update(payout=payout):
                linked.append(payout.pk)
        if linked:
            payout_contents_recompute(business=self.business, payout_ids=linked)

    def _relink(
        self, records: list[LedgerRecord], payments: dict[str, int], refunds: dict[str, Refund]
    ) -> None:
        linked: list[tuple[int, int]] = []  # (line, payment)
        for record in records:
            refund = refunds.get(record.refund_reference)
            if refund is None:
                continue
            payment_id = payments[record.payment_reference]
            line = BalanceTransaction.objects.filter(
                business=self.business, provider=self.provider, provider_reference=record.reference
            )
            linked += [(pk, payment_id) for pk in line.values_list("pk", flat=True)]
            line.update(refund=refund, payment_id=payment_id)
        # Counted on its day as a refund of no known payment: that day is summed again.
        lines_reread(business=self.business, lines=linked)


def processor_described(payout: Payout) -> bool:
    """Whether the payout's row holds the processor's own payout object (Stripe's webhook):
    its amount and arrival date are the processor's word, not a sum of the lines known."""
    return isinstance(payout.raw, dict) and payout.raw.get("object") == "payout"


def payouts_settle(*, business: Business, payout_ids: Iterable[int]) -> None:
    """A payout known only from its lines is the sum of their net amounts (not one the
    processor described: a file may name only some of its lines).

    One grouped query per chunk of payouts (not a correlated subquery per payout, which SQLite
    answers by scanning every line of the business for each payout).
    """
    ids = sorted(set(payout_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        lines = BalanceTransaction.objects.filter(business=business, payout_id__in=chunk)
        explicit = set(lines.filter(kind=BalanceKind.PAYOUT).values_list("payout_id", flat=True))
        totals = dict(
            lines.exclude(kind=BalanceKind.PAYOUT)
            .values("payout_id")
            .annotate(total=Sum("net"))
            .values_list("payout_id", "total")
        )
        implied = [
            payout
            for payout in Payout.objects.filter(
                business=business, pk__in=set(chunk) - explicit
            ).only("amount", "raw")
            if not processor_described(payout)
        ]
        for payout in implied:
            payout.amount = totals.get(payout.pk, 0)
        Payout.objects.bulk_update(implied, ["amount"])
