from __future__ import annotations

from datetime import timedelta

from tillbook.core.periodic import sweep
from tillbook.scheduling.reminders import reminders_send_due
from tillbook.scheduling.services import booking_expire_due


@sweep(name="scheduling.expire_holds", every=timedelta(minutes=1))
def expire_holds() -> int:
    """Abandoned holds and unpaid bookings give their time back (Cal.com #1720, #22126)."""
    return booking_expire_due()


@sweep(name="scheduling.reminders", every=timedelta(minutes=5))
def reminders() -> int:
    return reminders_send_due()


@sweep(name="scheduling.calendar_imports", every=timedelta(hours=1))
def calendar_imports() -> int:
    """Refresh every imported calendar once an hour, each as its own task."""
    from tillbook.scheduling.models import CalendarImport
    from tillbook.scheduling.tasks import calendar_import_run

    # Uploaded files (file://upload) have nothing to refresh.
    ids = list(CalendarImport.objects.filter(url__startswith="http").values_list("pk", flat=True))
    for import_id in ids:
        calendar_import_run.enqueue(import_id)
    return len(ids)
