from __future__ import annotations

import os
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Run the web server (gunicorn) for Tillbook."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--bind", default=settings.TILLBOOK_BIND, help="host:port (TILLBOOK_BIND)"
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=settings.TILLBOOK_WEB_WORKERS,
            help="web processes (TILLBOOK_WEB_WORKERS)",
        )

    def handle(self, *args: Any, bind: str, workers: int, **options: Any) -> None:
        # gunicorn refuses a negative count but starts with 0: a server that answers nothing.
        if workers < 1:
            raise CommandError(f"--workers must be 1 or more (not {workers}).")
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "tillbook.wsgi:application",
            "--bind",
            bind,
            "--workers",
            str(workers),
            "--access-logfile",
            "-",
            "--graceful-timeout",
            "10",
            "--forwarded-allow-ips",
            os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        ]
        sys.stdout.flush()
        os.execv(sys.executable, command)  # noqa: S606 - replace this process
