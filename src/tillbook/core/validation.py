"""Checks shared by forms, the API and the CLI, each raising InvalidInput with a clear message."""

from __future__ import annotations

import zoneinfo

from babel import Locale, UnknownLocaleError

from tillbook.core.errors import InvalidInput, as_typed
from tillbook.core.models import RESERVED_SLUGS, slug_validator
from tillbook.core.money import is_known_currency


def id_from_text(value: object) -> int | None:
    """One of Tillbook's ids sent back as text (a form field, a link, processor metadata), or
    None when it cannot be one: ASCII digits only (isdigit() also accepts "²", which int()
    refuses) and at most 18 of them (every id fits a bigint; int() refuses thousands)."""
    text = value if isinstance(value, str) else str(value or "")
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    return int(text)


# ISO 4217's X codes that are money people pay in (the CFA francs, the East Caribbean dollar,
# the Caribbean guilder, the CFP franc); the others are metals, funds, testing and "no currency".
X_CURRENCIES_PAID_IN = frozenset({"XAF", "XCD", "XCG", "XOF", "XPF"})


def validate_currency(code: str) -> str:
    code = (code or "").strip().upper()
    if code.startswith("X") and is_known_currency(code) and code not in X_CURRENCIES_PAID_IN:
        raise InvalidInput(
            f"{code} is not a currency customers pay in; choose one such as USD, EUR or GBP.",
            field_errors={"currency": ["Not a currency customers pay in."]},
        )
    if not is_known_currency(code):
        shown = as_typed(code) if code else "An empty value"
        raise InvalidInput(
            f"{shown} is not an ISO 4217 currency code (e.g. USD, EUR, GBP).",
            field_errors={"currency": ["Unknown currency code."]},
        )
    return code


def validate_timezone(name: str) -> str:
    name = (name or "").strip()
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long
        shown = as_typed(name) if name else "An empty value"
        raise InvalidInput(
            f"{shown} is not a time zone; use an IANA name such as Europe/Berlin or "
            "America/New_York.",
            field_errors={"timezone": ["Unknown time zone."]},
        ) from None
    return name


def validate_locale(code: str) -> str:
    code = (code or "").strip().replace("-", "_")
    try:
        Locale.parse(code)
    except (UnknownLocaleError, ValueError, TypeError):
        shown = as_typed(code) if code else "An empty value"
        raise InvalidInput(
            f"{shown} is not a known locale (e.g. en_US, de_DE, fr_FR).",
            field_errors={"locale": ["Unknown locale."]},
        ) from None
    return code


def validate_slug(slug: str) -> str:
    slug = (slug or "").strip()
    try:
        slug_validator(slug)
    except Exception:
        shown = as_typed(slug) if slug else "An empty value"
        raise InvalidInput(
            f"{shown} cannot be a business address: use 1–50 lowercase letters, digits and "
            "hyphens.",
            field_errors={"slug": ["Invalid address."]},
        ) from None
    if slug in RESERVED_SLUGS:
        raise InvalidInput(
            f"{slug} is reserved by Tillbook; choose another address.",
            field_errors={"slug": ["Reserved."]},
        )
    return slug
