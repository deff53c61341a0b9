"""The ledger's two big tables index each link only where it is set, and the business only
through the composite indexes that start with it (migrations payments/0002 and 0009): every
index is written for each of the million rows a large import lands."""

from __future__ import annotations

import pytest
from django.db import connection

from tillbook.core.models import Business
from tillbook.core.scoping import business_scope
from tillbook.payments.models import BalanceTransaction, Payment
from tillbook.payments.selectors import payments_by_checkout

pytestmark = pytest.mark.django_db


def _single_column_indexes(table: str) -> dict[str, list[str]]:
    """{column: names of the non-unique indexes on that column alone}."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    indexes: dict[str, list[str]] = {}
    for name, details in found.items():
        if details["index"] and not details["unique"] and len(details["columns"]) == 1:
            indexes.setdefault(details["columns"][0], []).append(name)
    return indexes


def test_payments_index_their_links_only_where_set_and_the_business_only_in_composites() -> None:
    indexes = _single_column_indexes(Payment._meta.db_table)
    assert "business_id" not in indexes
    assert {
        column: indexes[column] for column in ("request_id", "customer_id", "recorded_by_id")
    } == {
        "request_id": ["payment_request_idx"],
        "customer_id": ["payment_customer_idx"],
        "recorded_by_id": ["payment_recorded_by_idx"],
    }


def _indexes_on(table: str) -> dict[tuple[str, ...], list[str]]:
    """{columns: names of the non-unique indexes on exactly those columns, in that order}."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    indexes: dict[tuple[str, ...], list[str]] = {}
    for name, details in found.items():
        if details["index"] and not details["unique"]:
            indexes.setdefault(tuple(details["columns"]), []).append(name)
    return indexes


def test_payments_are_found_by_time_only_within_their_business() -> None:
    indexes = _indexes_on(Payment._meta.db_table)
    assert ("succeeded_at",) not in indexes
    assert indexes[("business_id", "state", "succeeded_at")] == ["payment_state_idx"]
    assert indexes[("business_id", "provider", "checkout_reference")] == ["payment_checkout_idx"]


def test_balance_lines_index_their_links_only_where_set_and_their_time_by_business() -> None:
    indexes = _indexes_on(BalanceTransaction._meta.db_table)
    assert indexes == {
        ("business_id", "occurred_at"): ["balance_occurred_idx"],
        ("payment_id",): ["balance_payment_idx"],
        ("payout_id",): ["balance_payout_idx"],
        ("refund_id",): ["balance_refund_idx"],
    }
    conditions = {index.name: str(index.condition) for index in BalanceTransaction._meta.indexes}
    assert conditions == {
        "balance_occurred_idx": "None",
        "balance_payment_idx": "(AND: ('payment__isnull', False))",
        "balance_payout_idx": "(AND: ('payout__isnull', False))",
        "balance_refund_idx": "(AND: ('refund__isnull', False))",
    }


def _plan(sql: str, params: list[object]) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # a near-empty table is scanned
            explain = "EXPLAIN"
        else:
            explain = "EXPLAIN QUERY PLAN"
        cursor.execute(f"{explain} {sql}", params)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


def test_a_customers_payments_are_still_found_through_the_partial_index() -> None:
    table = Payment._meta.db_table
    plan = _plan(f"SELECT id FROM {table} WHERE customer_id = %s", [1])  # noqa: S608 - name from model metadata
    assert "payment_customer_idx" in plan


def test_a_checkouts_payment_is_found_through_the_partial_index(business: Business) -> None:
    with business_scope(business):
        found = payments_by_checkout(business=business, provider="stripe", reference="cs_test_1")
        sql, params = found.query.sql_with_params()
    assert "payment_checkout_idx" in _plan(sql, list(params))


@pytest.mark.parametrize(
    ("column", "index"),
    [("payment_id", "balance_payment_idx"), ("payout_id", "balance_payout_idx")],
)
def test_a_payments_or_payouts_lines_are_found_through_the_partial_index(
    column: str, index: str
) -> None:
    table = BalanceTransaction._meta.db_table
    assert index in _plan(f"SELECT id FROM {table} WHERE {column} = %s", [1])  # noqa: S608 - names from model metadata
