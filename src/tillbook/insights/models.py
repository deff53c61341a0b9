"""Rollups: small tables the metrics read instead of scanning every payment."""

from __future__ import annotations

from typing import ClassVar

from django.db import models

from tillbook.core.scoping import TenantModel


class CustomerFirstPayment(TenantModel):
    """When each customer (by lower-cased email) first paid. "New customer" and "CAC" ask
    this for every period; without it each question scans every payment the business ever
    had. Kept up to date by insights.rollups.customer_firsts_refresh."""

    email_key = models.CharField(max_length=254)
    first_at = models.DateTimeField()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["business", "email_key"], name="customerfirst_unique"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["business", "first_at"], name="customerfirst_first_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.email_key} since {self.first_at:%Y-%m-%d}"


class RollupWatermark(TenantModel):
    """How far a rollup has read the payments table (by id)."""

    name = models.CharField(max_length=50)
    last_payment_id = models.BigIntegerField(default=0)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["business", "name"], name="rollupwatermark_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} at payment {self.last_payment_id}"
