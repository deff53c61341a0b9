from __future__ import annotations

from django_tasks import task

from tillbook.core.scoping import unscoped
from tillbook.messaging.services import message_deliver


@task(queue_name="email")
def message_send(message_id: int) -> str:
    # The message row says which business it belongs to; the task only moves it along.
    with unscoped():
        return message_deliver(message_id=message_id)
