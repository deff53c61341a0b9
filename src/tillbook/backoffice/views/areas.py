"""The dashboard and the areas whose features arrive with later work (empty states)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone

from tillbook.backoffice.access import business_of, business_view, page
from tillbook.core.models import Membership
from tillbook.customers.models import Customer
from tillbook.messaging.models import OutboxMessage

EMPTY_AREAS = {
    "marketing": ("Marketing", "Newsletters, tracked links and ad campaigns will appear here."),
    "insights": ("Insights", "Reports on revenue, bookings and campaigns will appear here."),
}


@business_view()
def dashboard(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    week_ago = timezone.now() - timedelta(days=7)
    customers = Customer.objects.filter(business=business)
    checklist = [
        ("Add your logo and brand colour", bool(business.logo), "backoffice:settings_branding"),
        (
            "Complete your contact details",
            bool(business.contact_email),
            "backoffice:settings_profile",
        ),
        ("Import or add your customers", customers.exists(), "backoffice:customer_import"),
        (
            "Invite your team",
            Membership.objects.filter(business=business).count() > 1,
            "backoffice:settings_staff",
        ),
    ]
    return page(
        request,
        "backoffice/dashboard.html",
        {
            "customer_count": customers.count(),
            "new_customers": customers.filter(created_at__gte=week_ago).count(),
            "consenting": customers.filter(marketing_consent=True).count(),
            "messages_week": OutboxMessage.objects.filter(
                business=business, created_at__gte=week_ago
            ).count(),
            "checklist": checklist,
        },
        section="dashboard",
    )


def _empty_area(section: str) -> Callable[..., HttpResponseBase]:
    title, text = EMPTY_AREAS[section]

    @business_view()
    def view(request: HttpRequest) -> HttpResponse:
        return page(
            request, "backoffice/area_empty.html", {"title": title, "text": text}, section=section
        )

    view.__name__ = f"{section}_home"
    return view


marketing_home = _empty_area("marketing")
insights_home = _empty_area("insights")
