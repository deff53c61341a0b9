"""Writes for businesses and their staff: creation, profile, invitations and roles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from tillbook.core.audit import audit_record, model_changes
from tillbook.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from tillbook.core.hooks import pause_point
from tillbook.core.links import absolute_url
from tillbook.core.models import ROLE_RANK, Business, Invitation, Membership, Role, User
from tillbook.core.scoping import business_scope, unscoped
from tillbook.core.tokens import hash_secret, new_secret
from tillbook.core.validation import (
    validate_currency,
    validate_locale,
    validate_slug,
    validate_timezone,
)

INVITATION_LIFETIME = timedelta(days=7)

PROFILE_FIELDS = (
    "name",
    "timezone",
    "locale",
    "contact_email",
    "contact_phone",
    "website",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "tagline",
    "google_place_id",
    "yelp_url",
)
BRANDING_FIELDS = ("brand_color", "tagline")


def business_create(
    *,
    slug: str,
    name: str,
    currency: str,
    timezone_name: str,
    locale: str = "en_US",
    owner: User | None = None,
) -> Business:
    """Create a business; `owner`, when given, becomes its first owner."""
    slug = validate_slug(slug)
    name = (name or "").strip()
    if not name:
        raise InvalidInput("A business needs a name.", field_errors={"name": ["Required."]})
    if len(name) > 120:  # said, not cut: the name is on every page and email
        message = f"A business name has at most 120 characters; this one has {len(name):,}."
        raise InvalidInput(message, field_errors={"name": [message]})
    business = Business(
        slug=slug,
        name=name,
        currency=validate_currency(currency),
        timezone=validate_timezone(timezone_name),
        locale=validate_locale(locale),
    )
    try:
        with transaction.atomic():
            business.save()
            if owner is not None:
                Membership(business=business, user=owner, role=Role.OWNER).save()
            audit_record(
                business=business,
                actor=owner,
                action="business.create",
                summary=f"Created {business.name} ({business.currency}, {business.timezone})",
                target=business,
            )
    except IntegrityError:
        raise Conflict(
            f"The address {slug} is already taken; choose another.",
            field_errors={"slug": ["Taken."]},
        ) from None
    return business


def business_update(*, business: Business, actor: User, data: dict[str, Any]) -> Business:
    """Edit the profile and branding. The currency is fixed: every amount is kept in it."""
    unknown = set(data) - set(PROFILE_FIELDS) - set(BRANDING_FIELDS) - {"logo"}
    if unknown:
        raise InvalidInput(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.")
    if "timezone" in data:
        data["timezone"] = validate_timezone(data["timezone"])
    if "locale" in data:
        data["locale"] = validate_locale(data["locale"])
    if "name" in data and not str(data["name"]).strip():
        raise InvalidInput("A business needs a name.", field_errors={"name": ["Required."]})
    before = {field: getattr(business, field) for field in data if field != "logo"}
    for field, value in data.items():
        setattr(business, field, value)
    try:
        business.full_clean(exclude=["slug", "currency"])
    except ValidationError as error:
        for field, value in before.items():
            setattr(business, field, value)
        raise InvalidInput(
            "Please correct the highlighted fields.", field_errors=error.message_dict
        ) from None
    with transaction.atomic():
        business.save()
        changes = model_changes(before, {k: v for k, v in data.items() if k != "logo"})
        if "logo" in data:
            changes["logo"] = ["", "updated"]
        audit_record(
            business=business,
            actor=actor,
            action="business.update",
            summary="Updated the business profile",
            target=business,
            changes=changes,
        )
    return business


def _require_role_power(*, actor_membership: Membership, role: str) -> None:
    """Managers may grant staff and manager roles; only an owner may grant or touch owner."""
    if not actor_membership.has_role(Role.MANAGER):
        raise Forbidden("Only owners and managers can manage staff.")
    if role == Role.OWNER and actor_membership.role != Role.OWNER:
        raise Forbidden("Only an owner can make someone an owner.")


def _withdraw_invitations_beyond(*, business_id: int, user: User, role: str | None) -> int:
    """Withdraw the open invitations `user` sent that their `role` (None: removed) can no
    longer grant, as _require_role_power decides: someone removed, or made staff, leaves no
    invitation behind for a friend to join with. How many."""
    if role == Role.OWNER:
        return 0
    sent = Invitation.objects.filter(
        business_id=business_id, invited_by=user, accepted_at__isnull=True, revoked_at__isnull=True
    )
    if role == Role.MANAGER:
        sent = sent.filter(role=Role.OWNER)
    return sent.update(revoked_at=timezone.now())


def _withdrawn(count: int) -> str:
    return f"; withdrew {count} open invitation(s) they had sent" if count else ""


@dataclass(frozen=True)
class InvitationCreated:
    invitation: Invitation
    accept_url: str


def invitation_create(
    *, business: Business, actor_membership: Membership | None, email: str, role: str
) -> InvitationCreated:
    """Invite someone by email with a one-time link. `actor_membership` None means the CLI."""
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput(
            f"{email or 'An empty value'} is not an email address.",
            field_errors={"email": ["Enter a valid email address."]},
        ) from None
    if role not in Role.values:
        raise InvalidInput(f"{role} is not a role; use owner, manager or staff.")
    if actor_membership is not None:
        _require_role_power(actor_membership=actor_membership, role=role)
    if Membership.objects.filter(business=business, user__email__iexact=email).exists():
        raise Conflict(f"{email} already works for {business.name}.")
    secret = new_secret()
    actor = actor_membership.user if actor_membership is not None else None
    invitation = Invitation(
        business=business,
        email=email,
        role=role,
        token_hash=hash_secret(secret),
        invited_by=actor,
        expires_at=timezone.now() + INVITATION_LIFETIME,
    )
    accept_url = absolute_url(reverse("backoffice:invitation_accept", args=[secret]))
    from tillbook.messaging.services import message_queue

    with transaction.atomic():
        invitation.save()
        message_queue(
            business=business,
            to_email=email,
            template="staff_invitation",
            context={
                "inviter_name": actor.display_name if actor else business.name,
                "role_label": Role(role).label,
                "accept_url": accept_url,
                "expires_at": invitation.expires_at,
            },
        )
        audit_record(
            business=business,
            actor=actor,
            action="staff.invite",
            summary=f"Invited {email} as {Role(role).label.lower()}",
            target=invitation,
        )
    return InvitationCreated(invitation=invitation, accept_url=accept_url)


def invitation_for_secret(secret: str) -> Invitation:
    with unscoped():
        invitation = (
            Invitation.objects.filter(token_hash=hash_secret(secret or ""))
            .select_related("business")
            .first()
        )
    if invitation is None:
        raise NotFound("This invitation link is not valid. Ask for a new invitation.")
    return invitation


def invitation_accept(
    *, secret: str, user: User | None, name: str = "", password: str = ""
) -> Membership:
    """Use a one-time invitation: as the logged-in `user`, or by creating an account."""
    invitation = invitation_for_secret(secret)
    business = invitation.business
    with business_scope(business), transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.accepted_at is not None:
            raise Conflict("This invitation was already used. Log in, or ask for a new one.")
        if invitation.revoked_at is not None:
            raise Conflict("This invitation was withdrawn. Ask for a new one.")
        if invitation.expires_at <= timezone.now():
            raise Conflict("This invitation has expired. Ask for a new one.")
        if user is None:
            if User.objects.filter(email__iexact=invitation.email).exists():
                raise Conflict(
                    f"An account for {invitation.email} already exists: log in first, then open "
                    "the link again."
                )
            candidate = User(email=invitation.email, name=name.strip()[:150])
            try:
                validate_password(password, candidate)
            except ValidationError as error:
                raise InvalidInput(
                    " ".join(error.messages), field_errors={"password": list(error.messages)}
                ) from None
            candidate.set_password(password)
            candidate.save()
            user = candidate
        elif user.email.lower() != invitation.email.lower():
            raise Forbidden(
                f"This invitation is for {invitation.email}, but you are logged in as "
                f"{user.email}. Log out and open the link again."
            )
        membership = Membership.objects.filter(business=business, user=user).first()
        if membership is None:
            membership = Membership(business=business, user=user, role=invitation.role)
            membership.save()
        elif membership.role != invitation.role:
            # Joined since through another invitation. A role changes on the Team page, where
            # an owner's removal or demotion is checked; the invitation stays open to withdraw.
            raise Conflict(
                f"You already work for {business.name} as "
                f"{membership.get_role_display().lower()}; this invitation is for "
                f"{invitation.get_role_display().lower()}. Ask an owner to change your role on "
                "the Team page."
            )
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        audit_record(
            business=business,
            actor=user,
            action="staff.join",
            summary=f"{user.email} joined as {membership.get_role_display().lower()}",
            target=membership,
        )
    return membership


def invitation_revoke(*, invitation: Invitation, actor_membership: Membership) -> Invitation:
    _require_role_power(actor_membership=actor_membership, role=invitation.role)
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if locked.accepted_at is not None:
            raise Conflict("This invitation was already accepted.")
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        audit_record(
            business=locked.business,
            actor=actor_membership.user,
            action="staff.invite_revoke",
            summary=f"Withdrew the invitation for {locked.email}",
            target=locked,
        )
    return locked


def _owners_locked(business_id: int) -> int:
    """Lock the business's owners and count them; call first in the transaction, before any
    other membership is locked. Two owners taking each other out at once would otherwise each
    count two owners (each locks only the other's row) and leave the business with none; with
    the lock, the second waits and counts what the first left."""
    owners = (
        Membership.objects.select_for_update()
        .filter(business_id=business_id, role=Role.OWNER)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    count = len(list(owners))
    pause_point("membership.owners_counted")
    return count


def _actor_now(actor_membership: Membership) -> Membership:
    """The acting member as they are now (read after the owners' lock): an owner demoted by
    another owner a moment ago acts as what they are now, not as the page they opened."""
    current = Membership.objects.filter(pk=actor_membership.pk).select_related("user").first()
    if current is None:
        raise Forbidden("You no longer work for this business.")
    return current


def membership_set_role(
    *, membership: Membership, actor_membership: Membership, role: str
) -> Membership:
    if role not in Role.values:
        raise InvalidInput(f"{role} is not a role; use owner, manager or staff.")
    if membership.role == Role.OWNER and actor_membership.role != Role.OWNER:
        raise Forbidden("Only an owner can change an owner's role.")
    _require_role_power(actor_membership=actor_membership, role=role)
    with transaction.atomic():
        owners = _owners_locked(membership.business_id)
        actor_membership = _actor_now(actor_membership)
        _require_role_power(actor_membership=actor_membership, role=role)
        target = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
        if target.role == Role.OWNER and actor_membership.role != Role.OWNER:
            raise Forbidden("Only an owner can change an owner's role.")
        if target.role == Role.OWNER and role != Role.OWNER and owners == 1:
            raise Conflict("A business needs at least one owner; make someone else owner first.")
        if ROLE_RANK[Role(role)] == ROLE_RANK[Role(target.role)]:
            return target
        old_role = target.role
        target.role = role
        target.save(update_fields=["role"])
        withdrawn = _withdraw_invitations_beyond(
            business_id=target.business_id, user=target.user, role=role
        )
        audit_record(
            business=target.business,
            actor=actor_membership.user,
            action="staff.role",
            summary=f"Changed {target.user.email} from {old_role} to {role}{_withdrawn(withdrawn)}",
            target=target,
            changes={"role": [old_role, role]},
        )
    return target


def membership_remove(*, membership: Membership, actor_membership: Membership) -> None:
    if not actor_membership.has_role(Role.MANAGER):
        raise Forbidden("Only owners and managers can manage staff.")
    with transaction.atomic():
        owners = _owners_locked(membership.business_id)
        actor_membership = _actor_now(actor_membership)
        if not actor_membership.has_role(Role.MANAGER):
            raise Forbidden("Only owners and managers can manage staff.")
        target = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
        if target.role == Role.OWNER and actor_membership.role != Role.OWNER:
            raise Forbidden("Only an owner can remove an owner.")
        if target.role == Role.OWNER and owners == 1:
            raise Conflict("A business needs at least one owner; make someone else owner first.")
        withdrawn = _withdraw_invitations_beyond(
            business_id=target.business_id, user=target.user, role=None
        )
        audit_record(
            business=target.business,
            actor=actor_membership.user,
            action="staff.remove",
            summary=f"Removed {target.user.email} ({target.role}){_withdrawn(withdrawn)}",
            target=target,
        )
        target.delete()
