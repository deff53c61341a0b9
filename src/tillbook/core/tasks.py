"""Background work through the Django Tasks API.

Work is enqueued only after the transaction that asked for it commits (DESIGN.md rule 3): a
task never sees rows that were rolled back, and a rolled-back request sends nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django_tasks.base import Task


def enqueue_on_commit(
    task: Task[Any, Any], *args: Any, run_after: datetime | None = None, **kwargs: Any
) -> None:
    def _enqueue() -> None:
        target = task.using(run_after=run_after) if run_after is not None else task
        target.enqueue(*args, **kwargs)

    transaction.on_commit(_enqueue)
