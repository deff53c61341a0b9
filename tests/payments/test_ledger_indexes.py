"""The ledger's two big tables index each link only where it is set, and the business only
through the composite indexes that start with it (migration payments/0002)."""

from __future__ import annotations

import pytest
from django.db import connection

from tillbook.payments.models import BalanceTransaction, Payment

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


def test_balance_lines_index_their_refund_only_where_set() -> None:
    indexes = _single_column_indexes(BalanceTransaction._meta.db_table)
    assert "business_id" not in indexes
    assert indexes["refund_id"] == ["balance_refund_idx"]


def test_a_customers_payments_are_still_found_through_the_partial_index() -> None:
    table = Payment._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # a near-empty table is scanned
            explain = "EXPLAIN"
        else:
            explain = "EXPLAIN QUERY PLAN"
        cursor.execute(f"{explain} SELECT id FROM {table} WHERE customer_id = %s", [1])  # noqa: S608 - name from model metadata
        plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
    assert "payment_customer_idx" in plan
