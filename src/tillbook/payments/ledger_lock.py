"""New ledger rows of a business become visible in the order of their ids, as the rollups need.

The rollups read payments, refunds and balance lines above a watermark id
(insights/rollups.py). PostgreSQL hands out an id when a row is written, not when it is
committed: a refresh that read the highest id while a checkout had written id 41 and not yet
committed, just after a webhook committed id 42, moved the watermark to 42 and never read 41
(the dashboard lost that payment for good).

So every transaction that inserts a payment, refund or balance line one by one holds a shared
lock on its business until it ends (`ledger_insert_lock`, called by the models' save), and a
refresh reads the highest ids under the exclusive lock (`ledger_inserts_settled`). Taking it
waits until the writes in flight have committed or rolled back (milliseconds: those
transactions are short) and keeps new ones waiting only while three maxima are read. Imports
and payout landings write in bulk without it: they hold the watermarks themselves
(`rollups_hold`), which the refresh takes after reading the maxima.

A transaction holding the shared lock must not go on to wait for the rollups' watermarks; one
that holds the watermarks may take the shared lock (the refresh takes the exclusive one before
the watermarks, never while holding them).

SQLite has one writer at a time and hands out ids in that order: there is nothing to wait for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction

# The first half of the two-number advisory lock key: Tillbook's ledger inserts. The second half
# is the business.
_LOCK_SPACE = 1_414_284_620
_BUSINESS_KEYS = 2**31  # the key's halves are 32-bit integers


def _key(business_id: int) -> list[int]:
    return [_LOCK_SPACE, business_id % _BUSINESS_KEYS]


def ledger_insert_lock(*, business_id: int) -> None:
    """Before inserting a ledger row: hold the business's shared lock until the transaction ends."""
    if connection.vendor != "postgresql":
        return
    if not connection.in_atomic_block:
        raise RuntimeError("ledger_insert_lock must run inside transaction.atomic().")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", _key(business_id))


@contextmanager
def ledger_inserts_settled(*, business_id: int) -> Iterator[None]:
    """While the body runs, no ledger row of the business is written and uncommitted.

    The lock belongs to the session, not to a transaction, so a caller inside a long
    transaction does not keep the business's checkouts waiting after the body. The body runs
    in a transaction (or savepoint) of its own: if it fails, the session can still unlock.
    """
    if connection.vendor != "postgresql":
        yield
        return
    key = _key(business_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", key)
    try:
        with transaction.atomic():
            yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)
