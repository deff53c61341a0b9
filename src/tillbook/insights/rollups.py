"""Keeping the rollups up to date, set-based and incrementally.

Payments are read by id above a watermark. A payment that is still created or pending when
read may succeed later, so the watermark never passes the oldest unfinished payment begun in
the last week: it is read again next time, and counted once it has succeeded (one older than
that leaves a RollupReread row if it ever succeeds). A customer's first payment can only
move earlier (history imported after newer sales), so the upsert keeps the earliest time.

The watermark only moves up to ids every one of which is settled: the highest ids are read
while no live insert of the business is in flight (payments/ledger_lock.py; when writers keep
that lock busy, the refresh skips a round), and the rows below them are read after the
watermarks' lock, which imports hold until they commit (rollups_hold). A payment that changes
what it counts after it was read (a fee learnt later, a late success) leaves a RollupReread row
that lowers the watermarks below it at the next refresh (rollups_reread); a balance line
linked after it was read, the daily ledger's watermark of lines below it (lines_reread).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from django.db import OperationalError, connection, transaction
from django.db.models import (
    Count,
    DateField,
    Exists,
    F,
    Func,
    Max,
    Min,
    OuterRef,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Lower, TruncDate
from django.utils import timezone

from tillbook.core.models import Business
from tillbook.insights.attribution import payment_utm
from tillbook.insights.models import (
    CustomerDay,
    CustomerFirstPayment,
    CustomerValue,
    DailyLedger,
    PayoutContents,
    RollupReread,
    RollupWatermark,
)
from tillbook.payments.ledger_lock import ledger_inserts_settled
from tillbook.payments.models import (
    PAYMENT_FINISHES_WITHIN,
    BalanceKind,
    BalanceTransaction,
    LedgerRow,
    Payment,
    PaymentRequest,
    PaymentState,
    Refund,
    RefundState,
)
from tillbook.scheduling.models import BOOKING_PURPOSES

logger = logging.getLogger(__name__)

# An order is what a customer ordered, however many payments paid for it. A payment counts as
# one unless it pays more of something already ordered: a booking's balance or no-show fee
# after its deposit (the booking's first payment, whichever of its requests took it, is the
# order: a pay-later booking's only payment is the cash staff recorded, a booking charge), or a
# later part of a request paid in parts (cash instalments). Each payment on a reusable link is
# an order of its own, as is each imported payment.


def starts_an_order() -> Q:
    """Of succeeded payments, those that are orders (as the comment above says)."""
    earlier = Q(succeeded_at__lt=OuterRef("succeeded_at")) | Q(
        succeeded_at=OuterRef("succeeded_at"), pk__lt=OuterRef("pk")
    )
    same_request = Payment.objects.filter(
        earlier, request=OuterRef("request"), state=PaymentState.SUCCEEDED
    )
    same_booking = Payment.objects.filter(
        earlier,
        business=OuterRef("business"),
        request__purpose__in=BOOKING_PURPOSES,
        request__purpose_id=OuterRef("request__purpose_id"),
        state=PaymentState.SUCCEEDED,
    )
    for_booking = Q(request__purpose__in=BOOKING_PURPOSES)
    return (
        Q(request__isnull=True)
        | (for_booking & ~Exists(same_booking))
        | (~for_booking & (Q(request__is_reusable=True) | ~Exists(same_request)))
    )


def _starts_an_order_sql() -> tuple[str, str, list[str]]:
    """`starts_an_order` for the payment `p` of a raw query: the join it needs, the expression
    (1 for an order, else 0) and the expression's parameters."""
    payments = connection.ops.quote_name(Payment._meta.db_table)
    requests = connection.ops.quote_name(PaymentRequest._meta.db_table)
    purposes = ", ".join(["%s"] * len(BOOKING_PURPOSES))
    earlier = (
        "e.state = %s AND (e.succeeded_at < p.succeeded_at "
        "OR (e.succeeded_at = p.succeeded_at AND e.id < p.id))"
    )
    join = f" LEFT JOIN {requests} q ON q.id = p.request_id"
    expression = (
        "CASE WHEN p.request_id IS NULL THEN 1 "  # noqa: S608 - quoted names and placeholders
        f"WHEN q.purpose IN ({purposes}) THEN CASE WHEN EXISTS (SELECT 1 FROM {payments} e "
        f"JOIN {requests} b ON b.id = e.request_id WHERE b.business_id = q.business_id "
        f"AND b.purpose IN ({purposes}) AND b.purpose_id = q.purpose_id AND {earlier}) "
        "THEN 0 ELSE 1 END "
        "WHEN q.is_reusable THEN 1 "
        f"WHEN EXISTS (SELECT 1 FROM {payments} e WHERE e.request_id = p.request_id "
        f"AND {earlier}) THEN 0 ELSE 1 END"
    )
    succeeded = PaymentState.SUCCEEDED.value
    return join, expression, [*BOOKING_PURPOSES, *BOOKING_PURPOSES, succeeded, succeeded]


FIRSTS = "customer_first_payment"
DAILY = "daily_ledger"
VALUES = "customer_values"
READ_AGAIN = (FIRSTS, DAILY, VALUES)  # the rollups that read payments: read a changed one again
# Which of payments (0), refunds (1) and balance lines (2) each rollup reads.
READS = {FIRSTS: (0,), DAILY: (0, 1, 2), VALUES: (0, 1)}
# Payments that may still succeed: a watermark never passes the oldest of them begun within
# PAYMENT_FINISHES_WITHIN (one left waiting longer would have every refresh read all the sales
# after it again; should it succeed after all, payment_confirm has it read again).
UNFINISHED_PAYMENTS = (PaymentState.CREATED, PaymentState.PENDING)
_Piece = tuple[datetime, datetime, Any]


@dataclass(frozen=True)
class Tops:
    """The highest ids of a business's payments, refunds and balance lines, every row up to
    which is committed or rolled back (imports excepted: a refresh waits for those at the
    watermark)."""

    payment: int
    refund: int
    line: int


def settled_tops(*, business: Business, names: Sequence[str] = (FIRSTS, DAILY)) -> Tops | None:
    """The Tops of `business` for the rollups `names`, read while none of its live inserts is
    in flight; None when writers kept it busy (payments/ledger_lock.py): the refresh skips
    this round. A table none of `names` reads is not asked (its top is 0).

    Read above the watermarks as they stand (unlocked: only a hint for the index; below them,
    everything was settled by an earlier refresh), so a business with few recent rows does not
    scan back through everyone else's.
    """
    marks = dict.fromkeys(names, (0, 0, 0))
    marks.update(
        (name, (payment, refund, line))
        for name, payment, refund, line in RollupWatermark.objects.filter(
            business=business, name__in=names
        ).values_list("name", "last_payment_id", "last_refund_id", "last_line_id")
    )
    with ledger_inserts_settled(business_id=business.pk) as settled:
        if not settled:
            return None
        tops = []
        for column, model in enumerate((Payment, Refund, BalanceTransaction)):
            readers = [mark[column] for name, mark in marks.items() if column in READS[name]]
            since = min(readers, default=0)
            top = (
                model.objects.filter(business=business, pk__gt=since).aggregate(top=Max("pk"))
                if readers
                else {}
            ).get("top")
            tops.append(top or since)
    return Tops(*tops)


def _locked_mark(business: Business, name: str) -> RollupWatermark:
    """The watermark `name`, locked (two refreshes, or a refresh and an import, do not both
    move it), and lowered below the payments it must read again (RollupReread rows, which
    it consumes)."""
    mark, _ = RollupWatermark.objects.get_or_create(business=business, name=name)
    mark = RollupWatermark.objects.select_for_update().get(pk=mark.pk)
    rereads = list(
        RollupReread.objects.filter(business=business, name=name).values_list(
            "pk", "payment_id", "line_id"
        )
    )
    if rereads:
        RollupReread.objects.filter(pk__in=[pk for pk, _, _ in rereads]).delete()
        lowest = min(payment for _, payment, _ in rereads)
        mark.last_payment_id = min(mark.last_payment_id, lowest - 1)
        lines = [line for _, _, line in rereads if line is not None]
        if lines:  # a line linked since it was read counts on its own day (DAILY)
            mark.last_line_id = min(mark.last_line_id, min(lines) - 1)
    return mark


def customer_firsts_refresh(*, business: Business, tops: Tops | None = None) -> int:
    """Bring CustomerFirstPayment and CustomerDay up to date; returns how many payments were
    read (0 when the refresh had to skip a round)."""
    tops = tops or settled_tops(business=business, names=(FIRSTS,))
    if tops is None:
        return 0
    with transaction.atomic():
        mark = _locked_mark(business, FIRSTS)
        if mark.zone != business.timezone:  # customer days are cut in the business's zone
            CustomerDay.objects.filter(business=business).delete()
            mark.last_payment_id, mark.zone = 0, business.timezone
        if tops.payment <= mark.last_payment_id:
            mark.save()
            return 0
        mark.last_payment_id, window = _ids_since(
            Payment, business, mark.last_payment_id, tops.payment, _unfinished_payments()
        )
        paid = window.filter(state=PaymentState.SUCCEEDED, succeeded_at__isnull=False).exclude(
            customer_email=""
        )
        customers = _firsts_upsert(business, paid)
        _days_insert(business, paid, customers)
        mark.save(update_fields=["last_payment_id", "zone"])
        return window.count()


def _firsts_upsert(business: Business, paid: Any) -> set[str]:
    """Upsert the first payments; returns the customers (email keys) the payments are from."""
    # The earliest payment per customer and campaign (grouped in SQL), then per customer the
    # earliest of those: its campaign is the one that acquired the customer.
    earliest: dict[str, tuple[datetime, str]] = {}
    for key, utm, first in (
        paid.annotate(key=Lower("customer_email"), utm=payment_utm())
        .values("key", "utm")
        .annotate(first=Min("succeeded_at"))
        .values_list("key", "utm", "first")
        .order_by()
    ):
        known = earliest.get(key)
        if known is None or first < known[0]:
            earliest[key] = (first, (utm or "")[:300])
    if not earliest:
        return set()
    table = connection.ops.quote_name(CustomerFirstPayment._meta.db_table)
    least = "LEAST" if connection.vendor == "postgresql" else "MIN"
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        # History imported after newer sales moves a first payment earlier, never later.
        cursor.executemany(
            f"INSERT INTO {table} (business_id, email_key, first_at, first_utm) "  # noqa: S608
            "VALUES (%s, %s, %s, %s) ON CONFLICT (business_id, email_key) DO UPDATE SET "
            f"first_utm = CASE WHEN excluded.first_at < {table}.first_at "
            f"THEN excluded.first_utm ELSE {table}.first_utm END, "
            f"first_at = {least}({table}.first_at, excluded.first_at)",
            [(business.pk, key, adapt(first), utm) for key, (first, utm) in earliest.items()],
        )
    return set(earliest)


# Above this many customers in one refresh (an import of history), every customer's days are
# relinked in one pass: cheaper than picking them out, and its plan does not hang on how many
# rows the database believes a just-filled table holds.
RELINK_ALL_ABOVE = 1000


def _days_insert(business: Business, paid: Any, customers: set[str]) -> None:
    days = (
        paid.annotate(
            day=TruncDate("succeeded_at", tzinfo=business.zone), key=Lower("customer_email")
        )
        .values("business", "day", "key")
        .distinct()
        .order_by()
    )
    select, params = days.query.sql_with_params()
    table = connection.ops.quote_name(CustomerDay._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (business_id, day, email_key) {select} "
            "ON CONFLICT (business_id, day, email_key) DO NOTHING",
            params,
        )
        # A day added anywhere in a customer's history (imported history lands before newer
        # sales) changes the previous day of the one after it: relink those customers' days.
        if not customers:
            return
        where, keys = "business_id = %s", sorted(customers)
        if len(keys) <= RELINK_ALL_ABOVE:
            where += f" AND email_key IN ({', '.join(['%s'] * len(keys))})"
        else:
            keys = []
        cursor.execute(previous_days_sql(table, connection.vendor, where), [business.pk, *keys])


def previous_days_sql(table: str, vendor: str, where: str) -> str:
    """UPDATE that sets each customer day's previous paying day, for the rows `where` picks
    (whole customers: every day of a customer must be picked for the links to be right)."""
    changed = "IS DISTINCT FROM" if vendor == "postgresql" else "IS NOT"
    return (
        f"UPDATE {table} SET previous_day = linked.previous FROM ("  # noqa: S608
        "SELECT id, LAG(day) OVER (PARTITION BY business_id, email_key ORDER BY day) "
        f"AS previous FROM {table} WHERE {where}) linked "
        f"WHERE {table}.id = linked.id AND {table}.previous_day {changed} linked.previous"
    )


# Up to this many new payments and refunds, the customers they are from are summed again one
# by one; above it (an import, a first refresh), every customer of the business is.
VALUES_BY_CUSTOMER_UP_TO = 1000


def customer_values_refresh(*, business: Business) -> int:
    """Bring CustomerValue up to date; returns how many new payments and refunds were read (0
    when nothing was new or the refresh had to skip a round).

    Not part of rollups_refresh, which every page runs: the customers who paid or were refunded
    since the last refresh are summed again whole (their earlier payments are found by email,
    which no index serves), so only the cohort table and the background sweep pay for it."""
    tops = settled_tops(business=business, names=(VALUES,))
    if tops is None:
        return 0
    with transaction.atomic():
        mark = _locked_mark(business, VALUES)
        next_payment, payments = _ids_since(
            Payment, business, mark.last_payment_id, tops.payment, _unfinished_payments()
        )
        next_refund, refunds = _ids_since(
            Refund, business, mark.last_refund_id, tops.refund, _unfinished_refunds()
        )
        read = payments.count() + refunds.count()
        if read:
            keys: list[str] | None = None  # every customer
            if read <= VALUES_BY_CUSTOMER_UP_TO:
                keys = sorted(
                    set(payments.values_list(Lower("customer_email"), flat=True))
                    | set(refunds.values_list(Lower("payment__customer_email"), flat=True))
                )
                keys = [key for key in keys if key]
            if keys is None or keys:
                _values_recompute(business, keys)
        mark.last_payment_id, mark.last_refund_id = next_payment, next_refund
        mark.save(update_fields=["last_payment_id", "last_refund_id"])
        return read


def _values_recompute(business: Business, keys: list[str] | None) -> None:
    """Replace the CustomerValue rows of the customers `keys` (None: all) with sums from the
    ledger, each with the customer's first payment in any currency."""
    quote = connection.ops.quote_name
    table = quote(CustomerValue._meta.db_table)
    payments, refunds = quote(Payment._meta.db_table), quote(Refund._meta.db_table)
    refund_done, paid = RefundState.SUCCEEDED.value, PaymentState.SUCCEEDED.value
    # A refund that came back (the customer's bank could not take it: a line puts its money
    # back in the balance) is not less value from the customer: they were never paid.
    lines = quote(BalanceTransaction._meta.db_table)
    stayed = f"NOT EXISTS (SELECT 1 FROM {lines} b WHERE b.refund_id = r.id AND b.kind = %s)"  # noqa: S608
    came_back = BalanceKind.ADJUSTMENT.value
    amount_params: list[str | int]
    join_params: list[str | int]
    if keys is None:
        # Everyone: refunds summed per payment once and joined (a subquery per payment took
        # seconds at a million payments).
        refunded_amount, amount_params = "COALESCE(rs.refunded, 0)", []
        refunded = (
            f"LEFT JOIN (SELECT r.payment_id, SUM(r.amount) AS refunded FROM {refunds} r "  # noqa: S608
            f"WHERE r.business_id = %s AND r.state = %s AND {stayed} GROUP BY r.payment_id) rs "
            "ON rs.payment_id = p.id"
        )
        join_params, only = [business.pk, refund_done, came_back], ""
    else:
        # A few customers: their payments' refunds one by one, through the payment's index.
        refunded_amount = (
            f"COALESCE((SELECT SUM(r.amount) FROM {refunds} r "  # noqa: S608
            f"WHERE r.payment_id = p.id AND r.state = %s AND {stayed}), 0)"
        )
        amount_params, refunded, join_params = [refund_done, came_back], "", []
        only = f" AND LOWER(p.customer_email) IN ({', '.join(['%s'] * len(keys))})"
    order_join, order, order_params = _starts_an_order_sql()
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE business_id = %s"  # noqa: S608
            + (f" AND email_key IN ({', '.join(['%s'] * len(keys))})" if keys is not None else ""),
            [business.pk, *(keys or [])],
        )
        cursor.execute(
            f"INSERT INTO {table} "  # noqa: S608
            "(business_id, email_key, currency, first_at, orders, revenue) "
            "SELECT business_id, email, currency, MIN(first_paid) OVER (PARTITION BY email), "
            "orders, revenue FROM ("
            "SELECT p.business_id AS business_id, LOWER(p.customer_email) AS email, "
            "p.currency AS currency, MIN(p.succeeded_at) AS first_paid, "
            f"SUM({order}) AS orders, SUM(p.amount + p.tip_amount - {refunded_amount}) AS revenue "
            f"FROM {payments} p {refunded}{order_join} "
            "WHERE p.business_id = %s AND p.state = %s AND p.succeeded_at IS NOT NULL "
            f"AND NOT (p.customer_email = ''){only} "
            "GROUP BY p.business_id, LOWER(p.customer_email), p.currency) per_currency",
            [
                *order_params,
                *amount_params,
                *join_params,
                business.pk,
                paid,
                *(keys or []),
            ],
        )


def _ids_since(
    model: type[LedgerRow],
    business: Business,
    since: int,
    top: int,
    unfinished: Q | None,
) -> tuple[int, Any]:
    """(new watermark, rows above the old one up to `top`) for one source table: below the
    first row that is `unfinished`."""
    window = model.objects.filter(business=business, pk__gt=since, pk__lte=top)
    if top <= since:
        return since, window.none()
    first = None if unfinished is None else window.filter(unfinished).aggregate(first=Min("pk"))
    waiting = None if first is None else first["first"]
    return (top if waiting is None else waiting - 1), window


def _unfinished_payments() -> Q:
    return Q(
        state__in=UNFINISHED_PAYMENTS,
        created_at__gte=timezone.now() - PAYMENT_FINISHES_WITHIN,
    )


def _unfinished_refunds() -> Q:
    """Refunds still pending hold the refund watermark as unfinished payments do, for a week:
    one still pending after that (a processor that never said, a bank debit's refund) no
    longer makes every refresh read every later refund again. If it succeeds after all,
    refund_settle has its payment read again, and with it the refund (below)."""
    return Q(state=RefundState.PENDING, created_at__gte=timezone.now() - PAYMENT_FINISHES_WITHIN)


def daily_ledger_refresh(*, business: Business, tops: Tops | None = None) -> int:
    """Recompute the DailyLedger days that payments, refunds or balance lines added since the
    last refresh touch. Returns the number of days recomputed (0 when the refresh had to skip
    a round)."""
    zone = business.zone
    tops = tops or settled_tops(business=business)
    if tops is None:
        return 0
    with transaction.atomic():
        mark = _locked_mark(business, DAILY)
        if mark.zone != business.timezone:
            DailyLedger.objects.filter(business=business).delete()
            mark.last_payment_id = mark.last_refund_id = mark.last_line_id = 0
            mark.zone = business.timezone
        next_payment, payments = _ids_since(
            Payment, business, mark.last_payment_id, tops.payment, _unfinished_payments()
        )
        next_refund, refunds = _ids_since(
            Refund, business, mark.last_refund_id, tops.refund, _unfinished_refunds()
        )
        next_line, lines = _ids_since(
            BalanceTransaction, business, mark.last_line_id, tops.line, None
        )
        touched: set[date] = set()
        # A payment read again (RollupReread) may be read for a refund of it that changed
        # after the refund watermark passed it: that refund's day is summed again too.
        read_again = Refund.objects.filter(
            business=business, state=RefundState.SUCCEEDED, payment__in=payments
        )
        for window, field in (
            (payments.filter(state=PaymentState.SUCCEEDED), "succeeded_at"),
            (refunds.filter(state=RefundState.SUCCEEDED), "succeeded_at"),
            (read_again, "succeeded_at"),
            # A refund also changes what its payment's day attributes to a campaign.
            (refunds.filter(state=RefundState.SUCCEEDED), "payment__succeeded_at"),
            (lines, "occurred_at"),
        ):
            touched.update(_days_touched(window, field, zone))
        days = sum(_recompute(business, first, last) for first, last in _runs(touched))
        _payout_contents(business, lines)
        mark.last_payment_id, mark.last_refund_id, mark.last_line_id = (
            next_payment,
            next_refund,
            next_line,
        )
        mark.save()
        return days


# Up to this many new rows, the days they touch are listed one by one; above it (an import),
# every day from the first to the last is recomputed: listing them meant converting each row's
# time to a local date (on SQLite a Python function call per row, a minute for a million rows)
# only to learn that nearly every day of the range was touched anyway.
EXACT_DAYS_UP_TO = 10_000


def _days_touched(window: Any, field: str, zone: tzinfo) -> set[date]:
    bounds = window.aggregate(first=Min(field), last=Max(field), rows=Count("pk"))
    if bounds["first"] is None:
        return set()
    if bounds["rows"] <= EXACT_DAYS_UP_TO:
        days = window.annotate(day=TruncDate(field, tzinfo=zone)).values_list("day", flat=True)
        return set(days.distinct().order_by())
    first, last = bounds["first"].astimezone(zone).date(), bounds["last"].astimezone(zone).date()
    return {first + timedelta(days=offset) for offset in range((last - first).days + 1)}


def _runs(days: set[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) runs: each run is recomputed with one set of queries."""
    runs: list[tuple[date, date]] = []
    for day in sorted(days):
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _payout_contents(business: Business, lines: Any) -> None:
    """Recompute the contents of every payout that new lines belong to."""
    touched = sorted(
        set(lines.exclude(payout=None).values_list("payout_id", flat=True).distinct().order_by())
    )
    for start in range(0, len(touched), 500):
        payout_contents_recompute(business=business, payout_ids=touched[start : start + 500])


_KINDS_SOLD = [BalanceKind.CHARGE, BalanceKind.REFUND]


def payout_contents_recompute(*, business: Business, payout_ids: Sequence[int]) -> None:
    """Store what each payout carried, summed from its lines again (in the transaction that
    linked them, or the refresh that read them)."""
    contents = payout_contents_summed(business=business, payout_ids=payout_ids)
    PayoutContents.objects.filter(business=business, payout_id__in=payout_ids).delete()
    PayoutContents.objects.bulk_create(contents.values())


def payout_contents_summed(
    *, business: Business, payout_ids: Sequence[int]
) -> dict[int, PayoutContents]:
    """{payout pk: what it carried}, from its lines, unsaved; all zero for a payout without
    lines (PayPal's withdrawals, a payout known only from the processor's word)."""
    sums = (
        BalanceTransaction.objects.filter(business=business, payout_id__in=payout_ids)
        .exclude(kind=BalanceKind.PAYOUT)
        .values("payout_id")
        .annotate(
            sales=Coalesce(Sum("gross", filter=Q(kind=BalanceKind.CHARGE)), 0),
            refunds=Coalesce(Sum("gross", filter=Q(kind=BalanceKind.REFUND)), 0),
            fees=Coalesce(Sum("fee", filter=Q(kind__in=_KINDS_SOLD)), 0),
            other=Coalesce(Sum("net", filter=~Q(kind__in=_KINDS_SOLD)), 0),
            lines=Count("id"),
        )
        .order_by()
    )
    contents = {pk: PayoutContents(business=business, payout_id=pk) for pk in sorted(payout_ids)}
    for row in sums:
        carried = contents[row["payout_id"]]
        carried.sales, carried.refunds = row["sales"], -row["refunds"]  # refunds shown positive
        carried.fees, carried.other, carried.lines = row["fees"], row["other"], row["lines"]
    return contents


def _day_pieces(field: str, zone: tzinfo, start: datetime, end: datetime) -> list[_Piece]:
    """[start, end) cut where `zone` changes its offset, each piece with its local day of `field`.

    On SQLite, TruncDate in a zone calls a Python function for every row (a million-row import
    spent seconds there); within one offset SQLite's own date() gives the local day. PostgreSQL
    converts natively, in one piece.
    """
    if connection.vendor != "sqlite":
        return [(start, end, TruncDate(field, tzinfo=zone))]
    cuts = [start]
    step = timedelta(days=1)
    moment = start.astimezone(UTC)  # in UTC, differences are real time across a DST change
    while moment < end:
        following = min(moment + step, end)
        if following.astimezone(zone).utcoffset() != moment.astimezone(zone).utcoffset():
            low, high = moment, following  # the offset changes in (low, high]: find where
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                same = middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset()
                low, high = (middle, high) if same else (low, middle)
            cuts.append(high.replace(microsecond=0))
        moment = following
    cuts.append(end)
    pieces: list[_Piece] = []
    for low, high in itertools.pairwise(cuts):
        offset = low.astimezone(zone).utcoffset() or timedelta(0)
        shift = Value(f"{int(offset.total_seconds()):+d} seconds")
        pieces.append((low, high, Func(F(field), shift, function="date", output_field=DateField())))
    return pieces


def _recompute(business: Business, first: date, last: date) -> int:
    """Replace the rows of every day from `first` to `last` with sums from the ledger."""
    zone = business.zone
    start = datetime.combine(first, time(0), tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone)
    rows: dict[tuple[date, str, str], DailyLedger] = {}

    def row(day: date, currency: str, utm: str | None) -> DailyLedger:
        key = (day, currency, (utm or "")[:300])
        if key not in rows:
            rows[key] = DailyLedger(
                business=business, day=day, currency=currency, utm_campaign=key[2]
            )
        return rows[key]

    for low, high, day in _day_pieces("succeeded_at", zone, start, end):
        for found in (
            Payment.objects.filter(
                business=business,
                state=PaymentState.SUCCEEDED,
                succeeded_at__gte=low,
                succeeded_at__lt=high,
            )
            .annotate(day=day, utm=payment_utm())
            .values("day", "currency", "utm")
            .annotate(
                gross=Sum(F("amount") + F("tip_amount")),
                tips=Sum("tip_amount"),
                tax=Sum("tax_amount"),
                fees=Sum(Coalesce("fee_amount", 0)),
                orders=Count("id", filter=starts_an_order()),
            )
        ):
            target = row(found["day"], found["currency"], found["utm"])
            target.gross += found["gross"]
            target.tips += found["tips"]
            target.tax += found["tax"]
            target.fees += found["fees"]
            target.orders += found["orders"]
        for found in (
            Refund.objects.filter(
                business=business,
                state=RefundState.SUCCEEDED,
                succeeded_at__gte=low,
                succeeded_at__lt=high,
            )
            .annotate(day=day)
            .values("day", "currency")
            .annotate(total=Sum("amount"))
        ):
            row(found["day"], found["currency"], "").refunds += found["total"]
    sold = Q(business=business, state=RefundState.SUCCEEDED)
    if connection.vendor == "postgresql":
        # What a refund's payment is anyway, spelled out for payment_state_idx: else PostgreSQL
        # reads every business's payments of the range. (SQLite goes from the business's
        # refunds; told, it went from the payments: a 200,000-payment refresh took minutes.)
        sold &= Q(payment__business=business, payment__state=PaymentState.SUCCEEDED)
    for low, high, day in _day_pieces("payment__succeeded_at", zone, start, end):
        for found in (
            Refund.objects.filter(
                sold, payment__succeeded_at__gte=low, payment__succeeded_at__lt=high
            )
            .annotate(day=day, utm=payment_utm("payment__"))
            .values("day", "payment__currency", "utm")
            .annotate(total=Sum("amount"))
        ):
            row(found["day"], found["payment__currency"], found["utm"]).refunds_of_sales += found[
                "total"
            ]
    unlinked = Q(kind=BalanceKind.REFUND, refund__isnull=True)
    fee_lines = Q(kind=BalanceKind.FEE)
    returned = Q(kind=BalanceKind.REFUND)
    # A chargeback: Stripe's line takes the sale's amount back (gross) and charges the dispute
    # fee (fee); a won dispute gives the amount back, sometimes the fee too.
    adjusted = Q(kind=BalanceKind.ADJUSTMENT)
    for low, high, day in _day_pieces("occurred_at", zone, start, end):
        for found in (
            BalanceTransaction.objects.filter(
                business=business, occurred_at__gte=low, occurred_at__lt=high
            )
            .filter(unlinked | fee_lines | returned | adjusted)
            .annotate(day=day)
            .values("day", "currency")
            .annotate(
                unlinked=Coalesce(Sum("gross", filter=unlinked), 0),
                fee_lines=Coalesce(Sum("net", filter=fee_lines), 0),
                returned=Coalesce(Sum("fee", filter=returned), 0),
                adjusted=Coalesce(Sum("gross", filter=adjusted), 0),
                adjusted_fees=Coalesce(Sum("fee", filter=adjusted), 0),
            )
        ):
            target = row(found["day"], found["currency"], "")
            target.unlinked_refunds -= found["unlinked"]  # refund lines are negative
            target.fee_lines -= found["fee_lines"]  # so are fee lines
            target.fee_lines += found["adjusted_fees"]  # fees are positive on other lines
            target.returned_fees += found["returned"]  # negative: fees given back lower the cost
            target.adjustments -= found["adjusted"]  # a chargeback is negative
    DailyLedger.objects.filter(business=business, day__gte=first, day__lte=last).delete()
    DailyLedger.objects.bulk_create(rows.values(), batch_size=2000)
    return (last - first).days + 1


def rollups_hold(*, business: Business, patience: str | None = None) -> bool:
    """Keep every refresh of `business`'s rollups waiting until the caller's transaction ends.

    For a transaction that writes many payments, refunds or balance lines (an import's
    commit, a payout's lines). The rollups read rows above a watermark id, but ids are taken
    when a row is written, not when it is committed: a refresh running while an import holds
    ids 100–50,000 uncommitted, after a card payment took id 50,001 and committed, would move
    the watermark past the import's rows for good. Holding the watermarks' rows makes that
    refresh wait for the commit, then read them.

    Another transaction holding them (another import of the business) is waited for; with
    `patience` (a PostgreSQL interval, "2s"), only that long: False then, holding nothing,
    and the caller's transaction still usable (a savepoint), so it can say it is waiting and
    try again.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("rollups_hold must run inside transaction.atomic().")
    if patience is None or connection.vendor != "postgresql":
        _watermarks_lock(business)
        return True
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('lock_timeout')")
            (previous,) = cursor.fetchone()
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [patience])
            _watermarks_lock(business)
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise  # not the wait running out: a lost connection must not be tried again
        return False  # the savepoint's rollback took its lock_timeout with it
    return True


LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's error code when lock_timeout runs out


def _watermarks_lock(business: Business) -> None:
    names = (VALUES, FIRSTS, DAILY)
    for name in names:
        RollupWatermark.objects.get_or_create(business=business, name=name)
    # Both rows at once, always in the same order: two holders cannot each wait for the other.
    list(
        RollupWatermark.objects.select_for_update()
        .filter(business=business, name__in=names)
        .order_by("name")
    )


def rollups_reread(
    *, business: Business, payment_ids: Iterable[int], names: Iterable[str] = READ_AGAIN
) -> None:
    """Have the next refreshes read payments again: they changed what they count after the
    rollups may have read them (a fee learnt after it succeeded, a failed payment that
    succeeded after all). Call it in the transaction that makes the change: the rows it leaves
    take no lock anyone waits for, and are seen only once the change is committed. Reading a
    payment twice is harmless (days are recomputed, first payments only move earlier).
    `names`: only those rollups (customer_values_reread)."""
    RollupReread.objects.bulk_create(
        RollupReread(business=business, name=name, payment_id=payment_id)
        for payment_id in payment_ids
        for name in names
    )


def lines_reread(*, business: Business, lines: Iterable[tuple[int, int]]) -> None:
    """Have the next refreshes read again balance lines linked to a payment after they were
    read, given as (line pk, payment pk): an imported refund line, counted on its own day as
    a refund of no known payment, now linked to the refund a webhook made known. The daily
    ledger sums the line's day again, and every rollup the payment (as rollups_reread)."""
    RollupReread.objects.bulk_create(
        RollupReread(
            business=business,
            name=name,
            payment_id=payment_id,
            line_id=line_id if name == DAILY else None,
        )
        for line_id, payment_id in lines
        for name in READ_AGAIN
    )


def customer_values_reread(*, business: Business, payment_ids: Iterable[int]) -> None:
    """A refund of these payments came back: the customers' lifetime values count it again
    (the daily ledger reads the line that says so by itself)."""
    rollups_reread(business=business, payment_ids=payment_ids, names=(VALUES,))


def rollups_refresh(*, business: Business) -> bool:
    """Everything the metrics read, brought up to date (cheap when nothing is new). False
    when live writes kept the business busy and this round was skipped."""
    tops = settled_tops(business=business)
    if tops is None:
        logger.info("Rollups of %s not refreshed: payments were being written", business.slug)
        return False
    customer_firsts_refresh(business=business, tops=tops)
    daily_ledger_refresh(business=business, tops=tops)
    return True
