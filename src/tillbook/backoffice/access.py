"""Who may open a back-office page.

Pages live under /manage/<business-slug>/. A login that does not work for that business gets
404, exactly as for a business that does not exist, so addresses reveal nothing; a member
whose role is too low gets 403 with the reason. The view then runs inside the business scope.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils import timezone

from tillbook.core.models import Business, Membership, Role, User
from tillbook.core.scoping import business_scope
from tillbook.core.selectors import membership_for, memberships_for_user

ROLE_NEEDED = {
    Role.MANAGER: "This page is for the business's owners and managers.",
    Role.OWNER: "This page is for the business's owners.",
}


class BusinessRequest(HttpRequest):
    business: Business
    membership: Membership


View = Callable[..., HttpResponseBase]


def business_view(min_role: str = Role.STAFF) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(
            request: HttpRequest, business_slug: str, *args: Any, **kwargs: Any
        ) -> HttpResponseBase:
            membership = membership_for(user=request.user, slug=business_slug)  # type: ignore[arg-type]
            if membership is None:
                raise Http404("No business at this address.")
            request.business = membership.business  # type: ignore[attr-defined]
            request.membership = membership  # type: ignore[attr-defined]
            if not membership.has_role(min_role):
                return render(
                    request,
                    "backoffice/forbidden.html",
                    {"reason": ROLE_NEEDED[Role(min_role)], **nav_context(request)},
                    status=403,
                )
            # Staff read times in their business's zone; storage and arithmetic stay UTC.
            with business_scope(membership.business), timezone.override(membership.business.zone):
                return view(request, *args, **kwargs)

        guarded = login_required(wrapper)
        guarded.min_role = min_role  # type: ignore[attr-defined]  # read by the access tests
        return guarded

    return decorator


def nav_context(request: HttpRequest) -> dict[str, Any]:
    membership: Membership = request.membership  # type: ignore[attr-defined]
    return {
        "business": membership.business,
        "membership": membership,
        "memberships": memberships_for_user(user=request.user),  # type: ignore[arg-type]
        "is_manager": membership.has_role(Role.MANAGER),
        "is_owner": membership.role == Role.OWNER,
    }


def page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    section: str = "",
) -> HttpResponse:
    """Render a back-office page with the navigation and the current business."""
    full = {**nav_context(request), "section": section, **(context or {})}
    return render(request, template, full, status=status)


def business_of(request: HttpRequest) -> Business:
    return request.business  # type: ignore[attr-defined]


def membership_of(request: HttpRequest) -> Membership:
    return request.membership  # type: ignore[attr-defined]


def user_of(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]
