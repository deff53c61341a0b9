"""A throw-away Tillbook installation to measure: settings from the environment, a fresh
database with every migration applied, and everything removed afterwards.

SQLite lives in a temporary data folder; PostgreSQL gets its own database, created at the start
and dropped at the end, so a run never measures (or touches) someone's real data.
"""

from __future__ import annotations

import os
import platform
import secrets
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

DATABASES = ("sqlite", "postgres")
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/tillbook_bench"


@contextmanager
def installation(database: str, *, postgres_url: str, migrate: bool = True) -> Iterator[Path]:
    """Set Tillbook up on `database` ("sqlite" or "postgres"); yields the temporary folder."""
    if database not in DATABASES:
        raise ValueError(f"--database must be one of {', '.join(DATABASES)}, not {database!r}.")
    workdir = Path(tempfile.mkdtemp(prefix="tillbook-bench-"))
    created_postgres = False
    try:
        if database == "postgres":
            _postgres_recreate(postgres_url)
            created_postgres = True
            url = postgres_url
        else:
            url = f"sqlite:///{workdir / 'tillbook.sqlite3'}"
        _configure(url=url, data_dir=workdir)
        import django

        django.setup()
        if migrate:
            from django.core.management import call_command

            call_command("migrate", verbosity=0, interactive=False)
        yield workdir
    finally:
        _close_connections()
        if created_postgres:
            _postgres_drop(postgres_url)
        shutil.rmtree(workdir, ignore_errors=True)


def _configure(*, url: str, data_dir: Path) -> None:
    """Production settings, because DEBUG=True makes Django keep every query it runs.

    The values are assigned, not defaulted: a DATABASE_URL left in the shell must not send the
    benchmark (which writes 100k rows and drops its database) to a real installation.
    """
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "tillbook.settings",
            "DATABASE_URL": url,
            "TILLBOOK_DATA_DIR": str(data_dir),
            "TILLBOOK_DEBUG": "0",
            "TILLBOOK_SECRET_KEY": secrets.token_urlsafe(50),
            "TILLBOOK_ALLOWED_HOSTS": "localhost",
            "TILLBOOK_EMAIL_URL": "capture://",
            "TILLBOOK_LOG_LEVEL": "WARNING",
        }
    )


def _close_connections() -> None:
    from django.conf import settings

    if settings.configured:
        from django.db import connections

        connections.close_all()


def _database_name(url: str) -> str:
    name = urlsplit(url).path.lstrip("/")
    # The database is dropped at the end of every run; refusing other names means a mistyped
    # --postgres-url cannot drop real data.
    if "bench" not in name:
        raise ValueError(f"The benchmark database must have 'bench' in its name, not {name!r}.")
    return name


def _admin_connection(url: str) -> psycopg.Connection[TupleRow]:
    parts = urlsplit(url)
    admin_url = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    return psycopg.connect(admin_url, autocommit=True)


def _postgres_recreate(url: str) -> None:
    name = _database_name(url)
    with _admin_connection(url) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _postgres_drop(url: str) -> None:
    name = _database_name(url)
    with _admin_connection(url) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def machine_info() -> dict[str, str]:
    """What the figures depend on, printed above the table and saved with the results."""
    import django
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = f"PostgreSQL {cursor.fetchone()[0]}"
    else:
        version = f"SQLite {sqlite3.sqlite_version}"
    return {
        "cpu": _cpu_model(),
        "cpus": str(os.cpu_count()),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "django": django.get_version(),
        "database": version,
        "platform": platform.platform(),
    }


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()
