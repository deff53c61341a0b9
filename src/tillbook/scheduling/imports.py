"""Busy times imported from a staff member's own calendar (.ics file or URL).

Fetched in the background and stored as TimeBlocks, so the booking page reads only local
tables (Cal.com #5277, #21103: pages that called external calendars took 10–60 seconds).
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from tillbook.core.errors import InvalidInput
from tillbook.core.fetch import fetch_public_url
from tillbook.scheduling.calendar_files import CalendarFileInvalid, busy_times
from tillbook.scheduling.models import BusySource, CalendarImport, StaffMember, TimeBlock

MAX_BYTES = 5 * 1024 * 1024
FETCH_TIMEOUT_SECONDS = 20
LOOK_AHEAD = timedelta(days=180)


def busy_times_store(*, calendar_import: CalendarImport, data: bytes) -> int:
    """Replace the import's busy times with those in `data`; returns how many."""
    now = timezone.now()
    found = busy_times(data, window_start=now - timedelta(days=1), window_end=now + LOOK_AHEAD)
    staff: StaffMember = calendar_import.staff
    with transaction.atomic():
        TimeBlock.objects.filter(calendar_import=calendar_import).delete()
        TimeBlock.objects.bulk_create(
            TimeBlock(
                business=staff.business,
                staff=staff,
                start=item.start,
                end=item.end,
                reason=item.summary or "Busy",
                source=BusySource.IMPORT,
                calendar_import=calendar_import,
            )
            for item in found
        )
        calendar_import.last_fetched_at = now
        calendar_import.last_error = ""
        calendar_import.busy_count = len(found)
        calendar_import.save(update_fields=["last_fetched_at", "last_error", "busy_count"])
    return len(found)


def calendar_import_fetch(*, calendar_import: CalendarImport) -> str:
    """Download the calendar and store its busy times; errors are kept for staff to see and
    earlier busy times stay (a calendar server that is down must not free the time)."""
    try:
        # Refuses private and local network addresses (see core.fetch) and bodies over 5 MB.
        data = fetch_public_url(
            calendar_import.url,
            max_bytes=MAX_BYTES,
            timeout=FETCH_TIMEOUT_SECONDS,
            user_agent="Tillbook calendar import",
        )
        count = busy_times_store(calendar_import=calendar_import, data=data)
    except (OSError, InvalidInput, CalendarFileInvalid) as error:
        message = getattr(error, "message", None) or str(error)
        CalendarImport.objects.filter(pk=calendar_import.pk).update(
            last_error=message[:500], last_fetched_at=timezone.now()
        )
        return f"failed: {message[:200]}"
    return f"{count} busy times"
