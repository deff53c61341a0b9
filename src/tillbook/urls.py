from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import include, path, re_path
from django.views.static import serve

from tillbook.api.urls import urls as api_urls


def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


def root(request: HttpRequest) -> HttpResponse:
    return redirect("backoffice:home")


urlpatterns = [
    path("", root, name="root"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", api_urls),
    path("manage/", include("tillbook.backoffice.urls")),
    path("", include("tillbook.storefront.urls")),
    # Public uploads (logos). Large installations may serve MEDIA_ROOT from the proxy instead.
    re_path(r"^media/(?P<path>logos/.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
]
