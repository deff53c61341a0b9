"""Helpers for concurrency tests: race callables in threads, each on its own database connection.

Django keeps one connection per thread, so a callable run in a new thread talks to the database
like a second web process or worker would: its own session, its own transactions, its own locks.
That is what makes these tests meaningful, and why they need PostgreSQL: the in-memory SQLite
test database is one connection shared by every thread.

Typical use, holding every racer between its check and its write so the database alone decides:

    gate = threading.Barrier(2, timeout=BARRIER_TIMEOUT)
    with installed_pause("customer_create.checked", gate.wait):
        first, second = race(create_ann, create_ann_again)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection, connections
from django.db.models import Model

# How long a barrier or a racer may wait before the test fails instead of hanging. Generous:
# a healthy race finishes in milliseconds, a stuck one is a bug to report, not to wait out.
BARRIER_TIMEOUT = 30.0

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: set TILLBOOK_TEST_DATABASE_URL=postgres://...",
)


@dataclass
class Outcome:
    """What one racer returned or raised."""

    result: Any = None
    error: BaseException | None = None

    @property
    def succeeded(self) -> bool:
        return self.error is None


def race(*racers: Callable[[], Any], timeout: float = BARRIER_TIMEOUT) -> list[Outcome]:
    """Run every racer in its own thread, released together; return outcomes in racer order.

    Each thread closes its database connections when its racer ends, so nothing holds a lock
    or keeps the test database open after the race. A racer that is still running after
    `timeout` seconds fails the test.
    """
    start = threading.Barrier(len(racers), timeout=timeout)
    outcomes = [Outcome() for _ in racers]

    def run(index: int, racer: Callable[[], Any]) -> None:
        try:
            start.wait()
            outcomes[index].result = racer()
        except BaseException as error:
            outcomes[index].error = error
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(index, racer), name=f"racer-{index}", daemon=True)
        for index, racer in enumerate(racers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    stuck = [thread.name for thread in threads if thread.is_alive()]
    if stuck:
        pytest.fail(f"{', '.join(stuck)} still running after {timeout} seconds")
    return outcomes


@contextmanager
def constraint_dropped(model: type[Model], name: str) -> Iterator[None]:
    """Drop a model's database constraint for the block, and put it back afterwards.

    This is the switch for negative controls: with the constraint gone the same interleaving
    must produce the anomaly, which proves the race is real and the constraint is what stops it.
    The block must remove any rows that would violate the constraint before it ends, or
    restoring it fails.
    """
    constraint = next(item for item in model._meta.constraints if item.name == name)
    with connection.schema_editor() as editor:
        editor.remove_constraint(model, constraint)
    try:
        yield
    finally:
        with connection.schema_editor() as editor:
            editor.add_constraint(model, constraint)
