"""`tillbook import`: what it prints, and its exit status when the file is refused."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tillbook.core.models import Business
from tillbook.core.scoping import business_scope
from tillbook.imports.models import ImportRun
from tillbook.payments.models import Payment

from .helpers import FIXTURES


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_prints_what_it_found(business: Business) -> None:
    out, _ = run(str(FIXTURES / "paypal_activity.csv"), "--business", "acme")
    assert out == (
        "paypal_activity.csv: PayPal activity download\n"
        "Rows read:  9\n"
        "Imported:   5\n"
        "Duplicates: 0\n"
        "Skipped:    4\n"
        "  2 × currency conversion (not a sale)\n"
        "  1 × hold or release (not a sale)\n"
        "  1 × status “Pending” (only completed rows count)\n"
    )
    again, _ = run(str(FIXTURES / "paypal_activity.csv"), "--business", "acme")
    assert "Imported:   0\nDuplicates: 5\n" in again


def test_dry_run_writes_nothing(business: Business) -> None:
    out, _ = run(str(FIXTURES / "stripe_balance.csv"), "--business", "acme", "--dry-run")
    assert out.endswith("Dry run: nothing was written.\n")
    assert "Imported:   7\n" in out
    with business_scope(business):
        assert Payment.objects.count() == 0


def test_a_refused_file_exits_non_zero_with_each_line(business: Business, tmp_path) -> None:
    text = (FIXTURES / "stripe_balance.csv").read_text()
    broken = tmp_path / "broken.csv"
    broken.write_text(
        text.replace("120.00,3.78", "12O.00,3.78").replace(",usd,2026-09-06", ",xx,2026-09-06")
    )
    err = io.StringIO()
    with pytest.raises(
        CommandError, match=r"broken\.csv: The file has 2 problems; nothing was imported"
    ):
        call_command("import", str(broken), "--business", "acme", stderr=err, stdout=io.StringIO())
    assert err.getvalue() == (
        "Line 2: Amount: “12O.00” is not a number\nLine 5: Currency: “XX” is not a currency code\n"
    )
    with business_scope(business):
        assert Payment.objects.count() == 0
        assert ImportRun.objects.get().state == "failed"


def test_ambiguous_dates_need_the_date_format(business: Business) -> None:
    path = str(FIXTURES / "square_transactions_ambiguous.csv")
    with pytest.raises(CommandError, match="dates are ambiguous"):
        run(path, "--business", "acme")
    out, _ = run(path, "--business", "acme", "--date-format", "dmy")
    assert "Imported:   2\n" in out
    with business_scope(business):
        assert str(Payment.objects.order_by("pk").first().succeeded_at.date()) == "2026-04-03"


def test_unknown_business_and_kind_are_refused(business: Business) -> None:
    with pytest.raises(CommandError, match=r"No business with the address 'nope'\. Known: acme\."):
        run(str(FIXTURES / "paypal_activity.csv"), "--business", "nope")
    with pytest.raises(CommandError, match="There is no “ebay” kind"):
        run(str(FIXTURES / "paypal_activity.csv"), "--business", "acme", "--kind", "ebay")
