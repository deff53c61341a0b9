"""Cells as the platforms write them. Each case is a quirk from REFERENCE.md."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tillbook.imports.cells import (
    CellError,
    parse_count,
    parse_id,
    parse_minor,
    parse_percent,
    parse_quantity,
)


@pytest.mark.parametrize(
    ("text", "currency", "mark", "minor"),
    [
        ("$1,234.50", "USD", ".", 123450),  # Square
        ("-$0.95", "USD", ".", -95),  # Square fee
        ("($0.95)", "USD", ".", -95),  # accounting negative
        ("1250.00", "USD", ".", 125000),  # Stripe
        ("1,250.00", "USD", ".", 125000),  # PayPal
        ("-24,90", "EUR", ",", -2490),  # PayPal in German
        ("1.234,56", "EUR", ",", 123456),
        ("24,90 €", "EUR", ",", 2490),
        ("24,90-", "EUR", ",", -2490),
        ("EUR 1.234,56", "EUR", ".", 123456),  # both marks: the rightmost is the decimal one
        ("£0.88", "GBP", ".", 88),
        ("500", "JPY", ".", 500),
        ("1'234.50", "CHF", ".", 123450),  # Swiss grouping
        ("1,23,456.78", "INR", ".", 12345678),  # lakh grouping
        ("1.234.567,89", "EUR", ",", 123456789),
        # Three decimals (dinars): the file's own mark decides, as for any currency.
        ("10.500", "KWD", ".", 10500),
        ("1,234", "KWD", ".", 1234000),  # grouping in a dot file
        ("1.234", "KWD", ",", 1234000),  # grouping in a comma file
        ("1.234,500", "KWD", ",", 1234500),
        ("", "USD", ".", 0),
        ("--", "USD", ".", 0),
    ],
)
def test_amounts_become_exact_minor_units(text: str, currency: str, mark: str, minor: int) -> None:
    assert parse_minor(text, currency, decimal_mark=mark) == minor


@pytest.mark.parametrize(
    "text",
    # The last ones: marks that group no thousands are a typo, not 2,002.00 or 12,345.60.
    ["12abc", "1e5", "$$1", "1.2.3,4,5x", "--5", "20..02", "1,234,56", "1.2,34", "12'34.50"],
)
def test_text_that_is_not_an_amount_is_refused(text: str) -> None:
    with pytest.raises(CellError, match="is not a number"):
        parse_minor(text, "USD")


def test_more_decimals_than_the_currency_has_are_refused() -> None:
    with pytest.raises(CellError, match=r"“12.345” has more decimals than USD allows \(2\)"):
        parse_minor("12.345", "USD")
    with pytest.raises(CellError, match="more decimals than JPY allows"):
        parse_minor("5.5", "JPY")


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("1450.30", "COP", 1450),  # Stripe states pesos to the hundredth; Tillbook keeps whole
        ("1450.50", "COP", 1451),  # half away from zero
        ("1450.49", "COP", 1450),
        ("-0.50", "COP", -1),
        ("1.450,30", "COP", 1450),
        ("12000.75", "HUF", 12001),
        ("5000.00", "ISK", 5000),
    ],
)
def test_finer_amounts_than_tillbook_keeps_are_rounded_where_processors_state_them(
    text: str, currency: str, minor: int
) -> None:
    assert parse_minor(text, currency, decimal_mark="," if "," in text else ".") == minor


def test_finer_than_the_processors_state_is_still_refused() -> None:
    with pytest.raises(CellError, match=r"“1450.305” has more decimals than COP allows \(2\)"):
        parse_minor("1450.305", "COP")
    with pytest.raises(CellError, match="is not an amount"):
        parse_minor("1" * 40 + ".5", "COP")


@pytest.mark.parametrize(
    ("text", "count"), [("2,140", 2140), ("2.140", 2140), ("9197", 9197), ("--", 0), ("", 0)]
)
def test_counts_read_grouping_in_any_locale(text: str, count: int) -> None:
    assert parse_count(text) == count


def test_amounts_and_counts_beyond_any_real_one_are_refused() -> None:
    assert parse_minor("10000000000000.00", "USD") == 10**15  # the largest amount kept
    with pytest.raises(CellError, match=r"“10000000000000\.01” is too large to be an amount"):
        parse_minor("10000000000000.01", "USD")
    with pytest.raises(CellError, match="too large"):
        parse_minor("-1.234.567.890.123.456,00", "EUR", decimal_mark=",")
    with pytest.raises(CellError, match="“99999999999999999999” is too large"):
        parse_count("99999999999999999999")


def test_percentages_and_fractional_conversions() -> None:
    assert parse_percent("23.27%") == Decimal("23.27")
    assert parse_percent("--") is None
    assert parse_quantity("12.50") == Decimal("12.50")
    assert parse_quantity("1,5", decimal_mark=",") == Decimal("1.5")


def test_ids_stay_strings_and_excel_scientific_ids_are_untrusted() -> None:
    assert parse_id("0012345") == ("0012345", True)
    assert parse_id("120212345678901234") == ("120212345678901234", True)
    assert parse_id("1.2E+17") == ("1.2E+17", False)
    assert parse_id("1,20212E+17") == ("1,20212E+17", False)
    # Saved as a number: 15 significant digits, then zeros in place of the rest.
    assert parse_id("120210000000000000") == ("120210000000000000", False)
    assert parse_id("120212345678901000") == ("120212345678901000", False)
    assert parse_id("120212345678901230") == ("120212345678901230", True)
    assert parse_id("100000000000000") == ("100000000000000", True)  # 15 digits: all kept
