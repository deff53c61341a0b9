"""The audit log: one call per staff action, made explicitly by the service that acted."""

from __future__ import annotations

from typing import Any

from django.db import models

from tillbook.core.models import AuditEntry, Business, User


def audit_record(
    *,
    business: Business,
    actor: User | None,
    action: str,
    summary: str,
    target: models.Model | None = None,
    changes: dict[str, Any] | None = None,
    actor_label: str = "",
) -> AuditEntry:
    entry = AuditEntry(
        business=business,
        actor=actor,
        actor_label=actor_label or (actor.email if actor else "system"),
        action=action,
        summary=summary[:300],
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        changes=changes or {},
    )
    entry.save()
    return entry


def model_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Fields whose value differs, as {field: [old, new]}, for the audit log."""
    return {
        field: [before.get(field), value]
        for field, value in after.items()
        if before.get(field) != value
    }
