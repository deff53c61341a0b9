"""Tenant scoping: every query on a business's rows must say which business it is for.

A tenant-owned model uses `TenantManager`. Its queries are filtered to the business of the
active scope; with no scope active they raise `ScopeMissing`, so a view, task or command that
forgets the business fails loudly in tests instead of leaking another business's rows
(DESIGN.md rule 4). `unscoped()` is for the few places that legitimately cross businesses:
Django admin for superusers, migrations, demo seeding and system sweeps.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.db import models

if TYPE_CHECKING:
    from tillbook.core.models import Business


class ScopeMissing(RuntimeError):
    """A tenant-owned model was queried without a business scope."""


class _Unscoped:
    def __repr__(self) -> str:
        return "<unscoped>"


UNSCOPED = _Unscoped()
_current: contextvars.ContextVar[Business | _Unscoped | None] = contextvars.ContextVar(
    "tillbook_business_scope", default=None
)


@contextmanager
def business_scope(business: Business) -> Iterator[Business]:
    """Run the block with every tenant query filtered to `business`."""
    if business is None or business.pk is None:
        raise ValueError("business_scope needs a saved business")
    token = _current.set(business)
    try:
        yield business
    finally:
        _current.reset(token)


@contextmanager
def unscoped() -> Iterator[None]:
    """Run the block with tenant filtering switched off (admin, migrations, system sweeps)."""
    token = _current.set(UNSCOPED)
    try:
        yield
    finally:
        _current.reset(token)


def current_business() -> Business | None:
    value = _current.get()
    return None if value is None or value is UNSCOPED else value  # type: ignore[return-value]


_M = TypeVar("_M", bound=models.Model)


class TenantManager(models.Manager[_M], Generic[_M]):
    def get_queryset(self) -> models.QuerySet[_M]:
        value = _current.get()
        queryset = super().get_queryset()
        if value is UNSCOPED:
            return queryset
        if value is None:
            raise ScopeMissing(
                f"{self.model.__name__} was queried without a business scope; wrap the code in "
                "business_scope(business) (or unscoped() for system work)."
            )
        return queryset.filter(business=value)


class TenantModel(models.Model):
    """Base for every row that belongs to one business."""

    business = models.ForeignKey(
        "core.Business", on_delete=models.CASCADE, related_name="+", editable=False
    )

    objects = TenantManager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        scoped_to = current_business()
        if scoped_to is not None and self.business_id != scoped_to.pk:
            raise ScopeMissing(
                f"Refusing to save a {type(self).__name__} of business {self.business_id} "
                f"inside the scope of business {scoped_to.pk}."
            )
        super().save(*args, **kwargs)
