from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tillbook.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from tillbook.core.models import Business, Invitation, Membership, Role, User
from tillbook.core.scoping import business_scope, unscoped
from tillbook.core.services import (
    invitation_accept,
    invitation_create,
    membership_remove,
    membership_set_role,
)
from tillbook.messaging.models import OutboxMessage

from ..conftest import PASSWORD


@pytest.fixture
def staff_of(
    business: Business, make_user: Callable[..., User], add_member: Callable[..., Membership]
) -> Callable[[str, str], Membership]:
    def make(email: str, role: str) -> Membership:
        return add_member(business, make_user(email), role)

    return make


def owner_membership(business: Business) -> Membership:
    with unscoped():
        return Membership.objects.get(business=business, role=Role.OWNER)


def test_invitation_is_emailed_and_works_once(
    business: Business, run_tasks: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with business_scope(business), django_capture_on_commit_callbacks(execute=True):
        created = invitation_create(
            business=business,
            actor_membership=owner_membership(business),
            email="New.Coach@Example.com",
            role=Role.MANAGER,
        )
    assert run_tasks() == 1
    secret = created.accept_url.rstrip("/").rsplit("/", 1)[1]
    assert created.accept_url == f"https://shop.example.test/manage/invite/{secret}/"
    with business_scope(business):
        message = OutboxMessage.objects.get()
    assert message.to_email == "new.coach@example.com"
    assert message.state == "captured"
    assert message.subject == "Olive Owner invited you to Acme Coaching on Tillbook"
    assert created.accept_url in message.body_text
    assert created.accept_url in message.body_html

    membership = invitation_accept(secret=secret, user=None, name="Nia Coach", password=PASSWORD)
    assert (membership.user.email, membership.user.name, membership.role) == (
        "new.coach@example.com",
        "Nia Coach",
        Role.MANAGER,
    )
    assert membership.user.check_password(PASSWORD)
    with pytest.raises(Conflict, match="already used"):
        invitation_accept(secret=secret, user=None, name="Again", password=PASSWORD)
    with unscoped():
        assert User.objects.filter(email="new.coach@example.com").count() == 1
        assert Membership.objects.filter(business=business).count() == 2


def test_expired_or_unknown_invitation_changes_nothing(business: Business) -> None:
    with business_scope(business):
        created = invitation_create(
            business=business,
            actor_membership=owner_membership(business),
            email="late@example.com",
            role=Role.STAFF,
        )
        Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    secret = created.accept_url.rstrip("/").rsplit("/", 1)[1]
    with pytest.raises(Conflict, match="has expired"):
        invitation_accept(secret=secret, user=None, password=PASSWORD)
    with pytest.raises(NotFound, match="not valid"):
        invitation_accept(secret="nope", user=None, password=PASSWORD)
    with unscoped():
        assert not User.objects.filter(email="late@example.com").exists()
        assert Membership.objects.filter(business=business).count() == 1


def test_weak_password_is_refused_and_nothing_is_created(business: Business) -> None:
    with business_scope(business):
        created = invitation_create(
            business=business,
            actor_membership=owner_membership(business),
            email="weak@example.com",
            role=Role.STAFF,
        )
    secret = created.accept_url.rstrip("/").rsplit("/", 1)[1]
    with pytest.raises(InvalidInput, match="too short"):
        invitation_accept(secret=secret, user=None, password="abc")
    with unscoped():
        assert not User.objects.filter(email="weak@example.com").exists()
        assert Invitation.objects.get().accepted_at is None


def test_logged_in_user_with_another_email_cannot_take_an_invitation(
    business: Business, make_user: Callable[..., User]
) -> None:
    stranger = make_user("stranger@example.com")
    with business_scope(business):
        created = invitation_create(
            business=business,
            actor_membership=owner_membership(business),
            email="intended@example.com",
            role=Role.OWNER,
        )
    secret = created.accept_url.rstrip("/").rsplit("/", 1)[1]
    with pytest.raises(Forbidden, match=r"This invitation is for intended@example\.com"):
        invitation_accept(secret=secret, user=stranger)
    with unscoped():
        assert not Membership.objects.filter(user=stranger).exists()


def test_manager_cannot_invite_an_owner_or_change_the_owner(
    business: Business, staff_of: Callable[[str, str], Membership]
) -> None:
    manager = staff_of("manager@example.com", Role.MANAGER)
    owner = owner_membership(business)
    with business_scope(business):
        with pytest.raises(Forbidden, match="Only an owner can make someone an owner"):
            invitation_create(
                business=business, actor_membership=manager, email="x@example.com", role=Role.OWNER
            )
        with pytest.raises(Forbidden, match="Only an owner can change an owner's role"):
            membership_set_role(membership=owner, actor_membership=manager, role=Role.STAFF)
        with pytest.raises(Forbidden, match="Only an owner can remove an owner"):
            membership_remove(membership=owner, actor_membership=manager)
        with pytest.raises(Forbidden, match="Only an owner can make someone an owner"):
            membership_set_role(membership=manager, actor_membership=manager, role=Role.OWNER)
        assert Invitation.objects.count() == 0
        assert OutboxMessage.objects.count() == 0
    owner.refresh_from_db()
    manager.refresh_from_db()
    assert (owner.role, manager.role) == (Role.OWNER, Role.MANAGER)


def test_staff_cannot_manage_staff(
    business: Business, staff_of: Callable[[str, str], Membership]
) -> None:
    staff = staff_of("staff@example.com", Role.STAFF)
    other = staff_of("other@example.com", Role.STAFF)
    with business_scope(business):
        with pytest.raises(Forbidden, match="Only owners and managers"):
            invitation_create(
                business=business, actor_membership=staff, email="x@example.com", role=Role.STAFF
            )
        with pytest.raises(Forbidden, match="Only owners and managers"):
            membership_remove(membership=other, actor_membership=staff)
        assert Membership.objects.count() == 3


def test_manager_manages_staff(
    business: Business, staff_of: Callable[[str, str], Membership]
) -> None:
    manager = staff_of("manager@example.com", Role.MANAGER)
    staff = staff_of("staff@example.com", Role.STAFF)
    with business_scope(business):
        membership_set_role(membership=staff, actor_membership=manager, role=Role.MANAGER)
        staff.refresh_from_db()
        assert staff.role == Role.MANAGER
        membership_remove(membership=staff, actor_membership=manager)
        assert not Membership.objects.filter(pk=staff.pk).exists()


def test_the_last_owner_stays(business: Business) -> None:
    owner = owner_membership(business)
    with business_scope(business):
        with pytest.raises(Conflict, match="at least one owner"):
            membership_set_role(membership=owner, actor_membership=owner, role=Role.MANAGER)
        with pytest.raises(Conflict, match="at least one owner"):
            membership_remove(membership=owner, actor_membership=owner)
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_an_owner_demoted_meanwhile_can_no_longer_remove_or_demote_an_owner(
    business: Business, staff_of: Callable[[str, str], Membership]
) -> None:
    """The acting member's role was the one read when the page was opened: an owner demoted
    by another owner at that moment could still remove or demote a third owner. It is read
    again under the owners' lock."""
    acting = owner_membership(business)  # as loaded with the request
    second = staff_of("second@example.com", Role.OWNER)
    third = staff_of("third@example.com", Role.OWNER)
    with unscoped():
        Membership.objects.filter(pk=acting.pk).update(role=Role.MANAGER)  # by `second`, just now
    with business_scope(business):
        with pytest.raises(Forbidden, match=r"Only an owner can remove an owner\."):
            membership_remove(membership=third, actor_membership=acting)
        with pytest.raises(Forbidden, match=r"Only an owner can change an owner's role\."):
            membership_set_role(membership=third, actor_membership=acting, role=Role.STAFF)
        assert dict(Membership.objects.values_list("pk", "role")) == {
            acting.pk: Role.MANAGER,
            second.pk: Role.OWNER,
            third.pk: Role.OWNER,
        }


def test_a_second_invitation_for_another_role_is_refused_once_the_first_was_accepted(
    business: Business,
) -> None:
    """Accepting it kept the first role silently and marked the invitation used (an owner
    invitation left the person staff, with "joined as staff" in the audit log)."""
    from tillbook.core.models import AuditEntry

    with business_scope(business):
        as_staff, as_manager = (
            invitation_create(
                business=business,
                actor_membership=owner_membership(business),
                email="nia@example.com",
                role=role,
            )
            for role in (Role.STAFF, Role.MANAGER)
        )
    secret = as_staff.accept_url.rstrip("/").rsplit("/", 1)[1]
    joined = invitation_accept(secret=secret, user=None, name="Nia", password=PASSWORD)
    with business_scope(business):
        audit_before = AuditEntry.objects.count()
    second = as_manager.accept_url.rstrip("/").rsplit("/", 1)[1]
    with pytest.raises(Conflict) as refused:
        invitation_accept(secret=second, user=joined.user)
    assert refused.value.message == (
        "You already work for Acme Coaching as staff; this invitation is for manager. Ask an "
        "owner to change your role on the Team page."
    )
    with business_scope(business):
        joined.refresh_from_db()
        assert joined.role == Role.STAFF
        assert Invitation.objects.get(pk=as_manager.invitation.pk).accepted_at is None
        assert AuditEntry.objects.count() == audit_before


def test_inviting_an_existing_member_is_a_conflict(business: Business, owner: User) -> None:
    with business_scope(business), pytest.raises(Conflict, match="already works for Acme Coaching"):
        invitation_create(
            business=business,
            actor_membership=owner_membership(business),
            email="OWNER@example.com",
            role=Role.STAFF,
        )


def test_one_login_works_for_several_businesses(
    business: Business, other_business: Business, owner: User, add_member: Callable[..., Membership]
) -> None:
    add_member(other_business, owner, Role.STAFF)
    from tillbook.core.selectors import memberships_for_user

    assert [(m.business.slug, m.role) for m in memberships_for_user(user=owner)] == [
        ("acme", Role.OWNER),
        ("rival", Role.STAFF),
    ]


def _invite(business: Business, by: Membership, email: str, role: str) -> Invitation:
    with business_scope(business):
        return invitation_create(
            business=business, actor_membership=by, email=email, role=role
        ).invitation


def _open(business: Business) -> list[str]:
    with business_scope(business):
        return sorted(
            f"{i.email} as {i.role}"
            for i in Invitation.objects.filter(accepted_at__isnull=True, revoked_at__isnull=True)
        )


def test_removing_someone_withdraws_the_invitations_they_sent(
    business: Business, staff_of: Callable[[str, str], Membership]
) -> None:
    """A manager let go left their open invitations working: a friend could still join."""
    from tillbook.core.models import AuditEntry

    manager = staff_of("mo@example.com", Role.MANAGER)
    _invite(business, manager, "friend@example.com", Role.STAFF)
    _invite(business, manager, "pal@example.com", Role.MANAGER)
    _invite(business, owner_membership(business), "hire@example.com", Role.STAFF)
    with business_scope(business):
        membership_remove(membership=manager, actor_membership=owner_membership(business))
        entry = AuditEntry.objects.filter(action="staff.remove").get()
    assert entry.summary == (
        "Removed mo@example.com (manager); withdrew 2 open invitation(s) they had sent"
    )
    assert _open(business) == ["hire@example.com as staff"]


def test_a_lower_role_withdraws_the_invitations_it_could_not_send(
    business: Business, staff_of: Callable[[str, str], Membership]
) -> None:
    first = owner_membership(business)
    second = staff_of("sam@example.com", Role.OWNER)
    _invite(business, second, "partner@example.com", Role.OWNER)
    _invite(business, second, "coach@example.com", Role.STAFF)
    with business_scope(business):
        membership_set_role(membership=second, actor_membership=first, role=Role.MANAGER)
    assert _open(business) == ["coach@example.com as staff"]  # a manager may invite staff
    with business_scope(business):
        membership_set_role(membership=second, actor_membership=first, role=Role.STAFF)
    assert _open(business) == []
