from __future__ import annotations

import io
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from tillbook.api.models import ApiToken
from tillbook.api.services import api_token_authenticate
from tillbook.core.models import AuditEntry, Business, Invitation, Membership, Role, User
from tillbook.core.scoping import business_scope, unscoped
from tillbook.messaging.models import OutboxMessage

from ..conftest import PASSWORD


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "green").save(buffer, format="PNG")
    return buffer.getvalue()


def staff_invitation_email(business: Business, owner: User) -> OutboxMessage:
    """The owner invites new@example.com as staff: the invitation email in the outbox."""
    from tillbook.core.services import invitation_create

    with business_scope(business):
        invitation_create(
            business=business,
            actor_membership=Membership.objects.get(user=owner),
            email="new@example.com",
            role=Role.STAFF,
        )
        return OutboxMessage.objects.get()


def test_owner_edits_the_profile(owner_client: Client, business: Business) -> None:
    response = owner_client.post(
        "/manage/acme/settings/profile/",
        {
            "name": "Acme Coaching Co",
            "timezone": "Europe/Berlin",
            "locale": "de_DE",
            "contact_email": "hi@acme.example.com",
            "website": "acme.example.com",
            "country": "DE",
        },
    )
    assert response.status_code == 302
    business.refresh_from_db()
    assert (
        business.name,
        business.timezone,
        business.locale,
        business.website,
        business.country,
    ) == (
        "Acme Coaching Co",
        "Europe/Berlin",
        "de_DE",
        "https://acme.example.com",
        "DE",
    )
    with business_scope(business):
        assert AuditEntry.objects.filter(action="business.update").count() == 1


def test_bad_profile_input_changes_nothing(owner_client: Client, business: Business) -> None:
    response = owner_client.post(
        "/manage/acme/settings/profile/",
        {"name": "", "timezone": "Nowhere/City", "locale": "en_US"},
    )
    assert response.status_code == 400
    business.refresh_from_db()
    assert (business.name, business.timezone) == ("Acme Coaching", "America/Chicago")


def test_owner_uploads_a_logo_and_sets_the_colour(owner_client: Client, business: Business) -> None:
    logo = SimpleUploadedFile("logo.png", png_bytes(), "image/png")
    response = owner_client.post(
        "/manage/acme/settings/branding/", {"brand_color": "#2f6f4f", "logo": logo, "tagline": "Hi"}
    )
    assert response.status_code == 302
    business.refresh_from_db()
    assert business.brand_color == "#2f6f4f"
    assert business.logo.name.startswith("logos/logo")
    served = owner_client.get(business.logo.url)
    assert served.status_code == 200


def test_a_file_that_is_not_an_image_is_refused(owner_client: Client, business: Business) -> None:
    fake = SimpleUploadedFile("logo.png", b"<svg onload=alert(1)>", "image/png")
    response = owner_client.post(
        "/manage/acme/settings/branding/", {"brand_color": "#2f6f4f", "logo": fake}
    )
    assert response.status_code == 400
    business.refresh_from_db()
    assert (business.logo.name, business.brand_color) == ("", "#1f6feb")


def test_invite_by_form_then_join_through_the_link(
    owner_client: Client,
    business: Business,
    run_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            "/manage/acme/settings/staff/", {"email": "new@example.com", "role": "manager"}
        )
    assert response.status_code == 302
    run_tasks()
    with business_scope(business):
        message = OutboxMessage.objects.get()
    link = next(word for word in message.body_text.split() if "/manage/invite/" in word)
    path = link.removeprefix("https://shop.example.test")

    visitor = Client()
    page = visitor.get(path)
    assert page.status_code == 200
    assert "You were invited as <strong>manager</strong>" in page.content.decode()
    joined = visitor.post(path, {"name": "Nia", "password": PASSWORD})
    assert joined["Location"] == "/manage/acme/"
    assert visitor.get("/manage/acme/").status_code == 200
    again = Client().post(path, {"name": "Nia", "password": PASSWORD})
    assert again.status_code == 410
    assert "This invitation was already used." in again.content.decode()
    with unscoped():
        assert Membership.objects.get(user__email="new@example.com").role == Role.MANAGER


def test_unknown_invitation_link_is_404(client: Client, db: None) -> None:
    response = client.get("/manage/invite/not-a-real-secret/")
    assert response.status_code == 404
    assert "This invitation link is not valid." in response.content.decode()


def test_manager_cannot_make_an_owner_through_the_form(
    client: Client, business: Business, make_user: Any, add_member: Any
) -> None:
    manager = make_user("manager@example.com")
    add_member(business, manager, Role.MANAGER)
    client.force_login(manager)
    response = client.post(
        "/manage/acme/settings/staff/", {"email": "x@example.com", "role": "owner"}
    )
    assert response.status_code == 403
    assert "Only an owner can make someone an owner." in response.content.decode()
    with business_scope(business):
        owner = Membership.objects.get(role=Role.OWNER)
        changed = client.post(f"/manage/acme/settings/staff/{owner.pk}/role/", {"role": "staff"})
        assert changed.status_code == 403
        assert "Only an owner can change an owner&#x27;s role." in changed.content.decode()
        owner.refresh_from_db()
        assert owner.role == Role.OWNER
        assert Invitation.objects.count() == 0


def test_api_token_secret_is_shown_once_and_works(owner_client: Client, business: Business) -> None:
    response = owner_client.post(
        "/manage/acme/settings/api-tokens/", {"name": "Website", "scopes": ["customers:read"]}
    )
    assert response.status_code == 201
    page = response.content.decode()
    secret = page.split('<p class="secret">')[1].split("</p>")[0]
    token = api_token_authenticate(secret)
    assert token is not None
    assert (token.name, token.scopes, token.business_id) == (
        "Website",
        ["customers:read"],
        business.pk,
    )
    listing = owner_client.get("/manage/acme/settings/api-tokens/").content.decode()
    assert secret not in listing
    assert f"tb_{token.prefix}_…" in listing
    revoke = owner_client.post(f"/manage/acme/settings/api-tokens/{token.pk}/revoke/")
    assert revoke.status_code == 302
    assert api_token_authenticate(secret) is None


def test_token_without_scopes_is_refused(owner_client: Client, business: Business) -> None:
    response = owner_client.post("/manage/acme/settings/api-tokens/", {"name": "Website"})
    assert response.status_code == 400
    with business_scope(business):
        assert ApiToken.objects.count() == 0


def test_outbox_shows_the_message_as_sent(
    owner_client: Client, business: Business, owner: User
) -> None:
    message = staff_invitation_email(business, owner)
    listing = owner_client.get("/manage/acme/settings/outbox/").content.decode()
    assert "Olive Owner invited you to Acme Coaching on Tillbook" in listing
    detail = owner_client.get(f"/manage/acme/settings/outbox/{message.pk}/").content.decode()
    assert 'sandbox="" title="Email preview" srcdoc="' in detail
    assert "&lt;!doctype html&gt;" in detail
    assert (
        owner_client.get("/manage/acme/settings/outbox/?state=failed")
        .content.decode()
        .count("invited you")
        == 0
    )


def test_a_failed_message_past_its_time_is_not_offered_for_retry(
    owner_client: Client, business: Business, owner: User
) -> None:
    """A reminder not sent before its session started: "Retry sending" would only fail it
    again, so the page does not offer it (a failed message that may still go out does)."""
    from datetime import timedelta

    from django.utils import timezone

    from tillbook.messaging.models import MessageState

    message = staff_invitation_email(business, owner)
    with business_scope(business):
        OutboxMessage.objects.filter(pk=message.pk).update(state=MessageState.FAILED)
    detail = f"/manage/acme/settings/outbox/{message.pk}/"
    assert "Retry sending" in owner_client.get(detail).content.decode()
    with business_scope(business):
        OutboxMessage.objects.filter(pk=message.pk).update(
            send_before=timezone.now() - timedelta(minutes=1)
        )
    assert "Retry sending" not in owner_client.get(detail).content.decode()
    refused = owner_client.post(f"{detail}retry/", follow=True).content.decode()
    assert "too late to send it now" in refused
    message.refresh_from_db()
    assert message.state == MessageState.FAILED


def test_back_office_shows_times_in_the_business_zone(
    owner_client: Client, business: Business
) -> None:
    from datetime import UTC, datetime

    with business_scope(business):
        AuditEntry.objects.update(created_at=datetime(2026, 7, 1, 15, 30, tzinfo=UTC))
    page = owner_client.get("/manage/acme/settings/audit/").content.decode()
    # Chicago is UTC-5 in summer: 15:30 UTC is 10:30 there.
    assert "1 Jul 2026 10:30" in page
    assert "1 Jul 2026 15:30" not in page


def test_a_manager_cannot_read_an_invitation_link_in_the_outbox(
    owner_client: Client, business: Business, make_user: Any, add_member: Any
) -> None:
    """An owner invitation's link makes whoever opens it first an owner (with an account they
    create for the invited address): a manager reading it in the outbox could become one."""
    response = owner_client.post(
        "/manage/acme/settings/staff/", {"email": "partner@example.com", "role": "owner"}
    )
    assert response.status_code == 302
    with business_scope(business):
        message = OutboxMessage.objects.get()
    link = next(word for word in message.body_text.split() if "/manage/invite/" in word)
    secret = link.rstrip("/").rsplit("/", 1)[1]
    manager = make_user("manager@example.com")
    add_member(business, manager, Role.MANAGER)
    client = Client()
    client.force_login(manager)
    page = client.get(f"/manage/acme/settings/outbox/{message.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert secret not in text
    assert (
        "This email holds a one-time link to join Acme Coaching; only owners can read it." in text
    )
    assert secret not in client.get("/manage/acme/settings/outbox/").content.decode()
    as_owner = owner_client.get(f"/manage/acme/settings/outbox/{message.pk}/")
    assert secret in as_owner.content.decode()
