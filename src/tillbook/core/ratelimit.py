"""Fixed-window counters kept in the database, so every web process sees the same count."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from tillbook.core.models import RateLimitBucket


def _window_start(now: datetime, window_seconds: int) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % window_seconds, tz=now.tzinfo)


def rate_count(key: str, *, window_seconds: int) -> int:
    """Hits for `key` in the current window."""
    start = _window_start(timezone.now(), window_seconds)
    total = RateLimitBucket.objects.filter(key=key, window_start=start).aggregate(n=Sum("count"))
    return int(total["n"] or 0)


def rate_hit(key: str, *, window_seconds: int) -> int:
    """Count one hit for `key` and return the window's new total."""
    start = _window_start(timezone.now(), window_seconds)
    buckets = RateLimitBucket.objects.filter(key=key, window_start=start)
    if not buckets.update(count=F("count") + 1):
        try:
            with transaction.atomic():
                RateLimitBucket.objects.create(key=key, window_start=start, count=1)
        except IntegrityError:
            # Another process created the bucket between our update and our insert.
            buckets.update(count=F("count") + 1)
    return rate_count(key, window_seconds=window_seconds)


def rate_reset(key: str) -> None:
    RateLimitBucket.objects.filter(key=key).delete()


def rate_prune(*, older_than: timedelta) -> int:
    deleted, _ = RateLimitBucket.objects.filter(
        window_start__lt=timezone.now() - older_than
    ).delete()
    return deleted
