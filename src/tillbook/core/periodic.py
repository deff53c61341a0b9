"""The periodic tick: sweeps that later features hook into (expired holds, reminders, retries).

Each app may define a `sweeps` module with functions decorated by `@sweep(...)`. The worker's
tick calls `sweeps_enqueue_due()`; a sweep is claimed by a conditional UPDATE on its schedule
row, so with several workers each due sweep is enqueued once per period. Sweeps must still be
idempotent: a crash after the claim and a retry may run one twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules
from django_tasks import task

from tillbook.core.models import SweepSchedule
from tillbook.core.scoping import unscoped

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sweep:
    name: str
    every: timedelta
    function: Callable[[], Any]


_sweeps: dict[str, Sweep] = {}


def sweep(*, name: str, every: timedelta) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    def register(function: Callable[[], Any]) -> Callable[[], Any]:
        _sweeps[name] = Sweep(name=name, every=every, function=function)
        return function

    return register


_discovered = False


def registered_sweeps() -> dict[str, Sweep]:
    # Discover every app's sweeps once, even if one sweeps module was imported directly
    # before (a test, a command): that import alone must not hide the others.
    global _discovered
    if not _discovered:
        autodiscover_modules("sweeps")
        _discovered = True
    return dict(_sweeps)


def sweeps_enqueue_due(now: datetime | None = None) -> list[str]:
    """Claim and enqueue every sweep whose time has come; returns their names."""
    now = now or timezone.now()
    enqueued = []
    for item in registered_sweeps().values():
        if not SweepSchedule.objects.filter(name=item.name).exists():
            try:
                with transaction.atomic():
                    SweepSchedule.objects.create(name=item.name, next_run_at=now)
            except IntegrityError:
                pass  # another worker created it first
        claimed = SweepSchedule.objects.filter(name=item.name, next_run_at__lte=now).update(
            next_run_at=now + item.every, last_run_at=now
        )
        if claimed:
            sweep_run.enqueue(item.name)
            enqueued.append(item.name)
    return enqueued


@task()
def sweep_run(name: str) -> str:
    item = registered_sweeps().get(name)
    if item is None:
        logger.warning("Unknown sweep %r skipped", name)
        return "unknown"
    with unscoped():
        result = item.function()
    logger.info("Sweep %s: %s", name, result)
    return str(result)
