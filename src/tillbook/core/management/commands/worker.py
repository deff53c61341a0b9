from __future__ import annotations

import logging
import math
import threading
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections, connection

from tillbook.core.periodic import sweeps_enqueue_due

logger = logging.getLogger("tillbook.worker")


def _tick_forever(interval: int, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            close_old_connections()
            sweeps_enqueue_due()
        except Exception:  # keep ticking: a database hiccup must not stop reminders for good
            logger.exception("Periodic tick failed")
        finally:
            connection.close()
        stop.wait(interval)


def options_text(value: float) -> str:
    """The number as typed: argparse turned "-5" into -5.0 and "nan" into nan."""
    return str(int(value)) if math.isfinite(value) and value == int(value) else str(value)


class Command(BaseCommand):
    help = "Run background tasks (emails, sweeps, imports) and the periodic tick."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch",
            action="store_true",
            help="Run one tick and every task that is due, then exit (for cron or tests).",
        )
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls")

    def handle(self, *args: Any, batch: bool, interval: float, **options: Any) -> None:
        if not math.isfinite(interval) or interval < 0:
            raise CommandError(
                f"--interval must be a number of seconds, 0 or more (not {options_text(interval)})."
            )
        verbosity = options.get("verbosity", 1)
        if batch:
            sweeps_enqueue_due()
            call_command(
                "db_worker",
                queue_name="*",
                batch=True,
                interval=0,
                verbosity=verbosity,
                startup_delay=False,
                reload=False,
            )
            return
        stop = threading.Event()
        ticker = threading.Thread(
            target=_tick_forever,
            args=(settings.TILLBOOK_TICK_SECONDS, stop),
            daemon=True,
            name="tillbook-tick",
        )
        ticker.start()
        self.stdout.write(
            f"Worker started; periodic tick every {settings.TILLBOOK_TICK_SECONDS} s."
        )
        try:
            call_command(
                "db_worker",
                queue_name="*",
                interval=interval,
                verbosity=verbosity,
                reload=False,
            )
        finally:
            stop.set()
