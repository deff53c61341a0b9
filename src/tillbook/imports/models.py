"""Import runs: one per file imported, with its progress and its result for the owner."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from django.db import models
from django.utils import timezone

from tillbook.core.scoping import TenantModel
from tillbook.imports.problems import problem_sentence


class RunState(models.TextChoices):
    QUEUED = "queued", "Waiting"
    CHECKING = "checking", "Checking the file"
    IMPORTING = "importing", "Importing"
    DONE = "done", "Done"
    FAILED = "failed", "Not imported"


# A run that has not moved for this long has stopped: its worker died or is not running.
# (A check saves its progress every few thousand rows and landing every 50,000 rows, each a
# matter of seconds; a file landed in one pass saves it after every batch of rows.)
STALLED_AFTER = timedelta(minutes=15)


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
    # Of a file checked and landed in one pass (PostgreSQL), whose rows are not counted before
    # its end: its size and how much of it has been read, for the progress bar (0: unknown).
    bytes_total = models.PositiveBigIntegerField(default=0)
    bytes_read = models.PositiveBigIntegerField(default=0)
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
    updated_at = models.DateTimeField(default=timezone.now)  # the run's last sign of life

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        indexes: ClassVar = [models.Index(fields=["business", "-created_at"], name="importrun_idx")]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.state})"

    @property
    def is_finished(self) -> bool:
        return self.state in (RunState.DONE, RunState.FAILED)

    @property
    def is_stalled(self) -> bool:
        """Unfinished and unchanged for STALLED_AFTER: no worker is carrying it out."""
        return not self.is_finished and timezone.now() - self.updated_at > STALLED_AFTER

    @property
    def kind_label(self) -> str:
        """The kind as the owner reads it (the reader's label); "" while not known."""
        from tillbook.imports.base import readers  # the readers import the records, not models

        reader = readers().get(self.kind)
        return reader.label if reader is not None else self.kind

    @property
    def problem_sentences(self) -> list[str]:
        return [problem_sentence(line, message) for line, message in self.problems]

    @property
    def percent(self) -> int:
        if self.state == RunState.DONE:
            return 100
        if self.state != RunState.IMPORTING:
            return 0  # while checking, the number of rows is not known yet
        if self.rows_total:
            return min(99, (100 * self.rows_done) // self.rows_total)
        if self.bytes_total:  # checked and landed in one pass: how much of the file is read
            return min(99, (100 * self.bytes_read) // self.bytes_total)
        return 0

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())
