"""The owner uploads a Stripe export, watches the import, and sees the dashboard change."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD
from tillbook.core.models import Business


def recent_stripe_export(folder: Path) -> Path:
    # Dated a few days ago, so the dashboard's default range (last 30 days) shows it.
    day = (timezone.now() - timedelta(days=3)).strftime("%Y-%m-%d")
    path = folder / "balance_history.csv"
    path.write_text(
        "id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Available On (UTC)\n"
        f"txn_1,charge,ch_1,250.00,7.55,242.45,usd,{day} 16:00,{day} 16:00\n"
        f"txn_2,charge,ch_2,100.00,3.20,96.80,usd,{day} 17:00,{day} 17:00\n"
    )
    return path


def test_owner_imports_a_file_and_the_dashboard_changes(
    page: Page, business: Business, run_tasks: Callable[[], int], tmp_path: Path
) -> None:
    page.goto("/manage/login/")
    page.get_by_label("Email:", exact=True).fill("owner@example.com")
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/manage/acme/$"))
    expect(page.get_by_text("No sales in this range yet.")).to_be_visible()

    page.goto("/manage/acme/insights/imports/")
    page.get_by_label("File:", exact=True).set_input_files(recent_stripe_export(tmp_path))
    page.get_by_role("button", name="Import").click()
    expect(page).to_have_url(re.compile(r"/manage/acme/insights/imports/\d+/$"))
    progress = page.locator("#import-progress")
    expect(progress).to_contain_text("Waiting…")
    expect(progress.locator("progress")).to_be_visible()

    assert run_tasks() == 1  # the worker picks the import up; the page polls and sees it end
    expect(progress).to_contain_text("Imported 2 of 2 rows; 0 already known, 0 skipped.")
    expect(progress.locator("progress")).to_have_attribute("value", "100")

    progress.get_by_role("link", name="See the dashboard").click()
    expect(page).to_have_url(re.compile(r"/manage/acme/$"))
    net = page.locator(".kpi:has(.label:text-is('Net revenue')) .value")
    expect(net).to_have_text("$339.25")
    expect(page.locator("svg.chart")).to_be_visible()
