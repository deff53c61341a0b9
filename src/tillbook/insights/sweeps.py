from __future__ import annotations

from datetime import timedelta

from tillbook.core.models import Business
from tillbook.core.periodic import sweep
from tillbook.core.scoping import business_scope
from tillbook.insights.rollups import customer_values_refresh, rollups_refresh


@sweep(name="insights.rollups", every=timedelta(minutes=5))
def rollups_sweep() -> int:
    """Live payments reach the rollups within minutes; imports refresh them at once (the
    customers' values, which only the cohort table reads, are refreshed here or by it)."""
    refreshed = 0
    for business in Business.objects.filter(is_active=True).order_by("pk"):
        with business_scope(business):
            rollups_refresh(business=business)
            customer_values_refresh(business=business)
            refreshed += 1
    return refreshed
