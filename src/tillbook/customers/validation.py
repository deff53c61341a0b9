"""Normalising customer fields: one place, used by forms, the API and CSV import."""

from __future__ import annotations

import csv

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from tillbook.core.errors import as_typed

EMAIL_MAX_LENGTH = 254  # Customer.email


class FieldProblem(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def normalize_email(raw: str) -> str:
    email = (raw or "").strip()
    if not email:
        raise FieldProblem("email", "An email address is required.")
    try:
        validate_email(email)
    except ValidationError:
        raise FieldProblem("email", f"“{email}” is not a valid email address.") from None
    local, _, domain = email.rpartition("@")
    # Domains are case-insensitive; the local part is kept as typed, uniqueness ignores case.
    normalized = f"{local}@{domain.lower()}"
    # Lowercasing can lengthen a domain (İ becomes i + U+0307); the column holds 254.
    if len(normalized) > EMAIL_MAX_LENGTH:
        raise FieldProblem(
            "email", f"The email address is longer than {EMAIL_MAX_LENGTH} characters."
        )
    return normalized


def default_region(*, country: str, locale: str) -> str:
    """Where a number without a country code is assumed to be: the business's country, or
    the territory of its locale (en_US -> US)."""
    if country:
        return country.upper()
    _, _, territory = locale.replace("-", "_").partition("_")
    return territory.upper() if len(territory) == 2 else ""


def normalize_phone(raw: str, *, region: str = "") -> str:
    """Return the number in E.164 (+14155550123), or "" for an empty value."""
    text = (raw or "").strip()
    if not text:
        return ""
    try:
        number = phonenumbers.parse(text, region.upper() or None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        hint = "" if text.startswith("+") else " Include the country code, e.g. +1 415 555 0123."
        raise FieldProblem("phone", f"“{as_typed(text)}” is not a valid phone number.{hint}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_tags(raw: str | list[str] | tuple[str, ...]) -> list[str]:
    """Split "vip; newsletter, vip" into ["vip", "newsletter"], keeping first spelling."""
    items = raw if isinstance(raw, list | tuple) else _split_tags(raw or "")
    seen: dict[str, str] = {}
    for item in items:
        name = " ".join(str(item).split())
        if not name:
            continue
        if len(name) > 50:
            raise FieldProblem("tags", f"The tag “{name[:20]}…” is longer than 50 characters.")
        seen.setdefault(name.lower(), name)
    return list(seen.values())


def _split_tags(text: str) -> list[str]:
    separator = ";" if ";" in text else ","
    # Mailchimp exports each tag in double quotes ("VIP","Spring webinar"), which may hold the
    # separator; read the text as one CSV row so the quotes are not kept in the tag names.
    row = " ".join(text.splitlines())
    return next(csv.reader([row], delimiter=separator, skipinitialspace=True), [])


def format_phone_for_display(e164: str) -> str:
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
