from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from tillbook.core.scoping import unscoped


class UnscopedAdminMiddleware:
    """Django admin is for superusers running the installation: it sees every business."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/admin/"):
            with unscoped():
                return self.get_response(request)
        return self.get_response(request)
