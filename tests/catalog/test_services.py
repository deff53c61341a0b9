from __future__ import annotations

from tillbook.catalog.models import Offering
from tillbook.catalog.services import offering_create, offering_update
from tillbook.core.models import AuditEntry, Business, User


def test_clearing_the_address_remakes_it_from_the_title(scoped: Business, owner: User) -> None:
    # An API PATCH may send {"slug": ""} alone: the address comes from the offering's own
    # title (unchanged here), not from the placeholder "item".
    workbook = offering_create(
        business=scoped, actor=owner, kind="download", title="Pricing Workbook", price=1900
    )
    offering_create(business=scoped, actor=owner, kind="download", title="Item", price=500)
    assert workbook.slug == "pricing-workbook"
    offering_update(offering=workbook, actor=owner, data={"slug": ""})
    workbook.refresh_from_db()
    assert workbook.slug == "pricing-workbook"
    assert sorted(Offering.objects.values_list("slug", flat=True)) == ["item", "pricing-workbook"]
    assert AuditEntry.objects.filter(action="offering.update").count() == 1
