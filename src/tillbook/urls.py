from pathlib import Path

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import SuspiciousFileOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import include, path, re_path
from django.views.static import serve

from tillbook.api.urls import urls as api_urls


def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


def root(request: HttpRequest) -> HttpResponse:
    return redirect("backoffice:home")


def media_logo(request: HttpRequest, path: str) -> HttpResponseBase:
    """Serve an uploaded logo. The folder itself is the document root, so `..` can never climb
    into MEDIA_ROOT/private where paid downloads live; a path that tries gets the same 404 as a
    missing file. MEDIA_ROOT is read per request, not frozen when the URLs load."""
    try:
        return serve(request, path, document_root=str(Path(settings.MEDIA_ROOT) / "logos"))
    except SuspiciousFileOperation as error:
        raise Http404("No such logo.") from error


urlpatterns = [
    path("", root, name="root"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", api_urls),
    path("manage/", include("tillbook.backoffice.urls")),
    path("", include("tillbook.storefront.urls")),
    # Public uploads (logos). A proxy may serve MEDIA_ROOT/logos/ instead, never all of MEDIA_ROOT.
    re_path(r"^media/logos/(?P<path>.*)$", media_logo, name="media-logo"),
]
