from __future__ import annotations

from datetime import timedelta

from tillbook.core.models import Business
from tillbook.core.periodic import sweep
from tillbook.core.scoping import business_scope
from tillbook.insights.rollups import customer_firsts_refresh


@sweep(name="insights.customer_firsts", every=timedelta(minutes=5))
def customer_firsts_sweep() -> int:
    """Live payments reach the rollups within minutes; imports refresh them at once."""
    read = 0
    for business in Business.objects.filter(is_active=True).order_by("pk"):
        with business_scope(business):
            read += customer_firsts_refresh(business=business)
    return read
