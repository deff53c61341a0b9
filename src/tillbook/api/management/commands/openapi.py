from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tillbook.api.openapi import openapi_text


class Command(BaseCommand):
    help = "Print the API's OpenAPI document, or write it to a file (the committed openapi.json)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", help="write to this file instead of printing")

    def handle(self, *args: Any, output: str | None, **options: Any) -> None:
        text = openapi_text()
        if output:
            try:
                Path(output).write_text(text)
            except OSError as error:
                raise CommandError(f"{output} cannot be written: {error.strerror}.") from None
            self.stdout.write(f"Wrote {output}")
        else:
            self.stdout.write(text, ending="")
