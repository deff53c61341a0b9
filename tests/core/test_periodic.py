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
    # Every registered sweep (other apps add theirs), among them the foundation's two.
    assert names == sorted(registered_sweeps())
    assert {"core.housekeeping", "messaging.outbox"} <= set(names)
    # A second worker ticking at the same moment finds nothing due.
    assert sweeps_enqueue_due(now) == []
    foundation = {"core.housekeeping", "messaging.outbox"}
    assert foundation & set(sweeps_enqueue_due(now + timedelta(minutes=4))) == set()
    assert foundation & set(sweeps_enqueue_due(now + timedelta(minutes=5))) == {"messaging.outbox"}
    assert DBTaskResult.objects.filter(task_path__endswith="sweep_run").count() >= len(names) + 1
    schedule = SweepSchedule.objects.get(name="core.housekeeping")
    assert schedule.next_run_at == now + timedelta(hours=1)


@pytest.mark.django_db
def test_sweeps_run_as_tasks(run_tasks: Any) -> None:
    sweeps_enqueue_due()
    assert run_tasks() == len(registered_sweeps())
    results = set(DBTaskResult.objects.values_list("status", "return_value"))
    assert {
        ("SUCCESSFUL", "{'rate_buckets': 0, 'task_results': 0}"),
        ("SUCCESSFUL", "{'requeued': 0, 'failed_stuck': 0}"),
    } <= results
    assert {status for status, _ in results} == {"SUCCESSFUL"}


def test_unknown_sweep_is_skipped() -> None:
    assert sweep_run.call("no.such.sweep") == "unknown"
    assert "messaging.outbox" in registered_sweeps()
