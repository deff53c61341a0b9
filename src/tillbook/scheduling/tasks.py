from __future__ import annotations

from django_tasks import task

from tillbook.core.scoping import business_scope, unscoped
from tillbook.scheduling.imports import calendar_import_fetch
from tillbook.scheduling.models import CalendarImport


@task()
def calendar_import_run(import_id: int) -> str:
    with unscoped():
        item = CalendarImport.objects.select_related("staff__business").filter(pk=import_id).first()
    if item is None:
        return "missing"
    with business_scope(item.staff.business):
        return calendar_import_fetch(calendar_import=item)
