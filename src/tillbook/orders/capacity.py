"""Capacity (ticket quotas, stock): locked, counted in one statement, taken in one transaction.

REFERENCE.md, the pretix lesson: a lock is not enough if what it protects is counted
inconsistently. pretix counted sold, reserved and cart places in separate statements under READ
COMMITTED and converted a reservation into an order without the lock; a conversion landing
between two counting statements made a place look free twice. Here:

- every step that changes what is counted (placing an order, a reservation becoming sold,
  expiry, refunds that release, staff accepting a shortfall) first locks the quota rows, always
  in id order so two transactions never wait on each other in a cycle;
- what is held is counted from one table (order lines) in ONE statement: sold lines (less the
  places a part refund gave back) plus reserved lines whose reservation has not lapsed. A line
  moving from reserved to sold is one row changing state, so any snapshot sees it exactly once.

On SQLite the IMMEDIATE transaction already serialises writers; the same code runs there.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import connection
from django.db.models import F, Q, Sum

from tillbook.catalog.models import Quota
from tillbook.core.errors import Conflict
from tillbook.core.hooks import pause_point
from tillbook.orders.models import CapacityState, OrderLine

# pretix waits 3 s for a quota lock; a checkout that cannot get it in 5 s is told to retry
# rather than piling up behind a stuck transaction.
LOCK_TIMEOUT = "5s"


def quotas_lock(quota_ids: Iterable[int]) -> dict[int, Quota]:
    """Lock the quota rows (in id order) for the rest of the transaction."""
    ids = sorted(set(quota_ids))
    if not ids:
        return {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    from django.db import OperationalError

    try:
        quotas = list(Quota.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    except OperationalError as error:  # lock_timeout
        raise Conflict("Many people are buying this right now; please try again.") from error
    pause_point("capacity.locked")
    return {quota.pk: quota for quota in quotas}


def held_condition(now: datetime) -> Q:
    return Q(capacity_state=CapacityState.SOLD) | Q(
        capacity_state=CapacityState.RESERVED, reserved_until__gt=now
    )


def quotas_held(quota_ids: Iterable[int], *, now: datetime) -> dict[int, int]:
    """Places held per quota, sold and unexpired reservations together, in ONE statement."""
    ids = sorted(set(quota_ids))
    if not ids:
        return {}
    rows = (
        OrderLine.objects.filter(quota_id__in=ids)
        .filter(held_condition(now))
        .order_by()  # no default ordering: it would end up in the GROUP BY
        .values("quota_id")
        .annotate(held=Sum(F("quantity") - F("released_quantity")))
    )
    held = dict.fromkeys(ids, 0)
    for row in rows:
        held[row["quota_id"]] = int(row["held"] or 0)
    return held


def quotas_available(quotas: dict[int, Quota], *, now: datetime) -> dict[int, int | None]:
    """Free places per quota (None = unlimited). Call with the quotas locked."""
    held = quotas_held(quotas, now=now)
    return {
        pk: None if quota.size is None else max(quota.size - held.get(pk, 0), 0)
        for pk, quota in quotas.items()
    }
