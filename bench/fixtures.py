"""Tillbook-side set-up shared by suites: businesses and the customers they hold."""

from __future__ import annotations

from pathlib import Path

from bench.datasets.customers import write_customers_csv
from bench.registry import Context
from tillbook.core.models import Business
from tillbook.core.scoping import business_scope, unscoped
from tillbook.core.services import business_create
from tillbook.customers.services import customers_import_csv


def bench_business(slug: str) -> Business:
    with unscoped():
        return business_create(
            slug=slug, name=slug.title(), currency="USD", timezone_name="America/Chicago"
        )


def customers_csv(context: Context) -> Path:
    """The generated customer file at the run's scale, written once per run."""
    path = context.workdir / f"customers-{context.rows}-{context.seed}.csv"
    if not path.exists():
        write_customers_csv(path, context.rows, seed=context.seed)
    return path


SHARED_CUSTOMERS = "customers.business"


def business_with_customers(context: Context) -> Business:
    """A business holding the generated customers: the one customers.import filled when it
    ran earlier in this run, else a new one imported here (not timed)."""
    business = context.shared.get(SHARED_CUSTOMERS)
    if business is None:
        business = bench_business("bench-customers")
        with business_scope(business), customers_csv(context).open("rb") as stream:
            customers_import_csv(business=business, actor=None, stream=stream)
        context.shared[SHARED_CUSTOMERS] = business
    return business
