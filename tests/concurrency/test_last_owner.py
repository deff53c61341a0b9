"""Two owners of a business, each removing or demoting the other at the same moment, each on
its own database connection: the business keeps one owner. Each request locks the business's
owners before counting them, so the second counts after the first committed and is refused.

Both racers are held for a moment after counting; a racer the lock keeps from counting goes on
alone when the moment is over (without the lock both would count two owners, and both go)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import pytest

from tillbook.core.errors import Forbidden
from tillbook.core.hooks import installed_pause
from tillbook.core.models import Business, Membership, Role, User
from tillbook.core.scoping import business_scope, unscoped
from tillbook.core.services import membership_remove, membership_set_role

from .race import postgresql_only, race

pytestmark = [postgresql_only, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _hold_both_for_a_moment() -> Callable[[], None]:
    gate = threading.Barrier(2, timeout=2)

    def wait() -> None:
        # BrokenBarrierError: the other is waiting for the lock, so go on alone.
        with contextlib.suppress(threading.BrokenBarrierError):
            gate.wait()

    return wait


def _owners(business: Business) -> list[str]:
    with unscoped():
        return sorted(
            Membership.objects.filter(business=business, role=Role.OWNER).values_list(
                "user__email", flat=True
            )
        )


@pytest.mark.parametrize("action", ["demote", "remove"])
def test_two_owners_taking_each_other_out_at_once_leave_one_owner(
    action: str,
    business: Business,
    owner: User,
    make_user: Callable[..., User],
    add_member: Callable[..., Membership],
) -> None:
    second = add_member(business, make_user("second@example.com"), Role.OWNER)
    with unscoped():
        first = Membership.objects.get(user=owner)

    def take_out(target: Membership, actor: Membership) -> Callable[[], None]:
        def run() -> None:
            with business_scope(business):
                if action == "demote":
                    membership_set_role(
                        membership=target, actor_membership=actor, role=Role.MANAGER
                    )
                else:
                    membership_remove(membership=target, actor_membership=actor)

        return run

    with installed_pause("membership.owners_counted", _hold_both_for_a_moment()):
        outcomes = race(take_out(second, first), take_out(first, second))
    errors = [outcome.error for outcome in outcomes]
    # The second waits for the first, then acts as what the first left it: no longer an owner.
    assert sorted(type(error).__name__ for error in errors) == ["Forbidden", "NoneType"]
    refused = next(error for error in errors if error is not None)
    assert isinstance(refused, Forbidden)
    assert refused.message == (
        "Only an owner can change an owner's role."
        if action == "demote"
        else "You no longer work for this business."
    )
    assert len(_owners(business)) == 1
