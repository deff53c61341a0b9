from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tillbook.core.models import Business, RateLimitBucket, User
from tillbook.core.scoping import unscoped

from ..conftest import PASSWORD


def post_login(client: Client, email: str, password: str, **extra: Any) -> Any:
    return client.post("/manage/login/", {"email": email, "password": password}, **extra)


def test_login_rotates_the_session_and_lands_on_the_dashboard(
    client: Client, owner: User, business: Business
) -> None:
    client.get("/manage/login/")
    client.session.save()
    before = client.session.session_key
    response = post_login(client, "OWNER@example.com", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/manage/"
    assert client.session.session_key != before
    assert client.get("/manage/").headers["Location"] == "/manage/acme/"
    assert client.get("/manage/acme/").status_code == 200


def test_passwords_are_hashed_with_argon2(owner: User) -> None:
    assert owner.password.startswith("argon2$argon2id$")


def test_wrong_password_is_refused_with_a_clear_message(client: Client, owner: User) -> None:
    response = post_login(client, "owner@example.com", "wrong password")
    assert response.status_code == 400
    assert "That email and password do not match an account." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_is_rate_limited_per_account(client: Client, owner: User, settings: Any) -> None:
    settings.LOGIN_RATE_LIMIT = 3
    for _ in range(3):
        assert (
            post_login(client, "owner@example.com", "nope", REMOTE_ADDR="10.0.0.1").status_code
            == 400
        )
    # Even the right password is refused now, from another address too.
    response = post_login(client, "owner@example.com", PASSWORD, REMOTE_ADDR="10.0.0.2")
    assert response.status_code == 429
    assert "Too many failed attempts. Wait 15 minutes, then try again." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_is_rate_limited_per_address(client: Client, make_user: Any, settings: Any) -> None:
    settings.LOGIN_RATE_LIMIT = 2
    make_user("a@example.com")
    make_user("b@example.com")
    post_login(client, "a@example.com", "nope", REMOTE_ADDR="10.0.0.9")
    post_login(client, "b@example.com", "nope", REMOTE_ADDR="10.0.0.9")
    response = post_login(client, "a@example.com", PASSWORD, REMOTE_ADDR="10.0.0.9")
    assert response.status_code == 429
    with unscoped():
        assert RateLimitBucket.objects.get(key="login:ip:10.0.0.9").count == 2


def test_successful_login_clears_the_account_counter(
    client: Client, owner: User, settings: Any
) -> None:
    settings.LOGIN_RATE_LIMIT = 3
    post_login(client, "owner@example.com", "nope")
    assert post_login(client, "owner@example.com", PASSWORD).status_code == 302
    assert not RateLimitBucket.objects.filter(key="login:email:owner@example.com").exists()


def test_next_parameter_only_goes_to_this_site(client: Client, owner: User) -> None:
    response = client.post(
        "/manage/login/?next=https://evil.example.com/",
        {"email": "owner@example.com", "password": PASSWORD, "next": "https://evil.example.com/"},
    )
    assert response["Location"] == "/manage/"


def test_logout_needs_post(owner_client: Client) -> None:
    assert owner_client.get("/manage/logout/").status_code == 405
    assert owner_client.post("/manage/logout/").status_code == 302
    assert owner_client.get("/manage/acme/").status_code == 302


@pytest.mark.django_db
def test_a_login_without_a_business_sees_how_to_get_one(client: Client, make_user: Any) -> None:
    client.force_login(make_user("lonely@example.com"))
    response = client.get("/manage/")
    assert response.status_code == 200
    assert "You don't work for a business yet" in response.content.decode()


def test_business_switcher_lists_every_business_of_the_login(
    owner_client: Client, owner: User, other_business: Business, add_member: Any
) -> None:
    add_member(other_business, owner, "staff")
    response = owner_client.get("/manage/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'href="/manage/acme/"' in page and 'href="/manage/rival/"' in page
    dashboard = owner_client.get("/manage/rival/").content.decode()
    assert '<option value="/manage/acme/">Acme Coaching</option>' in dashboard
    assert '<option value="/manage/rival/" selected>Rival Studio</option>' in dashboard
