"""First-party attribution: where a visitor came from, as a small dictionary ("a touch").

A touch is {"at", "landing", "referrer", and any of UTM_KEYS}. Values are kept exactly as sent
(UTM values are case-sensitive: "Newsletter" and "newsletter" are different campaigns) and cut
to a sane length. Parameters may come in any order; unknown ones are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from tillbook.customers.models import Customer

UTM_KEYS = (
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "utm_id",
    "utm_source_platform",
    "utm_creative_format",
    "utm_marketing_tactic",
)
MAX_VALUE = 200
MAX_URL = 500
TOUCH_KEYS = frozenset({"at", "landing", "referrer", *UTM_KEYS})


def utm_from(params: Mapping[str, str]) -> dict[str, str]:
    """The UTM parameters present in a query string (exact, case-sensitive names)."""
    found = {}
    for key in UTM_KEYS:
        value = _clean(params.get(key) or "", MAX_VALUE)
        if value:
            found[key] = value
    return found


def _clean(value: Any, limit: int) -> str:
    """Printable characters only, without the spaces around them (`utm_campaign=spring%20`
    is the campaign "spring": a trailing space could never be told apart, nor mapped)."""
    return "".join(ch for ch in str(value) if ch.isprintable()).strip()[:limit]


def touch_clean(raw: Any) -> dict[str, str]:
    """A touch from an untrusted source (a cookie, an API body): known keys, short strings."""
    if not isinstance(raw, dict):
        return {}
    touch = {}
    for key in TOUCH_KEYS:
        value = raw.get(key)
        if isinstance(value, str) and value.strip():
            limit = MAX_URL if key in ("landing", "referrer") else MAX_VALUE
            touch[key] = _clean(value, limit)
    return touch


def attribution_clean(raw: Any) -> dict[str, dict[str, str]]:
    """{"first": touch, "latest": touch} with only what is valid."""
    if not isinstance(raw, dict):
        return {}
    result = {}
    for which in ("first", "latest"):
        touch = touch_clean(raw.get(which))
        if touch:
            result[which] = touch
    return result


def latest_touch(attribution: dict[str, Any]) -> dict[str, str]:
    """The touch a purchase is credited to: the latest source of the visit, else the first."""
    return attribution.get("latest") or attribution.get("first") or {}


def customer_attribution_record(*, customer: Customer, attribution: dict[str, Any]) -> None:
    """Copy a purchase's attribution onto the customer: the first touch only once, the latest
    touch every time."""
    cleaned = attribution_clean(attribution)
    if not cleaned:
        return
    first = cleaned.get("first") or cleaned.get("latest") or {}
    latest = cleaned.get("latest") or first
    fields = ["latest_touch"]
    customer.latest_touch = latest
    if not customer.first_touch:
        customer.first_touch = first
        customer.acquisition_source = first.get("utm_source", "")
        customer.acquisition_medium = first.get("utm_medium", "")
        customer.acquisition_campaign = first.get("utm_campaign", "")
        fields += [
            "first_touch",
            "acquisition_source",
            "acquisition_medium",
            "acquisition_campaign",
        ]
    with transaction.atomic():
        customer.save(update_fields=fields)
