from __future__ import annotations

from datetime import timedelta

from tillbook.core.periodic import sweep
from tillbook.messaging.services import outbox_sweep


@sweep(name="messaging.outbox", every=timedelta(minutes=5))
def outbox() -> dict[str, int]:
    return outbox_sweep()
