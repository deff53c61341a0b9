from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone

from tillbook.core.models import User
from tillbook.core.scoping import TenantModel


class ApiToken(TenantModel):
    """A bearer token for one business with a set of scopes; only its hash is stored."""

    name = models.CharField(max_length=100)
    # The public part of the token (tb_<prefix>_…), shown in lists so a token can be recognised.
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} (tb_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
