"""customers.search: the back-office customer list, page 1, over the generated customers.

Tillbook: `customers_search(...)` paginated as the list view does (Paginator, 50 a page,
page 1: the count, then the first 50 rows as Customer objects).
Baseline: the selector's filters written by hand as a person would (the business compared
once, case-insensitive matching as in `dbapi.ilike`), COUNT(*) then at most 50 rows, through
the DB-API on the same tables, so both sides read the same rows with the same indexes. Where
the planner still picks a different plan for the two texts, the difference is Tillbook's to
own: on SQLite the business_id test that Tillbook's SQL repeats (the tenant manager and the
selector both add it) steers the tag search to walk the name index.

Each kind of search uses several query values, and Tillbook and baseline alternate call by
call (and swap who goes first) so that cache warmth and background noise fall on both alike.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django.core.paginator import Paginator
from django.db import connection

from bench import dbapi
from bench.datasets.customers import AREA_CODES, DOMAINS, FIRST_NAMES, LAST_NAMES, TAGS
from bench.fixtures import business_with_customers
from bench.registry import Context, Row, benchmark
from bench.timing import percentile, seconds
from tillbook.core.models import Business
from tillbook.core.scoping import business_scope
from tillbook.customers.models import Customer, Tag
from tillbook.customers.selectors import customers_search

PAGE_SIZE = 50
VALUES_PER_KIND = 8


@dataclass(frozen=True)
class Search:
    kind: str
    query: str = ""
    tag: str = ""
    consent: bool | None = None


def search_mix(seed: int) -> list[Search]:
    """What staff type into the search box, drawn from the generator's own vocabulary."""
    picker = random.Random(seed)
    mix: list[Search] = []
    for _ in range(VALUES_PER_KIND):
        name = picker.choice(FIRST_NAMES + LAST_NAMES).lower()
        start = picker.randrange(max(1, len(name) - 3))
        mix.append(Search("name", query=name[start : start + picker.randint(3, 5)]))
        mix.append(Search("email", query=_email_fragment(picker)))
        mix.append(Search("phone", query=_phone_fragment(picker)))
        mix.append(Search("tag", tag=picker.choice(TAGS)))
        mix.append(Search("consent", consent=picker.random() < 0.5))
    return mix


def _email_fragment(picker: random.Random) -> str:
    # A surname plus the start of the running number, or a domain typed in part.
    if picker.random() < 0.7:
        return f"{picker.choice(LAST_NAMES).lower().replace(chr(39), '')}{picker.randint(1, 99)}"
    return picker.choice(DOMAINS)[: picker.randint(5, 9)]


def _phone_fragment(picker: random.Random) -> str:
    # The last four digits someone reads out, or the area code and exchange.
    if picker.random() < 0.6:
        return f"{picker.randrange(10_000):04d}"
    return f"{picker.choice(AREA_CODES)}555{picker.randint(0, 9)}"


@benchmark("customers.search")
def customers_search_latency(context: Context) -> list[Row]:
    business = business_with_customers(context)
    # Fresh statistics, as autovacuum would have gathered on a live installation; both sides
    # query the same tables, so both get the same plans.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    mix = search_mix(context.seed)
    tillbook: dict[str, list[float]] = defaultdict(list)
    baseline: dict[str, list[float]] = defaultdict(list)
    with business_scope(business):
        for search in mix:  # warm-up: first calls pay for query compilation and cold pages
            _tillbook_page(business, search)
            _baseline_page(business, search)
        for iteration in range(context.iterations):
            for search in mix:
                measurements: list[tuple[list[float], Callable[[], object]]] = [
                    (tillbook[search.kind], _profiled_page(context, business, search)),
                    (baseline[search.kind], partial(_baseline_page, business, search)),
                ]
                if iteration % 2:
                    measurements.reverse()
                for samples, call in measurements:
                    samples.append(seconds(call))
    return _rows(tillbook, baseline)


def _profiled_page(context: Context, business: Business, search: Search) -> Callable[[], object]:
    def call() -> object:
        with context.profiled("customers.search"):
            return _tillbook_page(business, search)

    return call


def _tillbook_page(business: Business, search: Search) -> tuple[int, list[Customer]]:
    queryset = customers_search(
        business=business, query=search.query, tag=search.tag, consent=search.consent
    )
    page = Paginator(queryset, PAGE_SIZE).get_page(1)
    return page.paginator.count, list(page.object_list)


_SELECT = (
    "c.id, c.business_id, c.email, c.name, c.phone, c.marketing_consent, c.consent_at, "
    "c.consent_source, c.notes, c.created_at, c.updated_at"
)


def _baseline_page(business: Business, search: Search) -> tuple[int, list[tuple[object, ...]]]:
    where, params, joins = _baseline_where(business, search)
    customers = Customer._meta.db_table
    cursor = dbapi.raw_cursor()
    cursor.execute(dbapi.sql(f"SELECT COUNT(*) FROM {customers} c{joins} WHERE {where}"), params)
    count = cursor.fetchone()[0]
    # Like Django's Paginator, ask for no more rows than the count promises. This matters: when
    # fewer than 50 match, LIMIT 50 makes the database look through every candidate for rows
    # that do not exist, while LIMIT <count> stops at the last match.
    rows = []
    if count:
        cursor.execute(
            dbapi.sql(
                f"SELECT {_SELECT} FROM {customers} c{joins} WHERE {where} "
                f"ORDER BY c.name, c.email LIMIT {min(count, PAGE_SIZE)}"
            ),
            params,
        )
        rows = cursor.fetchall()
    cursor.close()
    return count, rows


def _baseline_where(business: Business, search: Search) -> tuple[str, list[object], str]:
    """The selector's filters as hand-written SQL (the selector is the specification)."""
    conditions = ["c.business_id = %s"]
    params: list[object] = [business.pk]
    joins = ""
    query = search.query.strip()
    if query:
        alternatives = [dbapi.ilike("c.name"), dbapi.ilike("c.email")]
        params += [f"%{query}%", f"%{query}%"]
        digits = "".join(ch for ch in query if ch.isdigit())
        if len(digits) >= 4:
            alternatives.append("c.phone LIKE %s")
            params.append(f"%{digits}%")
        conditions.append(f"({' OR '.join(alternatives)})")
    if search.tag:
        through = Customer.tags.through._meta.db_table
        tags = Tag._meta.db_table
        joins = f" JOIN {through} ct ON ct.customer_id = c.id JOIN {tags} t ON t.id = ct.tag_id"
        conditions.append(dbapi.ilike("t.name"))
        params.append(search.tag)
    if search.consent is not None:
        conditions.append("c.marketing_consent = %s")
        params.append(search.consent)
    return " AND ".join(conditions), params, joins


def _rows(tillbook: dict[str, list[float]], baseline: dict[str, list[float]]) -> list[Row]:
    def milliseconds(samples: list[float], percent: int) -> float:
        return percentile(samples, percent) * 1000

    every_tillbook = [sample for samples in tillbook.values() for sample in samples]
    every_baseline = [sample for samples in baseline.values() for sample in samples]
    rows = [
        Row.compare(
            f"customers.search p{percent} (mix)",
            figure=milliseconds(every_tillbook, percent),
            baseline=milliseconds(every_baseline, percent),
            unit="ms",
            higher_is_better=False,
            note=f"{len(every_tillbook)} searches, page 1 of {PAGE_SIZE} + count",
        )
        for percent in (50, 95)
    ]
    for kind, samples in tillbook.items():
        p95 = milliseconds(samples, 95)
        baseline_p95 = milliseconds(baseline[kind], 95)
        rows.append(
            Row.compare(
                f"customers.search p50 {kind}",
                figure=milliseconds(samples, 50),
                baseline=milliseconds(baseline[kind], 50),
                unit="ms",
                higher_is_better=False,
                note=f"p95 {p95:.3g} vs {baseline_p95:.3g} ms",
            )
        )
    return rows
