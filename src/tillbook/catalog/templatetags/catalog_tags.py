from __future__ import annotations

from django import template

from tillbook.catalog.video import video_embed_url
from tillbook.core.money import Money

register = template.Library()


@register.filter
def video_embed(url: str) -> str:
    return video_embed_url(url)


@register.simple_tag
def money(amount: int | None, currency: str, locale: str = "en_US") -> str:
    if amount is None:
        return ""
    return Money(int(amount), currency).format(locale)


@register.filter
def get_item(mapping: dict, key: object) -> object:
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def major(amount: int | None, currency: str) -> str:
    """Minor units as the amount a person types: 1250 USD → "12.50"."""
    if amount is None:
        return ""
    return Money(int(amount), currency).major_string()
