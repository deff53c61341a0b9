"""Money in templates: `{{ amount|minor:currency }}` shows integer minor units as "12.50"."""

from __future__ import annotations

from django import template

from tillbook.core.money import InvalidAmount, Money

register = template.Library()


@register.filter
def minor(amount: int | None, currency: str) -> str:
    if amount is None or amount == "":
        return ""
    try:
        return Money(int(amount), str(currency)).major_string()
    except (InvalidAmount, TypeError, ValueError):
        return ""
