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
