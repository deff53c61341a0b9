"""The same ad report imported twice at once (uploaded twice, or by a worker and the command
line), each on its own database connection: the ad landing lock makes the second wait for the
first's commit, then find every day known and change nothing.

The negative control takes the lock away and holds both imports after they found their
campaigns and before they read which days are known: both insert the same days, and the
second fails on the unique index.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import suppress

import pytest
from django.db import IntegrityError
from django.db.models import Sum

from tillbook.core.hooks import installed_pause
from tillbook.core.models import Business
from tillbook.core.scoping import business_scope, unscoped
from tillbook.imports.models import ImportRun
from tillbook.imports.services import import_run_create, import_run_execute
from tillbook.imports.source import ImportSource
from tillbook.marketing.models import AdSpendDay

from ..imports.helpers import FIXTURES
from .race import BARRIER_TIMEOUT, postgresql_only, race

pytestmark = [postgresql_only, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _importer(business: Business, name: str) -> Callable[[], ImportRun]:
    def run() -> ImportRun:
        with business_scope(business):
            created = import_run_create(
                business=business, actor=None, file_name=name, enqueue=False
            )
            return import_run_execute(run=created, source=ImportSource.from_path(FIXTURES / name))

    return run


def _fall_launch() -> tuple[int, int, int]:
    with unscoped():
        days = AdSpendDay.objects.filter(campaign__name="Fall Launch – Search")
        totals = days.aggregate(spend=Sum("spend"), clicks=Sum("clicks"))
        return days.count(), totals["spend"], totals["clicks"]


DAILY = (30, 30000 - 3 * 1000 + 9960 + 10000 + 10040, 2140 - 3 * 72 + 320)
SUMMARY = "google_ads_campaign.csv"


@pytest.fixture
def campaigns(business: Business) -> Business:
    """A month's summary, then three of its days in detail: the campaigns are known, and the
    summary imported again puts its share back on those three days."""
    _importer(business, SUMMARY)()
    _importer(business, "google_ads_daily.csv")()
    # Three days hold the daily figures; the other 27 keep their share of the summary.
    assert _fall_launch() == DAILY
    return business


def test_the_same_report_imported_twice_at_once_lands_once(campaigns: Business) -> None:
    # Each import waits up to two seconds at the point where, unlocked, the two would both
    # insert the same days (the negative control's gate). Locked, the second never gets there
    # while the first is waiting: the first goes on alone.
    meeting = threading.Barrier(2, timeout=2)

    def meet() -> None:
        with suppress(threading.BrokenBarrierError):
            meeting.wait()

    with installed_pause("ad_land.checked", meet):
        outcomes = race(_importer(campaigns, SUMMARY), _importer(campaigns, SUMMARY))
    assert [outcome.error for outcome in outcomes] == [None, None]
    # The first changes the three detailed days (Fall Launch's row); the second finds its
    # three rows known, as if it had come after.
    assert sorted((o.result.state, o.result.imported, o.result.duplicates) for o in outcomes) == [
        ("done", 0, 3),
        ("done", 1, 2),
    ]
    assert _fall_launch() == (30, 30000, 2140)


def test_negative_control_without_the_lock_the_second_import_fails(
    campaigns: Business, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tillbook.imports import services

    monkeypatch.setattr(services, "ad_landing_lock", lambda *, business_id: None)
    gate = threading.Barrier(2, timeout=BARRIER_TIMEOUT)
    with installed_pause("ad_land.checked", gate.wait):
        outcomes = race(_importer(campaigns, SUMMARY), _importer(campaigns, SUMMARY))
    errors = [outcome.error for outcome in outcomes if outcome.error is not None]
    assert len(errors) == 1
    assert isinstance(errors[0], IntegrityError)
    assert "adspendday_unique" in str(errors[0])
    with unscoped():
        assert sorted(ImportRun.objects.values_list("state", flat=True)) == [
            "done",
            "done",
            "done",
            "failed",
        ]
    assert _fall_launch() == (30, 30000, 2140)
