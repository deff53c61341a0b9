"""New ledger rows of a business become visible in the order of their ids, as the rollups need.

The rollups read payments, refunds and balance lines above a watermark id
(insights/rollups.py). PostgreSQL hands out an id when a row is written, not when it is
committed: a refresh that read the highest id while a checkout had written id 41 and not yet
committed, just after a webhook committed id 42, moved the watermark to 42 and never read 41
(the dashboard lost that payment for good).

So every transaction that inserts a payment, refund or balance line one by one holds a shared
lock on its business until it ends (`ledger_insert_lock`, called by the models' save), and a
refresh reads the highest ids under the exclusive lock (`ledger_inserts_settled`), held only
while three maxima are read. The refresh never queues for it: PostgreSQL would make every new
checkout of the business wait behind a queued exclusive request, for as long as the longest
writer in flight (an import that writes summary refunds holds the shared lock until its
batch commits). It tries for a second and otherwise skips this round; the next refresh
catches up. Imports and payout landings write in bulk without it: they hold the watermarks
themselves (`rollups_hold`), which the refresh takes after reading the maxima.

SQLite has one writer at a time and hands out ids in that order: there is nothing to wait for.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction

from tillbook.core.hooks import pause_point

# The first half of the two-number advisory lock key: Tillbook's ledger inserts. The second half
# is the business.
_LOCK_SPACE = 1_414_284_620
_BUSINESS_KEYS = 2**31  # the key's halves are 32-bit integers
PATIENCE = 1.0  # seconds a refresh tries for the exclusive lock before it skips a round
_RETRY = 0.01


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
def ledger_inserts_settled(*, business_id: int, patience: float | None = None) -> Iterator[bool]:
    """While the body runs, no ledger row of the business is written and uncommitted.

    Yields False, holding nothing, when writes kept the lock for `patience` seconds. The lock
    belongs to the session, not to a transaction, so a caller inside a long transaction does
    not keep the business's checkouts waiting after the body. The body runs in a transaction
    (or savepoint) of its own: if it fails, the session can still unlock.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    key = _key(business_id)
    if not _try_lock(key, PATIENCE if patience is None else patience):
        yield False
        return
    try:
        with transaction.atomic():
            yield True
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)


def _try_lock(key: list[int], patience: float) -> bool:
    deadline = time.monotonic() + patience
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
            if cursor.fetchone()[0]:
                return True
            pause_point("ledger_lock.busy")
            if time.monotonic() >= deadline:
                return False
            time.sleep(_RETRY)
