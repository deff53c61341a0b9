"""`tillbook import FILE --business SLUG [--kind KIND] [--dry-run] [--date-format mdy|dmy]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tillbook.core.errors import TillbookError
from tillbook.core.models import Business
from tillbook.core.scoping import business_scope, unscoped
from tillbook.imports.models import ImportRun, RunState
from tillbook.imports.services import import_kinds, import_run_create, import_run_execute
from tillbook.imports.source import ImportSource


class Command(BaseCommand):
    help = "Import a Stripe, Square, PayPal, Google Ads, Microsoft Advertising or Meta export."

    def add_arguments(self, parser: CommandParser) -> None:
        kinds = ", ".join(kind for kind, _ in import_kinds())
        parser.add_argument("file", help="the exported .csv (or .zip) file")
        parser.add_argument("--business", required=True, help="the business's slug")
        parser.add_argument("--kind", default="", help=f"the file's kind if not detected: {kinds}")
        parser.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
        parser.add_argument(
            "--date-format",
            choices=("mdy", "dmy"),
            default="",
            help="for files whose dates fit both orders: mdy = 03/04 is 4 March, dmy = 3 April",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        try:
            path.open("rb").close()
        except OSError as error:
            raise CommandError(f"{path} cannot be read: {error.strerror}.") from None
        with unscoped():
            business = Business.objects.filter(slug=options["business"]).first()
            if business is None:
                known = ", ".join(Business.objects.order_by("slug").values_list("slug", flat=True))
                raise CommandError(
                    f"No business with the address {options['business']!r}. Known: {known}."
                )
        with business_scope(business):
            try:
                run = import_run_create(
                    business=business,
                    actor=None,
                    file_name=path.name,
                    kind=options["kind"],
                    date_order=options["date_format"],
                    is_dry_run=options["dry_run"],
                    enqueue=False,
                )
            except TillbookError as error:
                raise CommandError(error.message) from None
            try:
                run = import_run_execute(run=run, source=ImportSource.from_path(path))
            except OSError as error:  # the disk, not the file's content; the run says stopped
                raise CommandError(f"{path} could not be read: {error.strerror}.") from None
        self._report(run)

    def _report(self, run: ImportRun) -> None:
        if run.state == RunState.FAILED:
            sentences = run.problem_sentences
            if run.problem_total == 1 and sentences:  # the whole of it, uncut, said once
                raise CommandError(f"{run.file_name}: {sentences[0]} Nothing was imported.")
            for sentence in sentences:
                self.stderr.write(sentence)
            if run.problem_total > len(run.problems):
                self.stderr.write(f"…and {run.problem_total - len(run.problems)} more.")
            raise CommandError(f"{run.file_name}: {run.message}")
        out = self.stdout
        out.write(f"{run.file_name}: {run.kind_label}")
        out.write(f"Rows read:  {run.rows_read}")
        out.write(f"Imported:   {run.imported}")
        out.write(f"Duplicates: {run.duplicates}")
        out.write(f"Skipped:    {run.skipped_total}")
        for reason, count in sorted(run.skipped.items()):
            out.write(f"  {count} × {reason}")
        for warning in run.warnings:
            out.write(f"Warning: {warning}")
        if run.is_dry_run:
            out.write("Dry run: nothing was written.")
