"""The areas whose features arrive with later work (empty states). The dashboard is in
views/dashboard.py, the reports in views/insights.py."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBase

from tillbook.backoffice.access import business_view, page

EMPTY_AREAS = {
    "marketing": ("Marketing", "Newsletters, tracked links and ad campaigns will appear here."),
}


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
