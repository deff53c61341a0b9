from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tillbook.core.money import (
    CurrencyMismatch,
    InvalidAmount,
    Money,
    currency_precision,
    known_currencies,
    money_sum,
)

CURRENCIES = sorted(known_currencies())
amounts = st.integers(min_value=-(10**15), max_value=10**15)
currencies = st.sampled_from(CURRENCIES)
ratios = st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=12).filter(
    lambda values: sum(values) > 0
)


def test_every_iso_currency_has_a_precision() -> None:
    assert len(CURRENCIES) > 150
    assert currency_precision("USD") == 2
    assert currency_precision("JPY") == 0
    assert currency_precision("BHD") == 3
    assert all(currency_precision(code) in (0, 2, 3, 4) for code in CURRENCIES)


def test_hundred_split_three_ways_keeps_every_cent() -> None:
    parts = Money.from_major("100.00", "USD").split(3)
    assert parts == [Money(3334, "USD"), Money(3333, "USD"), Money(3333, "USD")]


def test_negative_amount_split_keeps_sign() -> None:
    assert Money(-100, "EUR").split(3) == [Money(-34, "EUR"), Money(-33, "EUR"), Money(-33, "EUR")]


def test_allocation_by_ratio() -> None:
    assert Money(1000, "USD").allocate([70, 20, 10]) == [
        Money(700, "USD"),
        Money(200, "USD"),
        Money(100, "USD"),
    ]
    assert Money(5, "USD").allocate([1, 1, 1, 0]) == [
        Money(2, "USD"),
        Money(2, "USD"),
        Money(1, "USD"),
        Money(0, "USD"),
    ]


@given(amount=amounts, currency=currencies, ratios=ratios)
def test_allocation_never_loses_or_invents_a_minor_unit(
    amount: int, currency: str, ratios: list[int]
) -> None:
    parts = Money(amount, currency).allocate(ratios)
    assert sum(part.amount for part in parts) == amount
    assert all(part.currency == currency for part in parts)
    total = sum(ratios)
    for part, ratio in zip(parts, ratios, strict=True):
        exact = Decimal(abs(amount)) * ratio / total
        assert abs(Decimal(abs(part.amount)) - exact) < 1
        if ratio == 0:
            assert part.amount == 0


@given(amount=amounts, currency=currencies, parts=st.integers(min_value=1, max_value=50))
def test_equal_split_differs_by_at_most_one_minor_unit(
    amount: int, currency: str, parts: int
) -> None:
    split = [part.amount for part in Money(amount, currency).split(parts)]
    assert sum(split) == amount
    assert max(split) - min(split) <= 1


@given(amount=amounts, currency=currencies)
def test_major_units_round_trip(amount: int, currency: str) -> None:
    money = Money(amount, currency)
    assert Money.from_major(money.to_decimal(), currency) == money
    assert Money.from_major(money.major_string(), currency) == money
    assert len(money.major_string().partition(".")[2]) == currency_precision(currency)


@given(a=amounts, b=amounts, currency=currencies, other=currencies)
def test_arithmetic_refuses_mixed_currencies(a: int, b: int, currency: str, other: str) -> None:
    left, right = Money(a, currency), Money(b, other)
    if currency == other:
        assert (left + right).amount == a + b
        assert (left - right).amount == a - b
    else:
        with pytest.raises(CurrencyMismatch):
            left + right
        with pytest.raises(CurrencyMismatch):
            left - right
        with pytest.raises(CurrencyMismatch):
            left < right  # noqa: B015


@given(amount=amounts, currency=currencies)
def test_formatting_works_for_every_currency(amount: int, currency: str) -> None:
    text = Money(amount, currency).format("en_US")
    assert text
    digits = "".join(ch for ch in text if ch.isdigit())
    assert digits.lstrip("0") == str(abs(amount)).lstrip("0")


def test_locale_formatting() -> None:
    assert Money(123450, "USD").format("en_US") == "$1,234.50"
    assert Money(123450, "EUR").format("de_DE") == "1.234,50\xa0€"
    assert Money(1235, "JPY").format("ja_JP") == "￥1,235"
    assert Money(-95, "USD").format("en_US") == "-$0.95"
    assert Money(1234567, "BHD").format("en_US") == "BHD1,234.567"


def test_from_major_refuses_extra_decimals_and_floats() -> None:
    with pytest.raises(InvalidAmount, match="more decimals than JPY allows"):
        Money.from_major("10.5", "JPY")
    with pytest.raises(InvalidAmount, match="never comes from a float"):
        Money.from_major(10.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount, match="is not an amount"):
        Money.from_major("ten", "USD")
    with pytest.raises(InvalidAmount, match="is not an amount"):
        Money.from_major("NaN", "USD")


def test_amounts_are_whole_minor_units_and_currencies_are_iso() -> None:
    with pytest.raises(InvalidAmount):
        Money(1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount):
        Money(True, "USD")
    with pytest.raises(InvalidAmount, match="not an ISO 4217"):
        Money(100, "XYZ")
    with pytest.raises(InvalidAmount):
        Money(100, "usd")


def test_scale_rounds_half_even_to_a_minor_unit() -> None:
    assert Money(1000, "USD").scale(Decimal("0.0825")) == Money(82, "USD")  # 82.5 -> 82
    assert Money(1000, "USD").scale(Decimal("0.0835")) == Money(84, "USD")  # 83.5 -> 84
    with pytest.raises(TypeError):
        Money(1000, "USD").scale(0.5)  # type: ignore[arg-type]


def test_multiplication_and_sum() -> None:
    assert Money(250, "USD") * 3 == Money(750, "USD")
    assert 3 * Money(250, "USD") == Money(750, "USD")
    assert money_sum([Money(1, "EUR"), Money(2, "EUR")], "EUR") == Money(3, "EUR")
    assert money_sum([], "EUR") == Money(0, "EUR")
    with pytest.raises(TypeError):
        Money(250, "USD") * Decimal("1.5")  # type: ignore[operator]


TOO_LARGE = " is too large; Tillbook accepts amounts up to 10000000000000.00 USD."


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1e999999", "1e999999" + TOO_LARGE),
        ("-1e999999", "-1e999999" + TOO_LARGE),
        (10**30, "10000000000000000000…" + TOO_LARGE),
        ("1e100000000", "1e100000000" + TOO_LARGE),
        ("10000000000000.01", "10000000000000.01" + TOO_LARGE),
        ("9" * 5000, "99999999999999999999…" + TOO_LARGE),
        ("Infinity", "'Infinity' is not an amount."),
        ("-inf", "'-inf' is not an amount."),
        ("NaN", "'NaN' is not an amount."),
        ("sNaN", "'sNaN' is not an amount."),
        ("1e-999999", "1e-999999 has more decimals than USD allows (2)."),
        ("1e-1000100", "1e-1000100 has more decimals than USD allows (2)."),
    ],
)
def test_from_major_refuses_huge_and_non_finite_values_with_a_message(
    value: str | int, message: str
) -> None:
    with pytest.raises(InvalidAmount) as refused:
        Money.from_major(value, "USD")
    assert str(refused.value) == message


def test_from_major_accepts_up_to_the_largest_amount() -> None:
    assert Money.from_major("10000000000000.00", "USD") == Money(10**15, "USD")
    assert Money.from_major("-1e13", "USD") == Money(-(10**15), "USD")
    assert Money.from_major("1000000000000000", "JPY") == Money(10**15, "JPY")
    assert Money.MAX_MINOR_UNITS < 2**63 // 1000  # room for totals in a bigint column


@pytest.mark.parametrize(
    ("typed", "currency", "locale", "minor"),
    [
        # In de_DE "1.500" is fifteen hundred (it was kept as 1,50 €, a thousand times too
        # little: the mirror of the 12,50 → 1,250.00 the comma gave).
        ("1.500", "EUR", "de_DE", 150000),
        ("12.000.000", "EUR", "de_DE", 1200000000),
        ("1.234,50", "EUR", "de_DE", 123450),
        ("12,5", "EUR", "de_DE", 1250),
        ("1.000", "JPY", "de_DE", 1000),
        ("1.000", "EUR", "es_ES", 100000),
        # Amounts are shown in forms as "1.50" (major_string): read back the same.
        ("1.50", "EUR", "de_DE", 150),
        ("0.500", "EUR", "de_DE", 50),
        ("1.500", "KWD", "de_DE", 1500),  # three decimals: a dot is their decimal point
        # Where a comma groups thousands, a dot is the decimal point.
        ("1.500", "USD", "en_US", 150),
        ("1,234.50", "USD", "en_US", 123450),
        (" 12.50 ", "USD", "en_US", 1250),
        # Where a space groups thousands (a narrow no-break space in fr_FR, a no-break space
        # in sv_SE), an ordinary space typed in its place groups them too.
        ("1 234,50", "EUR", "fr_FR", 123450),
        ("1\u202f234,50", "EUR", "fr_FR", 123450),
        ("1\u00a0234,50", "EUR", "fr_FR", 123450),
        ("12 000 000", "EUR", "fr_FR", 1200000000),
        ("1 234,50", "SEK", "sv_SE", 123450),
        ("2 500", "SEK", "sv_SE", 250000),
        ("12,50", "EUR", "fr_FR", 1250),
    ],
)
def test_typed_amounts_are_read_as_the_locale_writes_them(
    typed: str, currency: str, locale: str, minor: int
) -> None:
    assert Money.from_typed(typed, currency, locale) == Money(minor, currency)


@pytest.mark.parametrize(
    ("typed", "locale", "message"),
    [
        ("12,50", "en_US", "'12,50' is not an amount; write it like 1234.50."),
        ("1,234", "de_DE", "1,234 has more decimals than EUR allows (2)."),
        ("12,50 €", "de_DE", "'12,50 €' is not an amount; write it like 1234.50."),
        # A space that does not group thousands is not read as if it did.
        ("12 34,50", "fr_FR", "'12 34,50' is not an amount; write it like 1234.50."),
        ("1 234,50", "de_DE", "'1 234,50' is not an amount; write it like 1234.50."),
    ],
)
def test_a_typed_amount_that_fits_no_reading_is_refused_in_the_words_typed(
    typed: str, locale: str, message: str
) -> None:
    with pytest.raises(InvalidAmount) as refused:
        Money.from_typed(typed, "EUR", locale)
    assert str(refused.value) == message
