"""insights.dashboard and imports.stripe_balance.

insights.dashboard: what the back-office home computes (business_metrics for the period and
the previous one, revenue_by_day and top_offerings) for the last 90 days and the last two
years of a large business, p50 and p95 over --iterations runs. Baseline: DuckDB computing the
same aggregates (totals per currency, refunds, fees, payouts with their contents, new and
returning customers, spend and attributed revenue per campaign, the daily series, the
services by revenue) over the same rows, loaded from the same generated CSV files, in the
same run. The business also has staff, services and three bookings for every ten payments
(300k at --rows 1000000): the booking metrics (count, no-shows, booked and offered staff
time) are computed on both sides too, and the run checks that both sides agree on them and
on the new and returning customers before timing anything.

imports.stripe_balance: a Stripe balance history export of --rows rows (every documented
column; charges, refunds, fees and payouts, newest first) imported end to end into a fresh
business: reading and checking every row, landing, payouts and the rollups refresh (on
PostgreSQL in one pass, the file read in a thread while the rows before it land; on SQLite the
check first, keeping its records, then the landing).
Baseline: the csv module reading and parsing the same file, and executemany of its rows into
a plain table without indexes, in the same run. A second row compares with the ledger's floor:
the database itself copying those parsed rows into Tillbook's own tables (the payouts, a
payment per charge, a balance line per row with its raw row and its links) by INSERT … SELECT,
foreign-key checks included, rolled back after. That is about the least any loader, in any
language, can spend writing the same rows into the same tables: it says how much of an import's
time is Tillbook's and how much the ledger's own.
"""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from time import perf_counter

import duckdb
from django.db import connection, transaction
from django.utils import timezone

from bench import dbapi
from bench.datasets.booking_history import write_bookings
from bench.datasets.ledger import LedgerFiles, read_rows, write_ledger
from bench.fixtures import bench_business
from bench.registry import Context, Row, benchmark
from bench.suites.dashboard_bookings import (
    DUCKDB_OFFERINGS,
    duckdb_booking_figures,
    duckdb_bookings,
    load_bookings,
)
from bench.timing import seconds
from tillbook.core.bulk import insert_rows
from tillbook.core.models import Business
from tillbook.core.scoping import business_scope
from tillbook.customers.models import Customer
from tillbook.imports.landing import payouts_settle
from tillbook.imports.services import import_run_create, import_run_execute
from tillbook.imports.source import ImportSource
from tillbook.insights.customers import lifetime_value_by_cohort
from tillbook.insights.ledger import revenue_by_day
from tillbook.insights.offerings import top_offerings
from tillbook.insights.periods import Period
from tillbook.insights.rollups import rollups_refresh
from tillbook.insights.selectors import business_metrics
from tillbook.marketing.models import AdCampaign, AdSpendDay
from tillbook.payments.models import BalanceTransaction, Payment, Payout, Refund

ZONE = "America/Chicago"


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _load(business: Business, files: LedgerFiles) -> None:
    """Copy the generated rows into Tillbook's tables (ids offset past existing rows)."""
    b = business.pk
    with transaction.atomic(), business_scope(business):
        offsets = {
            model: (model._base_manager.order_by("-pk").values_list("pk", flat=True).first() or 0)
            for model in (Payment, Refund, BalanceTransaction, Payout, AdCampaign)
        }
        emails = sorted({row[8] for row in read_rows(files.payments)})
        now = timezone.now()
        insert_rows(
            Customer,
            ("business", "email", "name", "phone", "marketing_consent", "consent_source",
             "notes", "first_touch", "latest_touch", "acquisition_source", "acquisition_medium",
             "acquisition_campaign", "created_at", "updated_at"),
            ((b, email, "", "", False, "", "", "{}", "{}", "", "", "", now, now)
             for email in emails),
        )  # fmt: skip
        p = offsets[Payment]
        insert_rows(
            Payment,
            ("id", "business", "provider", "source", "state", "currency", "amount", "tip_amount",
             "tax_amount", "fee_amount", "provider_reference", "checkout_reference", "method",
             "customer_email", "description", "metadata", "raw", "failure_reason", "created_at",
             "succeeded_at"),
            ((p + int(r[0]), b, r[1], "import", "succeeded", r[2], int(r[3]), int(r[4]),
              int(r[5]), int(r[6]), r[7], "", "", r[8], "", r[9], "{}", "", _moment(r[10]),
              _moment(r[10])) for r in read_rows(files.payments)),
        )  # fmt: skip
        o = offsets[Payout]
        insert_rows(
            Payout,
            ("id", "business", "provider", "provider_reference", "source", "state", "currency",
             "amount", "arrival_date", "raw", "created_at"),
            ((o + int(r[0]), b, r[1], r[2], "import", "paid", r[3], 0, date.fromisoformat(r[5]),
              "{}", now) for r in read_rows(files.payouts)),
        )  # fmt: skip
        insert_rows(
            BalanceTransaction,
            ("id", "business", "provider", "provider_reference", "source", "kind", "currency",
             "gross", "fee", "net", "occurred_at", "payment", "payout", "description", "raw"),
            ((offsets[BalanceTransaction] + int(r[0]), b, r[1], r[2], "import", r[3], r[4],
              int(r[5]), int(r[6]), int(r[7]), _moment(r[8]), p + int(r[9]), o + int(r[10]),
              "", "{}") for r in read_rows(files.lines)),
        )  # fmt: skip
        insert_rows(
            Refund,
            ("id", "business", "payment", "source", "state", "currency", "amount", "reason",
             "idempotency_key", "provider_reference", "failure_reason", "releases_capacity",
             "raw", "created_at", "succeeded_at"),
            ((offsets[Refund] + int(r[0]), b, p + int(r[1]), "import", "succeeded", r[2],
              int(r[3]), "", f"bench:{b}:{r[4]}", r[4], "", False, "{}", _moment(r[5]),
              _moment(r[5])) for r in read_rows(files.refunds)),
        )  # fmt: skip
        c = offsets[AdCampaign]
        insert_rows(
            AdCampaign,
            ("id", "business", "platform", "external_id", "name", "created_at"),
            ((c + int(r[0]), b, r[1], "", r[2], now) for r in read_rows(files.campaigns)),
        )
        insert_rows(
            AdSpendDay,
            ("business", "campaign", "ad_group", "day", "currency", "spend", "clicks",
             "impressions", "conversions", "raw"),
            ((b, c + int(r[0]), "", date.fromisoformat(r[1]), r[2], int(r[3]), int(r[4]),
              int(r[5]), 0, "{}") for r in read_rows(files.ad_days)),
        )  # fmt: skip
        payouts_settle(
            business=business,
            payout_ids=Payout.objects.filter(business=business).values_list("pk", flat=True),
        )
        rollups_refresh(business=business)  # as an import does after landing
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for model in (Payment, Refund, BalanceTransaction, Payout, AdCampaign, Customer):
                table = model._meta.db_table
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT MAX(id) FROM {table}))"
                )
        # A settled installation has been vacuumed (autovacuum): index-only scans then skip
        # the table, as they would in production, instead of checking every row's visibility.
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def _duckdb(files: LedgerFiles) -> duckdb.DuckDBPyConnection:
    db = duckdb.connect()
    db.execute(f"SET TimeZone = '{ZONE}'")
    for name in ("payments", "refunds", "lines", "payouts", "campaigns", "ad_days"):
        path = getattr(files, name)
        db.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv('{path}', header = true)")
    # Payout amounts as Tillbook settles them: the sum of their lines.
    db.execute(
        "UPDATE payouts SET amount = t.total FROM (SELECT payout_id, SUM(net) AS total "
        "FROM lines GROUP BY payout_id) t WHERE payouts.id = t.payout_id"
    )
    return db


# The generated payments are all imported (none pays a payment request), so each is an order
# and COUNT(*) counts what Tillbook's orders count (insights.rollups.starts_an_order).
DUCKDB_QUERIES = [
    # Totals per currency: payments, refunds, fee lines (here: none besides charges).
    """SELECT currency, SUM(amount + tip_amount), SUM(tip_amount), SUM(tax_amount),
              SUM(fee_amount), COUNT(*)
       FROM payments WHERE succeeded_at >= $start AND succeeded_at < $end GROUP BY currency""",
    """SELECT currency, SUM(amount) FROM refunds
       WHERE succeeded_at >= $start AND succeeded_at < $end GROUP BY currency""",
    """SELECT currency, SUM(gross) FILTER (WHERE kind = 'refund'),
              SUM(net) FILTER (WHERE kind = 'fee'), SUM(fee) FILTER (WHERE kind = 'refund')
       FROM lines WHERE occurred_at >= $start AND occurred_at < $end
         AND kind IN ('refund', 'fee') GROUP BY currency""",
    # Payouts with their contents.
    """SELECT p.provider, p.currency, p.id, p.amount,
              SUM(l.gross) FILTER (WHERE l.kind = 'charge'), SUM(l.fee), COUNT(l.id)
       FROM payouts p LEFT JOIN lines l ON l.payout_id = p.id
       WHERE p.arrival_date BETWEEN $first AND $last GROUP BY ALL""",
    # New and returning customers.
    """SELECT COUNT(*), COUNT(*) FILTER (WHERE first >= $start) FROM (
         SELECT lower(customer_email) AS email, MIN(succeeded_at) AS first,
                COUNT(*) FILTER (WHERE succeeded_at >= $start AND succeeded_at < $end) AS n
         FROM payments GROUP BY 1) WHERE n > 0""",
    # Spend per campaign, attributed revenue and refunds per UTM campaign.
    """SELECT campaign_id, currency, SUM(spend), SUM(clicks), SUM(impressions) FROM ad_days
       WHERE day BETWEEN $first AND $last GROUP BY ALL""",
    """SELECT json_extract_string(metadata, '$.utm_campaign') AS utm,
              SUM(amount + tip_amount - fee_amount), COUNT(*)
       FROM payments WHERE currency = 'USD' AND succeeded_at >= $start AND succeeded_at < $end
         AND json_extract_string(metadata, '$.utm_campaign') IS NOT NULL GROUP BY 1""",
    """SELECT json_extract_string(p.metadata, '$.utm_campaign'), SUM(r.amount)
       FROM refunds r JOIN payments p ON p.id = r.payment_id
       WHERE p.currency = 'USD' AND p.succeeded_at >= $start AND p.succeeded_at < $end
         AND json_extract_string(p.metadata, '$.utm_campaign') IS NOT NULL GROUP BY 1""",
    # The daily series.
    """SELECT (succeeded_at AT TIME ZONE 'America/Chicago')::date AS day,
              SUM(amount + tip_amount), SUM(fee_amount)
       FROM payments WHERE currency = 'USD' AND succeeded_at >= $start AND succeeded_at < $end
       GROUP BY 1""",
    """SELECT (succeeded_at AT TIME ZONE 'America/Chicago')::date, SUM(amount) FROM refunds
       WHERE currency = 'USD' AND succeeded_at >= $start AND succeeded_at < $end GROUP BY 1""",
]


def _values(current: Period) -> dict[str, object]:
    return {
        "start": current.start,
        "end": current.end,
        "first": current.first,
        "last": current.last,
    }


def _duckdb_dashboard(db: duckdb.DuckDBPyConnection, period: Period) -> None:
    # The dashboard computes the period and the previous one; so does the baseline.
    for current in (period, period.previous()):
        values = _values(current)
        for query in DUCKDB_QUERIES:
            used = {name: value for name, value in values.items() if f"${name}" in query}
            db.execute(query, used).fetchall()
        duckdb_booking_figures(db, values)
    # The top offerings card is drawn for the chosen period only.
    db.execute(DUCKDB_OFFERINGS, {"start": period.start, "end": period.end}).fetchall()


def _same_figures(business: Business, db: duckdb.DuckDBPyConnection, period: Period) -> None:
    """Both sides must compute the same bookings and customers, or the race is not fair."""
    for current in (period, period.previous()):
        with business_scope(business):
            ours = business_metrics(business=business, period=current).current
        b = ours.bookings
        mine = (b.bookings, b.completed, b.no_shows, b.cancelled, b.booked_minutes)
        theirs = duckdb_booking_figures(db, _values(current))
        customers = {"start": current.start, "end": current.end}
        paying, new = db.execute(DUCKDB_QUERIES[4], customers).fetchone() or (0, 0)
        if (*mine, b.offered_minutes, ours.customers.new, ours.customers.returning) != (
            *theirs,
            new,
            paying - new,
        ):
            raise RuntimeError(f"Tillbook and DuckDB disagree for {current}: {ours} {theirs}")


# Lifetime value by cohort (the customers report): each customer's month of first payment in
# any currency, then per currency what they paid less succeeded refunds.
DUCKDB_COHORTS = """
    SELECT date_trunc('month', first_any AT TIME ZONE 'America/Chicago')::date, currency,
           COUNT(*), SUM(orders), SUM(revenue)
    FROM (SELECT currency, orders, revenue, MIN(first_paid) OVER (PARTITION BY email) AS first_any
          FROM (SELECT lower(p.customer_email) AS email, p.currency,
                       MIN(p.succeeded_at) AS first_paid, COUNT(*) AS orders,
                       SUM(p.amount + p.tip_amount - COALESCE(r.refunded, 0)) AS revenue
                FROM payments p LEFT JOIN (SELECT payment_id, SUM(amount) AS refunded
                                           FROM refunds GROUP BY 1) r ON r.payment_id = p.id
                GROUP BY 1, 2))
    GROUP BY 1, 2"""


def _same_cohorts(business: Business, db: duckdb.DuckDBPyConnection) -> None:
    with business_scope(business):
        ours = lifetime_value_by_cohort(business=business)
    mine = sorted((c.month, c.currency, c.customers, c.orders, c.revenue) for c in ours)
    theirs = sorted(tuple(int(v) if i > 1 else v for i, v in enumerate(row))
                    for row in db.execute(DUCKDB_COHORTS).fetchall())  # fmt: skip
    if mine != theirs:
        raise RuntimeError(f"Tillbook and DuckDB disagree on cohorts: {mine[:3]} {theirs[:3]}")


def _tillbook_cohorts(business: Business) -> None:
    with business_scope(business):
        lifetime_value_by_cohort(business=business)


def _tillbook_dashboard(business: Business, period: Period) -> None:
    with business_scope(business):
        metrics = business_metrics(business=business, period=period)
        revenue_by_day(business=business, period=period)
        services = metrics.current.bookings.by_service  # as the dashboard view passes them
        top_offerings(business=business, period=period, services=services)


@benchmark("insights.dashboard")
def insights_dashboard(context: Context) -> list[Row]:
    business = bench_business("bench-insights")
    today = timezone.localtime(timezone.now(), business.zone).date()
    files = write_ledger(context.workdir, payments=context.rows, seed=context.seed, today=today)
    booking_files = write_bookings(
        context.workdir,
        bookings=context.rows * 3 // 10,
        seed=context.seed,
        first=files.first_day,
        last=today,
        zone=ZONE,
        now=timezone.now(),
    )

    def load() -> None:
        load_bookings(business, booking_files)
        _load(business, files)

    load_seconds = seconds(load)
    db = _duckdb(files)
    duckdb_bookings(db, booking_files)
    rows: list[Row] = []
    for label, days in (("90d", 90), ("2y", 730)):
        period = Period(today - timedelta(days=days - 1), today, business.zone)
        _same_figures(business, db, period)
        _tillbook_dashboard(business, period)  # warm caches on both sides alike
        _duckdb_dashboard(db, period)
        ours, theirs = [], []
        for _ in range(context.iterations):
            with context.profiled(f"insights.dashboard.{label}"):
                ours.append(seconds(partial(_tillbook_dashboard, business, period)))
            theirs.append(seconds(partial(_duckdb_dashboard, db, period)))
        rows += Row.latencies(
            f"insights.dashboard.{label}.p{{percent}}",
            ours=ours,
            theirs=theirs,
            note=f"{context.rows:,} payments, {context.rows * 3 // 10:,} bookings "
            f"(loaded in {load_seconds:.0f}s); DuckDB over the same rows",
        )
    _same_cohorts(business, db)
    ours = [seconds(partial(_tillbook_cohorts, business)) for _ in range(context.iterations)]
    theirs = [seconds(lambda: db.execute(DUCKDB_COHORTS).fetchall()) for _ in ours]
    rows += Row.latencies(
        "insights.cohorts.p{percent}",
        ours=ours,
        theirs=theirs,
        note="lifetime value by monthly cohort, all time; DuckDB over the same rows",
    )
    # The first view after a sale sums that customer again (their earlier payments are found
    # by email); DuckDB, which keeps no rollup, computes the table as before. Both get the sale.
    ours, theirs = [], []
    for _ in range(context.iterations):
        ours.append(_cohorts_after_sale(business))
        db.execute(DUCKDB_SALE_AGAIN)
        theirs.append(seconds(lambda: db.execute(DUCKDB_COHORTS).fetchall()))
    _same_cohorts(business, db)
    rows += Row.latencies(
        "insights.cohorts.after_sale.p{percent}",
        ours=ours,
        theirs=theirs,
        note="the same table after one new sale (its customer summed again)",
    )
    return rows


# The first payment once more, as _cohorts_after_sale makes it (the same customer, time and
# amount; the copy takes the next id).
DUCKDB_SALE_AGAIN = """
    INSERT INTO payments SELECT * REPLACE ((SELECT MAX(id) + 1 FROM payments) AS id)
    FROM payments WHERE id = (SELECT MIN(id) FROM payments)"""


def _cohorts_after_sale(business: Business) -> float:
    """Seconds the cohort table takes after the business's first payment is made once more
    (the same customer, time and amount: a repeat purchase)."""
    with business_scope(business):
        first = Payment.objects.filter(business=business).earliest("pk")
        Payment.objects.create(
            business=business,
            provider=first.provider,
            state="succeeded",
            currency=first.currency,
            amount=first.amount,
            tip_amount=first.tip_amount,
            customer_email=first.customer_email,
            created_at=first.created_at,
            succeeded_at=first.succeeded_at,
        )
    return seconds(partial(_tillbook_cohorts, business))


PLAIN_TABLE = "bench_plain_balance"


BALANCE_COLUMNS = [
    "id", "Type", "Source", "Amount", "Fee", "Net", "Currency", "Created (UTC)",
    "Available On (UTC)", "Description", "Customer Facing Amount", "Customer Facing Currency",
    "Transfer", "Transfer Date (UTC)", "Transfer Group", "Status",
]  # fmt: skip
PAYOUT_EVERY = 2000  # rows between payouts, as a busy shop's daily payout


def _stripe_export(path: Path, rows: int, today: date) -> None:
    """A balance history with Stripe's documented columns: charges, about 4% refunds, 1% Stripe
    fees, and a payout closing every 2,000 rows, each line naming its payout. Like Stripe's
    export, the rows run newest first, over the last two years."""
    end = datetime.combine(today, datetime.min.time())
    step = 700 * 86400 / max(rows, 1)
    with path.open("w", newline="") as stream:
        out = csv.writer(stream)
        out.writerow(BALANCE_COLUMNS)
        for n in range(rows):
            moment = end - timedelta(seconds=int(n * step))
            stamp = moment.strftime("%Y-%m-%d %H:%M:%S")
            payout = f"po_{n // PAYOUT_EVERY}"
            paid = (moment + timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
            if n % PAYOUT_EVERY == PAYOUT_EVERY - 1 or n == rows - 1:
                kind, source, amount, fee = "payout", payout, -(1000 + n % 900_000), 0
                description = "STRIPE PAYOUT"
            elif n % 25 == 7:
                kind, source, amount, fee = "refund", f"re_{n}", -(1000 + (n * 31) % 20000), 0
                description = "REFUND FOR CHARGE"
            elif n % 100 == 13:
                kind, source, amount, fee = "stripe_fee", "", -200, 0
                description = "Radar fee"
            else:
                kind, source = "charge", f"ch_{n}"
                amount = 2500 + (n * 7919) % 50000
                fee = amount * 29 // 1000 + 30
                description = f"Sale {n}"
            major = f"{amount / 100:.2f}"
            out.writerow([f"txn_{n}", kind, source, major, f"{fee / 100:.2f}",
                          f"{(amount - fee) / 100:.2f}", "usd", stamp, stamp, description,
                          major, "usd", payout, paid, "", "available"])  # fmt: skip


def _plain_load(path: Path) -> None:
    cursor = dbapi.raw_cursor()
    cursor.execute(f"DROP TABLE IF EXISTS {PLAIN_TABLE}")
    cursor.execute(
        f"CREATE TABLE {PLAIN_TABLE} (reference varchar(255), kind varchar(20), "
        "source varchar(255), gross bigint, fee bigint, net bigint, currency varchar(3), "
        "occurred_at varchar(32), available_on varchar(32), description text, payout text, "
        "status varchar(20))"
    )
    with path.open(newline="") as stream:
        reader = csv.reader(stream)
        next(reader)
        rows = [
            (r[0], r[1], r[2], round(float(r[3]) * 100), round(float(r[4]) * 100),
             round(float(r[5]) * 100), r[6], r[7], r[8], r[9], r[12], r[15])
            for r in reader
        ]  # fmt: skip
    statement = dbapi.sql(f"INSERT INTO {PLAIN_TABLE} VALUES ({', '.join(['%s'] * 12)})")
    with transaction.atomic():
        cursor.executemany(statement, rows)
    cursor.close()


def _ledger_floor(business: Business) -> float:
    """Seconds the database takes to write the plain table's rows into the ledger itself.

    The same rows Tillbook's import writes for this file: its payouts, one payment per charge,
    one balance line per row (its raw row as JSON, linked to its payment and payout), with the
    indexes and the foreign-key checks Tillbook pays. Measured in a transaction rolled back
    after, so the import that follows meets the same tables.
    """
    b = business.pk
    tables = {
        model: connection.ops.quote_name(model._meta.db_table)
        for model in (Payment, Payout, BalanceTransaction)
    }
    postgres = connection.vendor == "postgresql"

    def moment(column: str) -> str:
        return f"CAST(line.{column} AS timestamptz)" if postgres else f"line.{column}"

    day = "CAST(line.available_on AS date)" if postgres else "substr(line.available_on, 1, 10)"
    pairs = [
        ("id", "reference"), ("Type", "kind"), ("Source", "source"), ("Amount", "gross"),
        ("Fee", "fee"), ("Net", "net"), ("Currency", "currency"),
        ("Created (UTC)", "occurred_at"), ("Available On (UTC)", "available_on"),
        ("Description", "description"), ("Transfer", "payout"), ("Status", "status"),
    ]  # fmt: skip
    raw = "{}({})".format(
        "json_build_object" if postgres else "json_object",
        ", ".join(f"'{key}', line.{column}" for key, column in pairs),
    )
    statements = [
        f"INSERT INTO {tables[Payout]} (business_id, provider, provider_reference, source, "
        "state, currency, amount, arrival_date, raw, created_at) "
        f"SELECT {b}, 'stripe', line.source, 'import', 'paid', upper(line.currency), "
        f"-line.gross, {day}, {raw}, {moment('occurred_at')} "
        f"FROM {PLAIN_TABLE} line WHERE line.kind = 'payout'",
        f"INSERT INTO {tables[Payment]} (business_id, provider, source, state, currency, amount, "
        "tip_amount, tax_amount, fee_amount, provider_reference, checkout_reference, method, "
        "customer_email, description, metadata, raw, failure_reason, created_at, succeeded_at) "
        f"SELECT {b}, 'stripe', 'import', 'succeeded', upper(line.currency), line.gross, 0, 0, "
        "line.fee, line.source, '', '', '', line.description, '{}', '{}', '', "
        f"{moment('occurred_at')}, {moment('occurred_at')} "
        f"FROM {PLAIN_TABLE} line WHERE line.kind = 'charge'",
        f"INSERT INTO {tables[BalanceTransaction]} (business_id, provider, provider_reference, "
        "source, kind, currency, gross, fee, net, occurred_at, available_on, payment_id, "
        "payout_id, description, raw) "
        f"SELECT {b}, 'stripe', line.reference, 'import', "
        "CASE line.kind WHEN 'stripe_fee' THEN 'fee' ELSE line.kind END, upper(line.currency), "
        f"line.gross, line.fee, line.net, {moment('occurred_at')}, {moment('available_on')}, "
        f"payment.id, payout.id, line.description, {raw} "
        f"FROM {PLAIN_TABLE} line "
        f"LEFT JOIN {tables[Payment]} payment ON line.kind = 'charge' "
        f"AND payment.business_id = {b} AND payment.provider = 'stripe' "
        "AND NOT payment.provider_reference = '' AND payment.provider_reference = line.source "
        f"LEFT JOIN {tables[Payout]} payout ON payout.business_id = {b} "
        "AND payout.provider = 'stripe' AND payout.provider_reference = line.payout",
    ]
    if postgres:  # the foreign keys are checked at commit: check them now, then roll back
        statements.append("SET CONSTRAINTS ALL IMMEDIATE")
    cursor = dbapi.raw_cursor()
    try:
        with transaction.atomic():
            start = perf_counter()
            for statement in statements:
                cursor.execute(statement)
            took = perf_counter() - start
            # Every line written, each charge linked to its payment and each to its payout.
            cursor.execute(
                f"SELECT count(*), count(payment_id), count(payout_id) "
                f"FROM {tables[BalanceTransaction]} WHERE business_id = {b}"
            )
            written = tuple(cursor.fetchone())
            cursor.execute(
                f"SELECT count(*), sum(CASE WHEN kind = 'charge' THEN 1 ELSE 0 END), count(*) "
                f"FROM {PLAIN_TABLE}"
            )
            expected = tuple(cursor.fetchone())
            transaction.set_rollback(True)
    finally:
        cursor.close()
    if written != expected:
        raise RuntimeError(f"Floor lines (all, paid, paid out): {written}, not {expected}.")
    if postgres:  # the rolled-back rows' index entries, cleared before the import meets them
        with connection.cursor() as vacuum:
            vacuum.execute(f"VACUUM ANALYZE {', '.join(tables.values())}")
    return took


@benchmark("imports.stripe_balance")
def stripe_balance_import(context: Context) -> list[Row]:
    business = bench_business("bench-stripe-import")
    path = context.workdir / "balance_history.csv"
    _stripe_export(path, context.rows, timezone.localdate())
    baseline = seconds(lambda: _plain_load(path))
    floor = _ledger_floor(business)
    outcome = []

    def run() -> None:
        with business_scope(business):
            created = import_run_create(
                business=business, actor=None, file_name=path.name, enqueue=False
            )
            outcome.append(import_run_execute(run=created, source=ImportSource.from_path(path)))

    with context.profiled("imports.stripe_balance"):
        ours = seconds(run)
    if outcome[0].imported != context.rows:
        raise RuntimeError(f"Expected {context.rows} rows imported, got {outcome[0].message}")
    rate = partial(Row.compare, figure=context.rows / ours, unit="rows/s", higher_is_better=True)
    return [
        rate(
            "imports.stripe_balance",
            baseline=context.rows / baseline,
            note=f"{context.rows:,} rows: {ours:.1f}s vs {baseline:.1f}s (csv + executemany)",
        ),
        rate(
            "imports.stripe_balance.floor",
            baseline=context.rows / floor,
            note=f"the database writing the same ledger rows itself: {floor:.1f}s",
        ),
    ]
