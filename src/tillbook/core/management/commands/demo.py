from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from tillbook.core.models import Business
from tillbook.demo.seed import DEMO_LOGINS, DEMO_SLUG, seed_demo


class Command(BaseCommand):
    help = (
        "Migrate, seed the demo business when the database is empty, "
        "and run the web server and a worker."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--seed-only", action="store_true", help="prepare the database and exit"
        )

    def handle(self, *args: Any, seed_only: bool, **options: Any) -> None:
        self.stdout.write(f"Data folder: {settings.DATA_DIR}")
        call_command("migrate", interactive=False, verbosity=0)
        if not Business.objects.exists():
            self.stdout.write("Seeding the demo business…")
            seed_demo()
        if seed_only:
            self.stdout.write("Database ready.")
            return
        base = f"http://{settings.TILLBOOK_BIND}"
        self.stdout.write(
            "\n"
            f"  Back office:  {base}/manage/\n"
            f"  Demo business: {base}/manage/{DEMO_SLUG}/\n"
            f"  API:          {base}/api/v1/docs\n"
            + "".join(
                f"  Login ({login.role}): {login.email} / {login.password}\n"
                for login in DEMO_LOGINS
            )
            + "  Emails are captured in Settings → Outbox, not sent.\n"
            "  Press Ctrl-C to stop.\n"
        )
        self._run_both()

    def _run_both(self) -> None:
        python = sys.executable
        processes = [
            subprocess.Popen([python, "-m", "tillbook", "serve"]),  # noqa: S603
            subprocess.Popen([python, "-m", "tillbook", "worker", "--verbosity", "0"]),  # noqa: S603
        ]

        def stop(*_: object) -> None:
            for process in processes:
                if process.poll() is None:
                    process.terminate()

        # Ctrl-C reaches the whole terminal group; a SIGINT or SIGTERM sent to this process
        # alone (a service manager, a script) must stop both children too.
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while all(process.poll() is None for process in processes):
                time.sleep(0.5)
        finally:
            stop()
            for process in processes:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
        self.stdout.write("Stopped.")
