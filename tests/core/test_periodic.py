from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tillbook.core.models import SweepSchedule
from tillbook.core.periodic import registered_sweeps, sweep_run, sweeps_enqueue_due


@pytest.mark.django_db
def test_each_due_sweep_is_enqueued_once_per_period() -> None:
    now = timezone.now()
    names = sorted(sweeps_enqueue_due(now))
    assert {"core.housekeeping", "messaging.outbox"} <= set(names)
    assert names == sorted(registered_sweeps())
    # A second worker ticking at the same moment finds nothing due.
    assert sweeps_enqueue_due(now) == []
    assert sweeps_enqueue_due(now + timedelta(minutes=4)) == []
    every_five = sorted(
        name for name, item in registered_sweeps().items() if item.every <= timedelta(minutes=5)
    )
    assert "messaging.outbox" in every_five
    assert sorted(sweeps_enqueue_due(now + timedelta(minutes=5))) == every_five
    assert DBTaskResult.objects.count() == len(names) + len(every_five)
    schedule = SweepSchedule.objects.get(name="core.housekeeping")
    assert schedule.next_run_at == now + timedelta(hours=1)


@pytest.mark.django_db
def test_sweeps_run_as_tasks(run_tasks: Any) -> None:
    sweeps_enqueue_due()
    assert run_tasks() == len(registered_sweeps())
    results = sorted(DBTaskResult.objects.values_list("status", "return_value"))
    assert ("SUCCESSFUL", "{'rate_buckets': 0, 'task_results': 0}") in results
    assert ("SUCCESSFUL", "{'requeued': 0, 'failed_stuck': 0}") in results
    assert {status for status, _ in results} == {"SUCCESSFUL"}


def test_unknown_sweep_is_skipped() -> None:
    assert sweep_run.call("no.such.sweep") == "unknown"
    assert "messaging.outbox" in registered_sweeps()
