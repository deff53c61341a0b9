"""First-party attribution on the storefront, consent-aware.

With the visitor's consent (the banner's "Accept"), the first and latest touch live in a signed
first-party cookie scoped to the business's path for 180 days, so a purchase weeks after the
first ad click is still attributed to it.

Without consent we set no attribution cookie. The touch of the current visit is kept in the
server-side session only, which ends with the session and is never linked to another visit, so
the first touch of a non-consenting buyer is simply this visit. A session is started for it only
when the visit carries something to attribute (UTM parameters or a referrer from another site);
a plain visit writes nothing. We chose this over "nothing at all" because the owner still needs
to know which campaign an order came from — information about their own sale, kept on their
own server, gone when the visit ends — while a cross-visit identifier needs consent.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.signing import BadSignature
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from tillbook.core.models import Business
from tillbook.customers.attribution import MAX_URL, attribution_clean, utm_from

CONSENT_COOKIE = "tb_consent"
ATTRIBUTION_COOKIE = "tb_attr"
COOKIE_SALT = "tillbook.attribution"
COOKIE_AGE = 180 * 24 * 3600


def consent_state(request: HttpRequest) -> str:
    """ "yes", "no" or "" (not asked yet)."""
    value = request.COOKIES.get(CONSENT_COOKIE, "")
    return value if value in ("yes", "no") else ""


def _session_key(business: Business) -> str:
    return f"tb_attr:{business.pk}"


def attribution_read(request: HttpRequest, business: Business) -> dict[str, Any]:
    if consent_state(request) == "yes":
        try:
            raw = request.get_signed_cookie(ATTRIBUTION_COOKIE, salt=COOKIE_SALT)
            stored = attribution_clean(json.loads(raw or ""))
            if stored:
                return stored
        except (KeyError, BadSignature, ValueError):
            pass
    session = getattr(request, "session", None)
    if session is not None and _session_key(business) in session:
        return attribution_clean(session[_session_key(business)])
    return {}


def _touch(request: HttpRequest) -> tuple[dict[str, str], bool]:
    utm = utm_from(request.GET)
    referrer = request.META.get("HTTP_REFERER", "")[:MAX_URL]
    external = bool(referrer) and urlsplit(referrer).netloc not in ("", request.get_host())
    touch = {"at": timezone.now().isoformat(), "landing": request.get_full_path()[:MAX_URL], **utm}
    if external:
        touch["referrer"] = referrer
    return touch, bool(utm) or external


def attribution_track(request: HttpRequest, response: HttpResponse, business: Business) -> None:
    """Record this page view as a touch when it starts a visit or brings a new source."""
    current = attribution_read(request, business)
    touch, has_source = _touch(request)
    consented = consent_state(request) == "yes"
    if current and not has_source:
        return  # a page inside the same visit
    if not consented and not has_source:
        return  # nothing worth a session
    updated = {"first": current.get("first") or touch, "latest": touch}
    attribution_store(request, response, business, updated)


def attribution_store(
    request: HttpRequest, response: HttpResponse, business: Business, value: dict[str, Any]
) -> None:
    if consent_state(request) == "yes":
        response.set_signed_cookie(
            ATTRIBUTION_COOKIE,
            json.dumps(value),
            salt=COOKIE_SALT,
            max_age=COOKIE_AGE,
            path=f"/{business.slug}/",
            httponly=True,
            samesite="Lax",
            secure=getattr(settings, "SESSION_COOKIE_SECURE", False),
        )
    else:
        request.session[_session_key(business)] = value


def consent_set(
    request: HttpRequest, response: HttpResponse, business: Business, *, yes: bool
) -> None:
    response.set_cookie(
        CONSENT_COOKIE,
        "yes" if yes else "no",
        max_age=365 * 24 * 3600,
        path=f"/{business.slug}/",
        samesite="Lax",
        secure=getattr(settings, "SESSION_COOKIE_SECURE", False),
    )
    if yes:
        current = attribution_read(request, business)
        if current:
            request.COOKIES[CONSENT_COOKIE] = "yes"
            attribution_store(request, response, business, current)
    else:
        response.delete_cookie(ATTRIBUTION_COOKIE, path=f"/{business.slug}/")
