"""The cart: kept in the visitor's session, per business; prices are never stored, only what
and how many (the price always comes from the catalog when the order is placed)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from tillbook.core.models import Business
from tillbook.orders.pricing import MAX_LINES, CartItem


def _key(business: Business) -> str:
    return f"cart:{business.pk}"


def cart_items(request: HttpRequest, business: Business) -> list[CartItem]:
    raw: Any = request.session.get(_key(business), [])
    items = []
    for entry in raw if isinstance(raw, list) else []:
        try:
            offering, variant, ticket_type, quantity = entry
            items.append(
                CartItem(
                    int(offering),
                    int(quantity),
                    int(variant) if variant else None,
                    int(ticket_type) if ticket_type else None,
                )
            )
        except (TypeError, ValueError):
            continue
    return items


def cart_save(request: HttpRequest, business: Business, items: list[CartItem]) -> None:
    request.session[_key(business)] = [
        [item.offering_id, item.variant_id, item.ticket_type_id, item.quantity]
        for item in items[:MAX_LINES]
    ]


def cart_add(current: list[CartItem], new: list[CartItem]) -> list[CartItem]:
    merged: dict[tuple[int, int | None, int | None], int] = {}
    for item in [*current, *new]:
        merged[item.key] = merged.get(item.key, 0) + item.quantity
    return [CartItem(o, q, v, t) for (o, v, t), q in merged.items()]


def cart_clear(request: HttpRequest, business: Business) -> None:
    request.session.pop(_key(business), None)


def cart_item_id(item: CartItem) -> str:
    """How a page names one item ("12-0-7"): by what it is, not by its place in the cart, so a
    form from an older page (or another tab) never removes a different item."""
    return "-".join(str(part or 0) for part in item.key)


def cart_remove(current: list[CartItem], item_id: str) -> list[CartItem]:
    return [item for item in current if cart_item_id(item) != item_id]
