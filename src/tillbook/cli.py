"""The `tillbook` command: Django's management commands plus Tillbook's own (demo, serve,
worker, token, business, import, metrics, …)."""

from __future__ import annotations

import os
import sys

NOT_MIGRATED = (
    "tillbook: the database is not set up for this version of Tillbook; "
    "run `tillbook migrate` first."
)


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tillbook.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db import DatabaseError

    args = ["tillbook", *(sys.argv[1:] if argv is None else argv)]
    try:
        execute_from_command_line(args)
    except ImproperlyConfigured as error:
        print(f"tillbook: configuration problem: {error}", file=sys.stderr)  # noqa: T201
        sys.exit(2)
    except DatabaseError:
        # A command run before `tillbook migrate` (a new data folder, an upgrade) finds tables
        # missing or behind: say what to do instead of a traceback. Anything else is a bug.
        if not _migrations_pending():
            raise
        print(NOT_MIGRATED, file=sys.stderr)  # noqa: T201
        sys.exit(1)


def _migrations_pending() -> bool:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    try:
        connection.close()  # a fresh connection: the failed one may be in an aborted transaction
        executor = MigrationExecutor(connection)
        return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    except Exception:  # the database cannot even be read: let the first error show
        return False


if __name__ == "__main__":
    main()
