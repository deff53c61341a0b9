"""`tillbook import`: what it prints, and its exit status when the file is refused."""

from __future__ import annotations

import io
from pathlib import Path

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
        "Line 2: Amount: “12O.00” is not a number.\n"
        "Line 5: Currency: “XX” is not a currency code.\n"
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


def test_a_single_problem_is_said_once_and_whole(business: Business, tmp_path) -> None:
    # Thirty unknown columns: the one problem lists them all and what Tillbook reads, well
    # past the 500 characters a run's summary keeps.
    wide = tmp_path / "wide.csv"
    columns = [f"Column number {n}" for n in range(30)]
    wide.write_text(",".join(columns) + "\n" + ",".join("x" * 30) + "\n")
    err = io.StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("import", str(wide), "--business", "acme", stderr=err, stdout=io.StringIO())
    said = str(refused.value)
    assert said.startswith("wide.csv: ")
    assert said.endswith(". Nothing was imported.")
    assert "Column number 29" in said
    assert len(said) > 600
    assert said.count("Nothing was imported") == 1
    assert err.getvalue() == ""


def test_a_file_that_cannot_be_read_is_refused_before_a_run_starts(
    business: Business, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked.csv"
    locked.write_text("id\n")
    opened = Path.open

    def refuse(self: Path, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if self == locked:
            raise PermissionError(13, "Permission denied")
        return opened(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(CommandError, match=r"locked\.csv cannot be read: Permission denied\.$"):
        run(str(locked), "--business", "acme")
    with business_scope(business):
        assert ImportRun.objects.count() == 0


def test_an_excel_workbook_gets_told_how_to_save_a_csv(business: Business, tmp_path) -> None:
    import zipfile

    workbook = tmp_path / "sales.xlsx"
    with zipfile.ZipFile(workbook, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    old_excel = tmp_path / "sales.xls"
    old_excel.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    for path in (workbook, old_excel):
        with pytest.raises(CommandError) as refused:
            run(str(path), "--business", "acme")
        assert str(refused.value) == (
            f"{path.name}: This is an Excel workbook, not a CSV file; open it in Excel, choose "
            "File › Save As › “CSV UTF-8 (Comma delimited)” and import the .csv file. "
            "Nothing was imported."
        )
    with business_scope(business):
        assert Payment.objects.count() == 0
