from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.test import Client
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from tillbook.core.models import Business, Membership, Role, User
from tillbook.core.scoping import business_scope, unscoped
from tillbook.core.services import business_create

hypothesis_settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("ci")

PASSWORD = "correct horse battery staple"


class CheapArgon2(Argon2PasswordHasher):
    """Still Argon2, with costs low enough for hundreds of logins in tests."""

    time_cost = 1
    memory_cost = 64
    parallelism = 1


@pytest.fixture(autouse=True)
def _cheap_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["tests.conftest.CheapArgon2"]


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def make(email: str = "owner@example.com", name: str = "", password: str = PASSWORD) -> User:
        return User.objects.create_user(email, password, name=name)

    return make


@pytest.fixture
def make_business(db: None) -> Callable[..., Business]:
    def make(slug: str = "acme", *, owner: User | None = None, **extra: Any) -> Business:
        with unscoped():
            return business_create(
                slug=slug,
                name=extra.pop("name", slug.title()),
                currency=extra.pop("currency", "USD"),
                timezone_name=extra.pop("timezone_name", "America/Chicago"),
                owner=owner,
            )

    return make


@pytest.fixture
def add_member() -> Callable[[Business, User, str], Membership]:
    def add(business: Business, user: User, role: str = Role.STAFF) -> Membership:
        membership = Membership(business=business, user=user, role=role)
        membership.save()
        return membership

    return add


@pytest.fixture
def owner(make_user: Callable[..., User]) -> User:
    return make_user("owner@example.com", "Olive Owner")


@pytest.fixture
def business(make_business: Callable[..., Business], owner: User) -> Business:
    return make_business("acme", owner=owner, name="Acme Coaching")


@pytest.fixture
def other_owner(make_user: Callable[..., User]) -> User:
    return make_user("rival@example.com", "Rita Rival")


@pytest.fixture
def other_business(make_business: Callable[..., Business], other_owner: User) -> Business:
    return make_business("rival", owner=other_owner, name="Rival Studio")


@pytest.fixture
def scoped(business: Business) -> Iterator[Business]:
    """Run the test body inside the business's scope."""
    with business_scope(business):
        yield business


def login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(client: Client, owner: User, business: Business) -> Client:
    return login(client, owner)


@pytest.fixture
def run_tasks(db: None) -> Callable[[], int]:
    """Run every ready task as the worker would; returns how many ran.

    Work is enqueued on commit, so wrap the action in
    `django_capture_on_commit_callbacks(execute=True)` first (or use a transactional test).
    """
    from django_tasks_db.models import DBTaskResult

    def run() -> int:
        ran = 0
        with unscoped():
            while True:
                ready = list(DBTaskResult.objects.ready().order_by("enqueued_at"))
                if not ready:
                    return ran
                for result in ready:
                    result.claim("test-worker")
                    try:
                        value = result.task.call(
                            *result.task_result.args, **result.task_result.kwargs
                        )
                    except Exception as error:
                        result.set_failed(error)
                        raise
                    result.set_successful(value)
                    ran += 1

    return run
