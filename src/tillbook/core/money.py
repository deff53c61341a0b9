"""Money: an integer amount in a currency's minor units, never a float.

Precision per currency comes from Babel's CLDR data (JPY has none, BHD three). Arithmetic
refuses to mix currencies; `allocate` splits an amount by ratios without losing or inventing
a minor unit (100.00 in three parts is 33.34 + 33.33 + 33.33).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import cache

from babel.numbers import (
    NumberFormatError,
    format_currency,
    get_currency_precision,
    get_group_symbol,
    list_currencies,
    parse_decimal,
)

from tillbook.core.errors import as_typed

# "1.500", "12.000.000": thousands grouped with dots (a first group without a leading zero).
_DOT_GROUPED = re.compile(r"-?[1-9]\d{0,2}(?:\.\d{3})+")
_SPACE = re.compile(r"[ \u00a0\u202f]")


class CurrencyMismatch(ValueError):
    """Two amounts in different currencies were combined."""


class InvalidAmount(ValueError):
    """An amount could not be read or has more decimals than its currency allows."""


@cache
def known_currencies() -> frozenset[str]:
    return frozenset(code for code in list_currencies() if len(code) == 3 and code.isupper())


def is_known_currency(code: str) -> bool:
    return code in known_currencies()


@cache
def currency_precision(code: str) -> int:
    if not is_known_currency(code):
        raise InvalidAmount(f"{code!r} is not an ISO 4217 currency code.")
    return int(get_currency_precision(code))


# How many decimals the payment processors state (Stripe's table, docs.stripe.com/currencies,
# which follows ISO 4217 more closely than CLDR): none for these, three for those, two for
# every other currency. Where CLDR counts fewer (the Colombian peso, the forint, the króna,
# the rupiah have none in CLDR, two at Stripe), amounts from a processor can be finer than a
# minor unit of Money: a Stripe fee of 1,450.30 pesos.
PROCESSOR_ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
     "XAF", "XOF", "XPF"}
)  # fmt: skip
PROCESSOR_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def processor_precision(code: str) -> int:
    return 0 if code in PROCESSOR_ZERO_DECIMAL else 3 if code in PROCESSOR_THREE_DECIMAL else 2


@dataclass(frozen=True, slots=True, order=False)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise InvalidAmount(
                f"Money amounts are whole minor units; got {type(self.amount).__name__} "
                f"{self.amount!r}."
            )
        currency_precision(self.currency)

    # Construction -------------------------------------------------------------------------

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    # The largest amount read from input, in minor units: far below the bigint columns' limit
    # (9.2 × 10**18), so an order's lines, tax and totals, and sums over a ledger, still fit.
    MAX_MINOR_UNITS = 10**15

    @classmethod
    def from_major(cls, value: Decimal | str | int, currency: str) -> Money:
        """Read an amount in major units ("12.50" USD -> 1250). Refuses extra decimals, and
        values beyond ±MAX_MINOR_UNITS with a message rather than an overflow."""
        if isinstance(value, float):
            raise InvalidAmount("Money never comes from a float; pass a string or a Decimal.")
        text = str(value).strip()
        shown = as_typed(text, 20)
        try:
            decimal = Decimal(text)
        except InvalidOperation:
            raise InvalidAmount(f"{shown!r} is not an amount.") from None
        if not decimal.is_finite():
            raise InvalidAmount(f"{shown!r} is not an amount.")
        precision = currency_precision(currency)
        # Compared before any arithmetic: scaling "1e999999" overflows the decimal context, and
        # int() of "1e999998" would build a number with a million digits.
        largest = cls(cls.MAX_MINOR_UNITS, currency)
        if decimal.copy_abs() > largest.to_decimal():
            raise InvalidAmount(
                f"{shown} is too large; Tillbook accepts amounts up to "
                f"{largest.major_string()} {currency}."
            )
        # Bounded now, so quantize stays within the context's 28 digits; comparing with the
        # unrounded value is exact, so even 1e-1000100 counts as having extra decimals.
        rounded = decimal.quantize(Decimal(1).scaleb(-precision))
        if rounded != decimal:
            raise InvalidAmount(f"{shown} has more decimals than {currency} allows ({precision}).")
        return cls(int(rounded.scaleb(precision)), currency)

    @classmethod
    def from_typed(cls, text: str, currency: str, locale: str) -> Money:
        """Read an amount a person typed in a form, as the business's `locale` writes amounts:
        "1,234.50" where a comma groups thousands (en_US), "12,50" and "1.500" where a comma
        marks the decimals and a dot groups thousands (de_DE), "1 234,50" where a space groups
        them (fr_FR, sv_SE: typed with an ordinary space or theirs). A comma that fits neither is
        refused, never dropped ("12,50" in a shop that writes 12.50 is not 1,250.00).

        Otherwise as `from_major`, which is also how amounts are shown in forms ("1.50"): a
        dot is grouping only before exactly three digits ("1.500", "12.000.000"), and never
        in a currency with three decimals, whose amounts are shown so ("1.500" KWD)."""
        typed = text.strip()
        text = typed
        group = get_group_symbol(locale)
        if group.isspace():  # fr_FR, sv_SE: a space a keyboard types stands for theirs
            text = _SPACE.sub(group, text)
        if "," in text or (group.isspace() and group in text):
            try:
                text = str(parse_decimal(text, locale=locale, strict=True))
            except NumberFormatError:
                shown = as_typed(typed, 20)
                raise InvalidAmount(f"'{shown}' is not an amount; write it like 1234.50.") from None
        elif _DOT_GROUPED.fullmatch(text) and group == "." and currency_precision(currency) != 3:
            text = text.replace(".", "")
        try:
            return cls.from_major(text, currency)
        except InvalidAmount as error:  # in the words the person typed, not as parsed
            raise InvalidAmount(str(error).replace(text, typed, 1)) from None

    # Views --------------------------------------------------------------------------------

    @property
    def precision(self) -> int:
        return currency_precision(self.currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-self.precision)

    def major_string(self) -> str:
        """The amount in major units with exactly the currency's decimals: "1234.50"."""
        return f"{self.to_decimal():.{self.precision}f}"

    def format(self, locale: str = "en_US") -> str:
        return format_currency(self.to_decimal(), self.currency, locale=locale)

    def __str__(self) -> str:
        return f"{self.major_string()} {self.currency}"

    # Arithmetic ---------------------------------------------------------------------------

    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"Cannot combine Money with {type(other).__name__}.")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"Cannot combine {self.currency} and {other.currency} amounts.")
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._same(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._same(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.amount), self.currency)

    def __mul__(self, factor: int) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, int):
            raise TypeError("Multiply Money by a whole number; use scale() for fractions.")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def scale(self, factor: Decimal, *, rounding: str = ROUND_HALF_EVEN) -> Money:
        """Multiply by a fraction (a tax rate, a percentage) and round to a minor unit."""
        if not isinstance(factor, Decimal):
            raise TypeError("scale() takes a Decimal factor.")
        scaled = (Decimal(self.amount) * factor).to_integral_value(rounding=rounding)
        return Money(int(scaled), self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._same(other).amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._same(other).amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._same(other).amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._same(other).amount

    def __bool__(self) -> bool:
        return self.amount != 0

    # Allocation ---------------------------------------------------------------------------

    def allocate(self, ratios: Sequence[int]) -> list[Money]:
        """Split by whole-number ratios; the parts always add up to exactly this amount.

        Largest-remainder method: each part gets its floor share, and the minor units left
        over go one each to the parts with the largest remainders (earlier parts on ties),
        so the split is fair and deterministic.
        """
        if not ratios:
            raise ValueError("allocate() needs at least one ratio.")
        if any(isinstance(r, bool) or not isinstance(r, int) or r < 0 for r in ratios):
            raise ValueError("Ratios must be whole numbers of zero or more.")
        total = sum(ratios)
        if total == 0:
            raise ValueError("At least one ratio must be above zero.")
        sign = -1 if self.amount < 0 else 1
        amount = abs(self.amount)
        shares = [amount * ratio // total for ratio in ratios]
        remainders = [amount * ratio % total for ratio in ratios]
        leftover = amount - sum(shares)
        order = sorted(range(len(ratios)), key=lambda index: (-remainders[index], index))
        for index in order[:leftover]:
            shares[index] += 1
        return [Money(sign * share, self.currency) for share in shares]

    def split(self, parts: int) -> list[Money]:
        if parts < 1:
            raise ValueError("split() needs at least one part.")
        return self.allocate([1] * parts)


def money_sum(amounts: Sequence[Money], currency: str) -> Money:
    """Add amounts of one currency; an empty sequence is zero in `currency`."""
    total = Money.zero(currency)
    for amount in amounts:
        total = total + amount
    return total


def per_each(amount: int, count: int) -> int:
    """`amount` (minor units) shared by `count` (orders, customers), to the nearest minor unit,
    halves to even: 20.00 over three orders is 6.67, not the 6.66 that floor division gives."""
    if count <= 0:
        raise ValueError("per_each() needs a positive count.")
    return int((Decimal(amount) / count).quantize(Decimal(1), ROUND_HALF_EVEN))
