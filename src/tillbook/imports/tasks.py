from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from django_tasks import task

from tillbook.core.scoping import business_scope, unscoped
from tillbook.imports.models import ImportRun
from tillbook.imports.services import import_run_execute, import_upload_discard
from tillbook.imports.source import ImportSource


@task()
def import_run_task(run_id: int) -> str:
    """Carry out an uploaded import. Idempotent: a finished run is left alone, and running an
    interrupted one again adds only what is missing (landing deduplicates)."""
    with unscoped():
        run = ImportRun.objects.select_related("business").filter(pk=run_id).first()
    if run is None or run.is_finished:
        return "nothing to do"
    path = Path(run.stored_path)
    try:
        with business_scope(run.business):
            source = replace(ImportSource.from_path(path), name=run.file_name)
            run = import_run_execute(run=run, source=source)
    finally:
        # Done, refused or stopped by an error, the run is finished and will not be run again
        # (a stopped one is imported again from a new upload): the upload is not kept.
        import_upload_discard(run.stored_path)
    return run.state
