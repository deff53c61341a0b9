from __future__ import annotations

from django.db.models import QuerySet

from tillbook.core.models import Business, Membership, User
from tillbook.core.scoping import unscoped


def memberships_for_user(*, user: User) -> list[Membership]:
    """Every business this login works for, for the business switcher."""
    with unscoped():
        return list(
            Membership.objects.filter(user=user, business__is_active=True)
            .select_related("business")
            .order_by("business__name")
        )


def membership_for(*, user: User, slug: str) -> Membership | None:
    """The user's membership in the business at `slug`, or None (unknown slug or no access)."""
    if not user.is_authenticated:
        return None
    with unscoped():
        return (
            Membership.objects.filter(user=user, business__slug=slug, business__is_active=True)
            .select_related("business")
            .first()
        )


def business_by_slug(slug: str) -> Business | None:
    return Business.objects.filter(slug=slug, is_active=True).first()


def staff_for_business(*, business: Business) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(business=business).select_related("user").order_by("user__email")
    )
