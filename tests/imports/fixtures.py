"""Importing fixture files as the CLI does; shared with other folders (a Stripe payout read
live must meet the same balance history imported)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tillbook.core.models import Business
from tillbook.core.scoping import business_scope
from tillbook.imports.models import ImportRun
from tillbook.imports.services import import_run_create, import_run_execute
from tillbook.imports.source import ImportSource

from .helpers import FIXTURES


@pytest.fixture
def run_import(business: Business) -> Callable[..., ImportRun]:
    """Import a fixture (or an ImportSource) into the test business, as the CLI does."""

    def run(
        file: str | ImportSource, *, target: Business | None = None, **options: object
    ) -> ImportRun:
        owner = target or business
        source = file if isinstance(file, ImportSource) else ImportSource.from_path(FIXTURES / file)
        with business_scope(owner):
            created = import_run_create(
                business=owner,
                actor=None,
                file_name=Path(source.name).name,
                enqueue=False,
                **options,  # type: ignore[arg-type]
            )
            return import_run_execute(run=created, source=source)

    return run
