"""Concurrency tests run on PostgreSQL only; CI makes sure they really ran.

With TILLBOOK_REQUIRE_ALL=1 (set by .ci/run on its PostgreSQL leg) a skipped test in this
directory is reported as an error, so a missing database URL cannot turn the concurrency
gate green by skipping it.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest


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
