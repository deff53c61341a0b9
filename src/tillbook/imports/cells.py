"""Reading one cell of an export file: amounts, counts, percentages, ids.

Every platform writes numbers its own way: Square `$1,234.50` and `-$0.95`, Google Ads
`"2,140"`, `23.27%` and `--` for "not applicable", PayPal in German `-24,90` and `1.234,56`,
Excel `1.2E+17` for a 17-digit id. Nothing here ever goes through a float.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from tillbook.core.money import Money, currency_precision, processor_precision


class CellError(ValueError):
    """A cell could not be read; the message names the value and what was expected. `line`:
    where it is, for a cell read before the rows (a report's date range above its header)."""

    def __init__(self, message: str, *, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


# "--" is Google's and Microsoft's "not applicable"; an em dash and "n/a" occur in edited files.
_EMPTY = frozenset({"", "--", "-", "—", "n/a", "N/A", "none", "None"})
# An amount with an optional sign, currency symbol or code on either side ("-$0.95", "US$12",
# "24,90 €", "EUR 1.234,56", "($0.95)", "24,90-"). Digits may be grouped with . , ' or spaces.
_CURRENCY = r"(?:[A-Z]{2,3}\$?|[$€£¥₹]|kr|zł)?"
_AMOUNT = re.compile(
    rf"^(?P<sign>[-+]?)\s*(?P<before>{_CURRENCY})\s*(?P<sign2>[-+]?)"
    r"(?P<number>\d[\d.,'\s\u00a0\u202f]*|[.,]\d+)"
    rf"(?P<trailing_minus>-?)\s*(?P<after>{_CURRENCY})$"
)
EXCEL_DIGITS = 15  # significant digits Excel keeps of a number
_EXCEL_SCIENTIFIC = re.compile(r"^\d(?:[.,]\d+)?E\+\d+$", re.IGNORECASE)


def is_empty(text: str) -> bool:
    return text.strip() in _EMPTY


def _normalise_number(text: str, *, decimal_mark: str) -> str:
    """Turn "1.234,56" or "$1,234.50" into "1234.56" / "1234.50".

    The decimal mark is the file's (a German PayPal file writes decimal commas). Where a cell
    has both marks, the rightmost is the decimal one whatever the file says.
    """
    if "'" in text:  # Swiss grouping: 1'234.50
        _check_groups(text.rpartition(".")[0] if "." in text else text)
    body = text.replace("'", "")
    has_dot, has_comma = "." in body, "," in body
    if has_dot and has_comma:
        decimal = "." if body.rfind(".") > body.rfind(",") else ","
    elif has_dot or has_comma:
        mark = "." if has_dot else ","
        tail = body.rpartition(mark)[2]
        # "1,234" in a dot file and "1.234" in a comma file group thousands; the file's own
        # mark followed by three digits is a decimal mark (12.345 USD is then refused).
        grouping = body.count(mark) > 1 or (len(tail) == 3 and mark != decimal_mark)
        decimal = "" if grouping else mark
    else:
        decimal = ""
    if decimal:
        whole, _, fraction = body.rpartition(decimal)
        _check_groups(whole)
        whole = whole.replace(".", "").replace(",", "")
        return f"{whole}.{fraction}"
    _check_groups(body)
    return body.replace(".", "").replace(",", "")


def _check_groups(whole: str) -> None:
    """Refuse a whole part whose marks do not group thousands ("20..02", "1,234,56", "1.2,3"),
    rather than read it as some other number. Lakh grouping (1,23,456) is a real format."""
    if "." not in whole and "," not in whole and "'" not in whole:
        return  # nearly every amount: nothing grouped
    parts = re.split(r"[.,']", whole)
    marks = set(re.findall(r"[.,']", whole))
    sizes = [len(part) for part in parts]
    thousands = 1 <= sizes[0] <= 3 and all(size == 3 for size in sizes[1:])
    lakhs = 1 <= sizes[0] <= 2 and all(size == 2 for size in sizes[1:-1]) and sizes[-1] == 3
    if len(marks) != 1 or not (thousands or lakhs):
        raise InvalidOperation


def parse_decimal(text: str, *, decimal_mark: str = ".") -> Decimal:
    raw = text.strip()
    negative = False
    if raw.startswith("(") and raw.endswith(")"):  # accounting negatives: ($0.95)
        raw, negative = raw[1:-1].strip(), True
    match = _AMOUNT.match(raw)
    if match is None:
        raise CellError(f"“{text}” is not a number")
    signs = match["sign"] + match["sign2"] + match["trailing_minus"]
    if signs.count("-") + signs.count("+") > 1:
        raise CellError(f"“{text}” is not a number")
    negative ^= "-" in signs
    number = re.sub(r"[\s\u00a0\u202f]", "", match["number"])
    try:
        value = Decimal(_normalise_number(number, decimal_mark=decimal_mark))
    except InvalidOperation:
        raise CellError(f"“{text}” is not a number") from None
    return -value if negative else value


_PLAIN_AMOUNT = re.compile(r"(-?)(\d+)(?:\.(\d+))?")


def parse_minor(text: str, currency: str, *, decimal_mark: str = ".") -> int:
    """An amount in major units as written in the file → integer minor units of `currency`.

    A processor may state decimals Money does not keep (Stripe writes pesos and forints to
    the hundredth, CLDR counts them whole): those are rounded half away from zero. More
    decimals than the processors use is a damaged file.
    """
    precision = currency_precision(currency)
    if decimal_mark == "." and (plain := _PLAIN_AMOUNT.fullmatch(text)):
        # The common case (Stripe writes "-80.00"), read without Decimal: a million-row file
        # has three amounts per row.
        sign, whole, fraction = plain.groups()
        fraction = fraction or ""
        if len(fraction) <= precision and len(whole) < 19:  # longer: refused below
            whole_minor = int(whole + fraction.ljust(precision, "0"))
            if whole_minor > Money.MAX_MINOR_UNITS:  # inline: three amounts a row
                _bounded(whole_minor, text)
            return -whole_minor if sign else whole_minor
    if is_empty(text):
        return 0
    finest = max(precision, processor_precision(currency))
    value = parse_decimal(text, decimal_mark=decimal_mark)
    if value.scaleb(finest) != value.scaleb(finest).to_integral_value():
        raise CellError(f"“{text}” has more decimals than {currency} allows ({finest})")
    try:
        minor = int(value.scaleb(precision).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except InvalidOperation:  # more digits than any amount has
        raise CellError(f"“{text}” is not an amount") from None
    return _bounded(minor, text)


def _bounded(number: int, text: str) -> int:
    """Refuse what no amount or count is (the ledger's columns hold 9.2 × 10**18; sums over
    them must fit too), rather than fail on the database's overflow after reading the file."""
    if abs(number) > Money.MAX_MINOR_UNITS:
        raise CellError(f"“{text}” is too large to be an amount or a count")
    return number


# Conversions are kept with 14 digits, two of them decimals (marketing.AdSpendDay).
QUANTITY_LIMIT = Decimal(10) ** 12


def parse_count(text: str) -> int:
    """A whole count such as clicks or impressions: "2,140", "2.140", "2 140", "--"."""
    if is_empty(text):
        return 0
    value = parse_decimal(text.replace(",", "").replace(".", "") if _grouped(text) else text)
    if value != value.to_integral_value():
        raise CellError(f"“{text}” is not a whole number")
    if value < 0:
        raise CellError(f"“{text}” is below zero; a count cannot be")
    return _bounded(int(value), text)


def _grouped(text: str) -> bool:
    # Counts never have decimals, so any separator followed by three digits is grouping.
    return bool(re.fullmatch(r"\s*-?\d{1,3}(?:[.,\s\u00a0]\d{3})+\s*", text))


def parse_quantity(text: str, *, decimal_mark: str = ".") -> Decimal:
    """A count that may be fractional (data-driven conversions: "12.50"), to the hundredth
    and below a trillion (what the ledger keeps)."""
    if is_empty(text):
        return Decimal(0)
    value = parse_decimal(text, decimal_mark=decimal_mark)
    if abs(value) >= QUANTITY_LIMIT:
        raise CellError(f"“{text}” is too large to be a count")
    return value


def parse_percent(text: str, *, decimal_mark: str = ".") -> Decimal | None:
    """ "23.27%" → Decimal("23.27"); "--" → None."""
    if is_empty(text):
        return None
    return parse_decimal(text.strip().rstrip("%"), decimal_mark=decimal_mark)


def parse_id(text: str) -> tuple[str, bool]:
    """An identifier, kept as written (leading zeros and all). Returns (id, trustworthy).

    Excel shows an 18-digit Meta id as 1.2E+17 and saves it that way; the digits are gone,
    so such an id is not trustworthy and callers must match by name instead. Formatted as a
    number, Excel keeps 15 significant digits and writes zeros for the rest
    (120210000000000123 becomes 120210000000000000): an id of more than 15 digits that ends
    so is not trusted either (a true id ends in three zeros once in a thousand; it is then
    matched by name, as before ids were trusted).
    """
    value = text.strip()
    if value.startswith("'"):
        value = value[1:]
    if _EXCEL_SCIENTIFIC.match(value):
        return value, False
    if len(value) > EXCEL_DIGITS and value.isdigit() and not value[EXCEL_DIGITS:].strip("0"):
        return value, False
    return value, True
