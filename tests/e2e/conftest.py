"""Browser tests: Playwright drives Debian's Chromium against pytest-django's live server.

Only the system browser at /usr/bin/chromium is used (apt-get install chromium), never one that
Playwright downloads. The `page` fixture opens a fresh browser context (no cookies, no storage)
on the live server for each test; `live_server` makes every such test transactional.

Playwright's sync API runs an asyncio event loop in the test thread for as long as the browser
lives, and Django refuses ORM calls in a thread with a running loop unless
DJANGO_ALLOW_ASYNC_UNSAFE is set. The browser is therefore scoped to this package and the
variable to the browser's lifetime: tests elsewhere keep Django's check and a loop-free thread.

With TILLBOOK_REQUIRE_ALL=1 (set by .ci/run on its PostgreSQL leg) a skipped test in this
directory is reported as an error, so a missing browser cannot turn the gate green.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from pytest_django.live_server_helper import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Milliseconds Playwright waits for a page, an element or a navigation before failing.
TIMEOUT_MS = 15_000


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    required = os.environ.get("TILLBOOK_REQUIRE_ALL") == "1"
    if required and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped although TILLBOOK_REQUIRE_ALL=1 requires it to run: {reason}"
    return report


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"needs Debian's Chromium at {CHROMIUM}: apt-get install chromium")
    expect.set_options(timeout=TIMEOUT_MS)
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A page in a fresh browser context; relative URLs go to the live server."""
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()
