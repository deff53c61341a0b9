"""Import runs: one per file imported, with its progress and its result for the owner."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone

from tillbook.core.scoping import TenantModel


class RunState(models.TextChoices):
    QUEUED = "queued", "Waiting"
    CHECKING = "checking", "Checking the file"
    IMPORTING = "importing", "Importing"
    DONE = "done", "Done"
    FAILED = "failed", "Not imported"


class ImportRun(TenantModel):
    file_name = models.CharField(max_length=255)
    # Where the uploaded file is kept until the run is done (empty for the command line).
    stored_path = models.CharField(max_length=500, blank=True)
    kind = models.CharField(max_length=40, blank=True)  # asked for, then the one found
    date_order = models.CharField(max_length=3, blank=True)  # "mdy", "dmy" or "" (unknown)
    is_dry_run = models.BooleanField(default=False)
    state = models.CharField(max_length=10, choices=RunState.choices, default=RunState.QUEUED)
    rows_total = models.PositiveIntegerField(default=0)  # known after the check
    rows_done = models.PositiveIntegerField(default=0)
    rows_read = models.PositiveIntegerField(default=0)
    imported = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    skipped = models.JSONField(default=dict, blank=True)  # {reason: count}
    warnings = models.JSONField(default=list, blank=True)
    problems = models.JSONField(default=list, blank=True)  # [[line, message], …] (first 100)
    problem_total = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        indexes: ClassVar = [models.Index(fields=["business", "-created_at"], name="importrun_idx")]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.state})"

    @property
    def is_finished(self) -> bool:
        return self.state in (RunState.DONE, RunState.FAILED)

    @property
    def percent(self) -> int:
        if self.state == RunState.DONE:
            return 100
        if self.state != RunState.IMPORTING or not self.rows_total:
            return 0  # while checking, the number of rows is not known yet
        return min(99, (100 * self.rows_done) // self.rows_total)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())
