"""Secret links: the buyer's order page and a ticket's check-in URL.

Both are an id plus an HMAC keyed with the installation's secret key and a per-row salt, so a
link cannot be guessed, a database copy alone does not produce working links, and a link can be
rebuilt for a resent receipt without storing it.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.crypto import salted_hmac

from tillbook.core.links import absolute_url
from tillbook.core.tokens import secrets_match
from tillbook.core.validation import id_from_text
from tillbook.orders.models import Order, Ticket


def _mac(namespace: str, value: str) -> str:
    return salted_hmac(namespace, value, algorithm="sha256").hexdigest()[:32]


def order_token(order: Order) -> str:
    return f"{order.pk}.{_mac('tillbook.order', f'{order.pk}:{order.access_salt}')}"


def order_token_matches(order: Order, token: str) -> bool:
    return secrets_match(order_token(order), token)


def token_order_id(token: str) -> int | None:
    return id_from_text(token.split(".", 1)[0])


def order_url(order: Order) -> str:
    return absolute_url(reverse("storefront:order", args=[order.business.slug, order_token(order)]))


def ticket_code(ticket: Ticket) -> str:
    return f"{ticket.pk}.{_mac('tillbook.ticket', f'{ticket.pk}:{ticket.secret}')[:20]}"


def ticket_code_matches(ticket: Ticket, code: str) -> bool:
    return secrets_match(ticket_code(ticket), code)


def ticket_check_in_url(ticket: Ticket) -> str:
    return absolute_url(
        reverse(
            "backoffice:check_in_ticket",
            args=[ticket.business.slug, ticket.event.offering_id, ticket_code(ticket)],
        )
    )
