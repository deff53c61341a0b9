"""Helpers for the access-matrix tests: list every URL, and fingerprint the database so a
denied request can be shown to have changed nothing."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver

from tillbook.core.scoping import unscoped

# Rows that legitimately change on any request (sessions, login throttling, token last use).
VOLATILE = {"sessions.session", "core.ratelimitbucket"}
VOLATILE_FIELDS = {"last_login", "last_used_at"}


def url_patterns(namespace: str) -> dict[str, str]:
    """{url name: route with <converters>} for every pattern in `namespace`."""
    found: dict[str, str] = {}

    def walk(patterns: list[Any], prefix: str, current_namespace: str | None) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(
                    entry.url_patterns,
                    prefix + str(entry.pattern),
                    entry.namespace or current_namespace,
                )
            elif isinstance(entry, URLPattern) and current_namespace == namespace and entry.name:
                found[entry.name] = prefix + str(entry.pattern)

    walk(get_resolver().url_patterns, "/", None)
    return found


def database_fingerprint() -> dict[str, list[dict[str, Any]]]:
    snapshot: dict[str, list[dict[str, Any]]] = {}
    with unscoped():
        for model in apps.get_models():
            label = model._meta.label_lower
            if label in VOLATILE or label.startswith(("admin.", "contenttypes.", "auth.")):
                continue
            rows = list(model._base_manager.order_by("pk").values())
            for row in rows:
                for field in VOLATILE_FIELDS:
                    row.pop(field, None)
            snapshot[label] = rows
    return snapshot
