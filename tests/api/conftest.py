from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tillbook.api.scopes import SCOPES
from tillbook.api.services import api_token_create
from tillbook.core.models import Business
from tillbook.core.scoping import business_scope
from tillbook.customers.models import Customer
from tillbook.customers.services import customer_create

# 14:00 UTC on 3 March 2025; responses show it as 2025-03-03T14:00:00Z.
FROZEN_NOW = datetime(2025, 3, 3, 14, 0, tzinfo=UTC)


@pytest.fixture
def make_token(db: None) -> Callable[..., str]:
    """Create an API token and return its secret, the value a client sends as Bearer."""

    def make(business: Business, scopes: list[str] | None = None, name: str = "Zapier") -> str:
        created = api_token_create(
            business=business, actor=None, name=name, scopes=scopes or list(SCOPES)
        )
        return created.secret

    return make


@pytest.fixture
def make_customer(db: None) -> Callable[..., Customer]:
    def make(business: Business, email: str, **fields: Any) -> Customer:
        with business_scope(business):
            return customer_create(business=business, actor=None, email=email, **fields)

    return make


@pytest.fixture
def api(client: Client, business: Business, make_token: Callable[..., str]) -> Client:
    """A client sending a token of `business` with every scope."""
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {make_token(business)}"
    return client


@pytest.fixture
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """Stop the clock services read, so timestamps in responses have exact values."""
    monkeypatch.setattr(timezone, "now", lambda: FROZEN_NOW)
    return FROZEN_NOW
