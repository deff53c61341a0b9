from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tillbook.core.periodic import sweep
from tillbook.core.ratelimit import rate_prune


@sweep(name="core.housekeeping", every=timedelta(hours=1))
def housekeeping() -> dict[str, int]:
    """Forget old rate-limit windows and finished task results."""
    pruned_buckets = rate_prune(older_than=timedelta(days=1))
    cutoff = timezone.now() - timedelta(days=7)
    pruned_tasks, _ = DBTaskResult.objects.finished().filter(finished_at__lt=cutoff).delete()
    return {"rate_buckets": pruned_buckets, "task_results": pruned_tasks}
