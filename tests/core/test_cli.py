from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tillbook.api.models import ApiToken
from tillbook.api.services import api_token_authenticate
from tillbook.core.models import Business, Invitation, Membership, Role, User
from tillbook.core.scoping import unscoped


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_business_create(
    *, slug: str, name: str, currency: str, timezone: str, owner_email: str | None = None
) -> tuple[str, str]:
    """The `business create` command, each option given as its --flag (--owner-email if set)."""
    options = ["--slug", slug, "--name", name, "--currency", currency, "--timezone", timezone]
    if owner_email is not None:
        options += ["--owner-email", owner_email]
    return run("business", "create", *options)


@pytest.mark.django_db
def test_business_create_for_a_first_install_invites_the_owner() -> None:
    out, _ = run_business_create(
        slug="north",
        name="North Studio",
        currency="EUR",
        timezone="Europe/Berlin",
        owner_email="Founder@Example.com",
    )
    assert "Created North Studio at /manage/north/" in out
    assert (
        "Owner invitation for founder@example.com: https://shop.example.test/manage/invite/" in out
    )
    with unscoped():
        invitation = Invitation.objects.get()
        assert (invitation.email, invitation.role, invitation.business.slug) == (
            "founder@example.com",
            Role.OWNER,
            "north",
        )


@pytest.mark.django_db
def test_business_create_with_an_existing_login_makes_it_owner(make_user: object) -> None:
    user = User.objects.create_user("me@example.com", "x" * 12)
    out, _ = run_business_create(
        slug="north", name="North", currency="USD", timezone="UTC", owner_email="me@example.com"
    )
    assert "me@example.com is the owner." in out
    with unscoped():
        assert Membership.objects.get().user == user


@pytest.mark.django_db
def test_business_create_explains_bad_input_and_writes_nothing() -> None:
    with pytest.raises(CommandError, match="ABC is not an ISO 4217 currency code"):
        run_business_create(slug="x", name="X", currency="ABC", timezone="UTC")
    with pytest.raises(CommandError, match="Nowhere is not a time zone"):
        run_business_create(slug="x", name="X", currency="USD", timezone="Nowhere")
    assert Business.objects.count() == 0


def test_token_create_prints_a_working_token(business: Business) -> None:
    out, err = run(
        "token",
        "create",
        "--business",
        "acme",
        "--scope",
        "customers:read",
        "--scope",
        "customers:write",
        "--name",
        "Zapier",
    )
    token = api_token_authenticate(out.strip())
    assert token is not None
    assert (token.name, token.scopes) == ("Zapier", ["customers:read", "customers:write"])
    assert "It is shown only this once." in err


def test_token_create_refuses_unknown_business_and_scope(business: Business) -> None:
    with pytest.raises(CommandError, match=r"No business with the address 'nope'\. Known: acme\."):
        run("token", "create", "--business", "nope", "--scope", "customers:read")
    with pytest.raises(CommandError, match="Unknown scope orders:fly"):
        run("token", "create", "--business", "acme", "--scope", "orders:fly")
    # Said, not cut to 100 characters without a word.
    long = ["--name", "T" * 101, "--scope", "customers:read"]
    with pytest.raises(CommandError, match="at most 100 characters; this one has 101"):
        run("token", "create", "--business", "acme", *long)
    with unscoped():
        assert ApiToken.objects.count() == 0


def test_token_list_and_revoke(business: Business) -> None:
    out, _ = run("token", "create", "--business", "acme", "--scope", "customers:read")
    prefix = out.strip().split("_")[1]
    listing, _ = run("token", "list", "--business", "acme")
    assert listing == f"tb_{prefix}_…\tCommand line\tcustomers:read\tactive\n"
    revoked, _ = run("token", "revoke", "--business", "acme", "--prefix", prefix)
    assert revoked == f"Revoked tb_{prefix}_…\n"
    assert api_token_authenticate(out.strip()) is None


@pytest.mark.django_db(transaction=True)
def test_worker_batch_runs_the_tick_and_due_tasks() -> None:
    # Transactional: the worker closes connections that sit inside a transaction, as it must.
    from django_tasks_db.models import DBTaskResult

    from tillbook.core.periodic import registered_sweeps

    run("worker", "--batch", "--verbosity", "0")
    statuses = list(DBTaskResult.objects.values_list("status", flat=True))
    assert statuses == ["SUCCESSFUL"] * len(registered_sweeps())


@pytest.mark.django_db
def test_business_create_with_an_owner_email_that_is_not_one_writes_nothing() -> None:
    with pytest.raises(CommandError) as raised:
        run_business_create(
            slug="north", name="North", currency="USD", timezone="UTC", owner_email="not-an-email"
        )
    assert str(raised.value) == "not-an-email is not an email address."
    with unscoped():
        assert Business.objects.count() == 0
        assert Invitation.objects.count() == 0


@pytest.mark.parametrize("interval", ["-5", "-0.5", "nan", "inf"])
def test_worker_refuses_an_interval_that_is_not_a_number_of_seconds(interval: str) -> None:
    with pytest.raises(CommandError) as raised:
        run("worker", "--interval", interval)
    assert str(raised.value) == (
        f"--interval must be a number of seconds, 0 or more (not {interval})."
    )


@pytest.mark.parametrize("workers", ["0", "-3"])
def test_serve_refuses_fewer_than_one_web_process(
    workers: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []
    monkeypatch.setattr("os.execv", lambda *args: started.append(args))
    with pytest.raises(CommandError) as raised:
        run("serve", "--workers", workers)
    assert str(raised.value) == f"--workers must be 1 or more (not {workers})."
    assert started == []


def test_openapi_output_to_a_place_that_cannot_be_written_explains_why(tmp_path: Path) -> None:
    with pytest.raises(CommandError) as raised:
        run("openapi", "--output", str(tmp_path / "missing" / "openapi.json"))
    assert str(raised.value) == (
        f"{tmp_path / 'missing' / 'openapi.json'} cannot be written: No such file or directory."
    )
    with pytest.raises(CommandError) as raised:
        run("openapi", "--output", str(tmp_path))
    assert str(raised.value) == f"{tmp_path} cannot be written: Is a directory."
    assert list(tmp_path.iterdir()) == []
