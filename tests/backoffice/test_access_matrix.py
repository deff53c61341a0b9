"""Every back-office URL, as anonymous, as a member of the business and as staff of another
business. The other business's staff get 404 and nothing changes; anonymous visitors are sent
to the login page and nothing changes. A URL missing from MATRIX fails the suite."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import resolve

from tillbook.api.services import api_token_create
from tillbook.core.models import Business, Membership, Role, User
from tillbook.core.money import Money
from tillbook.core.scoping import business_scope
from tillbook.core.services import invitation_create
from tillbook.customers.services import customer_create
from tillbook.imports.services import import_run_create
from tillbook.marketing.models import AdCampaign, CampaignMapping
from tillbook.messaging.models import MessageState, OutboxMessage
from tillbook.payments.sandbox import sandbox_succeed
from tillbook.payments.services import payment_link_create, payment_start, refund_create

from ..access import database_fingerprint, url_patterns


@dataclass(frozen=True)
class Route:
    methods: tuple[str, ...] = ("GET",)
    post: dict[str, Any] = field(default_factory=dict)
    member_get: int = 200


def csv_upload() -> dict[str, Any]:
    return {"file": SimpleUploadedFile("c.csv", b"email\nintruder@example.com\n", "text/csv")}


MATRIX: dict[str, Route] = {
    "dashboard": Route(),
    "calendar": Route(),
    "calendar_export": Route(),
    "calendar_booking": Route(),
    "calendar_booking_action": Route(("POST",), {"action": "cancel"}, member_get=405),
    "calendar_booking_new": Route(
        ("GET", "POST"),
        {
            "service": "1",
            "duration": "60",
            "staff": "1",
            "start": "2030-01-07 10:00",
            "name": "Intruder",
            "email": "intruder@example.com",
            "payment": "none",
        },
    ),
    "calendar_block_new": Route(
        ("GET", "POST"), {"staff": "1", "start": "2030-01-07 10:00", "end": "2030-01-07 11:00"}
    ),
    "calendar_setup": Route(),
    "calendar_staff_new": Route(
        ("GET", "POST"), {"name": "Intruder", "timezone": "UTC", "day_0": "09:00-17:00"}
    ),
    "calendar_service_new": Route(
        ("GET", "POST"),
        {
            "name": "Intruder",
            "durations": "60=1.00",
            "staff": "1",
            "location_kind": "video",
            "payment_mode": "later",
            "capacity": "1",
            "interval_minutes": "30",
            "buffer_before_minutes": "0",
            "buffer_after_minutes": "0",
            "min_notice_minutes": "0",
            "horizon_days": "30",
            "cancel_window_hours": "24",
            "late_cancel_fee_percent": "0",
        },
    ),
    "calendar_feed_rotate": Route(("POST",), member_get=405),
    "calendar_import_new": Route(("POST",), {"url": "http://127.0.0.1:9/x.ics"}, member_get=405),
    "sales": Route(),
    "payments": Route(),
    "catalog": Route(),
    "marketing": Route(),
    "insights": Route(),
    "insights_report": Route(),
    "dashboard_export": Route(),
    "import_list": Route(("GET", "POST")),
    "import_export": Route(),
    "import_detail": Route(),
    "import_progress": Route(member_get=302),  # without htmx it sends to the import's page
    "campaign_mappings": Route(("GET", "POST"), {"utm_campaign": "intruder", "campaign": "1"}),
    "campaign_mapping_remove": Route(("POST",), member_get=405),
    "customer_list": Route(),
    "customer_create": Route(("GET", "POST"), {"email": "intruder@example.com"}),
    "customer_export": Route(),
    "customer_import": Route(("GET", "POST")),
    "customer_template": Route(),
    "customer_detail": Route(),
    "customer_edit": Route(("GET", "POST"), {"email": "hacked@example.com", "name": "Hacked"}),
    "settings": Route(),
    "settings_profile": Route(
        ("GET", "POST"), {"name": "Hacked", "timezone": "UTC", "locale": "en_US"}
    ),
    "settings_branding": Route(("GET", "POST"), {"brand_color": "#000000"}),
    "settings_staff": Route(("GET", "POST"), {"email": "intruder@example.com", "role": "owner"}),
    "staff_role": Route(("POST",), {"role": "owner"}, member_get=405),
    "staff_remove": Route(("POST",), member_get=405),
    "invitation_revoke": Route(("POST",), member_get=405),
    "outbox": Route(),
    "outbox_detail": Route(),
    "outbox_retry": Route(("POST",), member_get=405),
    "audit_log": Route(),
    "audit_export": Route(),
    "api_tokens": Route(("GET", "POST"), {"name": "intruder", "scopes": ["customers:read"]}),
    "api_token_revoke": Route(("POST",), member_get=405),
    "payment_export": Route(),
    "payment_detail": Route(),
    "payment_refund": Route(("POST",), {"amount": "1.00", "reason": "x"}, member_get=405),
    "refund_retry": Route(("POST",), member_get=405),
    "payment_link_list": Route(),
    "payment_link_create": Route(
        ("GET", "POST"), {"title": "Intruder", "amount_type": "fixed", "amount": "5.00"}
    ),
    "payment_link_export": Route(),
    "payment_request_detail": Route(),
    "payment_request_record": Route(
        ("POST",), {"amount": "1.00", "method": "cash"}, member_get=405
    ),
    "payment_request_send": Route(("POST",), {"email": "intruder@example.com"}, member_get=405),
    "settings_payments": Route(),
    "settings_payment_provider": Route(
        ("GET", "POST"), {"is_enabled": "on", "instructions": "Pay the intruder"}
    ),
    # Selling (issue 3): sales, catalog, check-in.
    "order_export": Route(),
    "orders_shortfall": Route(),
    "order_detail": Route(),
    "order_resend": Route(("POST",), member_get=405),
    "order_manual_payment": Route(("POST",), {"amount": "1.00", "method": "cash"}, member_get=405),
    "order_refund": Route(("POST",), {"amount": "1.00", "releases_capacity": "on"}, member_get=405),
    "order_cancel": Route(("POST",), member_get=405),
    "order_fulfil": Route(("POST",), member_get=405),
    "order_shortfall_accept": Route(("POST",), member_get=405),
    "offering_export": Route(),
    "offering_create": Route(
        ("GET", "POST"),
        {
            "title": "Hacked",
            "state": "published",
            "price": "1",
            "max_per_order": "1",
            "download_limit": "1",
            "download_days": "1",
        },
    ),
    "offering_edit": Route(
        ("GET", "POST"), {"title": "Hacked", "state": "draft", "price": "0", "max_per_order": "1"}
    ),
    "shop_settings": Route(
        ("GET", "POST"), {"reservation_minutes": "1", "oversold_policy": "refund"}
    ),
    "tax_class_save": Route(("POST",), {"name": "Hacked", "rate": "50"}, member_get=405),
    "shipping_rate_save": Route(("POST",), {"name": "Hacked", "amount": "9"}, member_get=405),
    "discount_list": Route(("GET", "POST"), {"code": "HACKED", "kind": "percent", "value": "90"}),
    "variant_save": Route(("POST",), {"name": "Hacked", "stock": "1"}, member_get=405),
    "event_save": Route(
        ("POST",), {"starts_at": "2030-01-01T10:00", "venue_name": "X"}, member_get=405
    ),
    "quota_save": Route(("POST",), {"name": "Hacked", "size": "1000"}, member_get=405),
    "ticket_type_save": Route(("POST",), {"name": "Hacked", "price": "0"}, member_get=405),
    "lesson_save": Route(("POST",), {"title": "Hacked"}, member_get=405),
    "file_upload": Route(("POST",), member_get=405),
    "attendees": Route(("GET", "POST"), {"ticket": "0"}),
    "attendee_export": Route(),
    "check_in_ticket": Route(("GET", "POST")),
}  # fmt: skip
UPLOADS = {"customer_import", "import_list"}
# Pages outside a business: reachable by any login (or anonymous), tested elsewhere.
OUTSIDE_A_BUSINESS = {"home", "login", "logout", "password_change", "invitation_accept"}


@pytest.fixture
def world(business: Business, owner: User, make_user: Any, add_member: Any) -> dict[str, Any]:
    """Business A with one of everything a URL can point at."""
    staff = add_member(business, make_user("staff@example.com"), Role.STAFF)
    with business_scope(business):
        customer = customer_create(business=business, actor=owner, email="ann@example.com")
        owner_membership = Membership.objects.get(user=owner)
        invitation = invitation_create(
            business=business,
            actor_membership=owner_membership,
            email="new@example.com",
            role=Role.STAFF,
        ).invitation
        message = OutboxMessage.objects.get()
        OutboxMessage.objects.filter(pk=message.pk).update(state=MessageState.FAILED)
        token = api_token_create(
            business=business, actor=owner, name="Site", scopes=["customers:read"]
        ).token
        run = import_run_create(business=business, actor=owner, file_name="a.csv", enqueue=False)
        campaign = AdCampaign(business=business, platform="google", name="Brand")
        campaign.save()
        mapping = CampaignMapping(business=business, utm_campaign="brand", campaign=campaign)
        mapping.save()
        link = payment_link_create(
            business=business, actor=owner, title="Coaching", amount=Money(5000, "USD")
        )
        payment = payment_start(
            request=link, provider="sandbox", return_url="https://shop.example.test/"
        ).payment
        sandbox_succeed(payment)
        payment.refresh_from_db()
        refund = refund_create(payment=payment, amount=Money(100, "USD"), reason="", actor=owner)
        open_link = payment_link_create(
            business=business, actor=owner, title="Open", amount=Money(2000, "USD")
        )
        from tests.scheduling.world import scheduling_world

        scheduling = scheduling_world(business, owner)
        selling = _selling_world(business)
    return {
        **scheduling,
        **selling,
        "business_slug": business.slug,
        "customer_id": customer.pk,
        "membership_id": staff.pk,
        "invitation_id": invitation.pk,
        "message_id": message.pk,
        "token_id": token.pk,
        "run_id": run.pk,
        "mapping_id": mapping.pk,
        "report": "sales",
        "table": "revenue",
        "payment_id": payment.pk,
        "refund_id": refund.pk,
        "request_id": open_link.pk,
        "provider": "manual",
    }


def _selling_world(business: Business) -> dict[str, Any]:
    """A shop with a paid order holding a ticket: what sales, catalog and check-in URLs need."""
    from tillbook.orders.links import ticket_code
    from tillbook.orders.models import Ticket
    from tillbook.orders.services import order_place
    from tillbook.payments.sandbox import sandbox_succeed
    from tillbook.payments.services import payment_start

    from ..orders.shop import build_shop

    shop = build_shop(business)
    order = order_place(
        business=business, items=[shop.ticket(1)], email="ann@example.com", name="Ann"
    )
    assert order.payment_request is not None
    started = payment_start(request=order.payment_request, provider="sandbox", return_url="/")
    sandbox_succeed(started.payment)
    ticket = Ticket.objects.get(order=order)
    return {
        "order_id": order.pk,
        "offering_id": shop.workshop.pk,
        "kind": "download",
        "code": ticket_code(ticket),
    }


def url_for(route: str, values: dict[str, Any]) -> str:
    url = route
    for name, value in values.items():
        for converter in ("int", "slug", "str"):
            url = url.replace(f"<{converter}:{name}>", str(value))
    assert "<" not in url, f"no fixture value for a parameter in {route}"
    return url


def test_every_back_office_url_is_in_the_matrix() -> None:
    names = set(url_patterns("backoffice"))
    assert names - set(MATRIX) - OUTSIDE_A_BUSINESS == set(), "add new URLs to MATRIX"
    assert set(MATRIX) - names == set()


def routes() -> list[tuple[str, str]]:
    return [(name, method) for name, spec in MATRIX.items() for method in spec.methods]


@pytest.mark.parametrize(("name", "method"), routes())
def test_staff_of_another_business_get_404_and_change_nothing(
    name: str,
    method: str,
    world: dict[str, Any],
    other_business: Business,
    other_owner: User,
    client: Client,
) -> None:
    client.force_login(other_owner)
    url = url_for(url_patterns("backoffice")[name], world)
    before = database_fingerprint()
    data = {**MATRIX[name].post, **(csv_upload() if name in UPLOADS else {})}
    response = client.get(url) if method == "GET" else client.post(url, data)
    assert response.status_code == 404
    assert database_fingerprint() == before


@pytest.mark.parametrize(("name", "method"), routes())
def test_anonymous_visitors_are_sent_to_login_and_change_nothing(
    name: str, method: str, world: dict[str, Any], client: Client
) -> None:
    url = url_for(url_patterns("backoffice")[name], world)
    before = database_fingerprint()
    data = {**MATRIX[name].post, **(csv_upload() if name in UPLOADS else {})}
    response = client.get(url) if method == "GET" else client.post(url, data)
    assert response.status_code == 302
    assert response["Location"].startswith("/manage/login/?next=")
    assert database_fingerprint() == before


@pytest.mark.parametrize("name", list(MATRIX))
def test_the_owner_can_open_every_page(
    name: str, world: dict[str, Any], owner: User, client: Client
) -> None:
    client.force_login(owner)
    response = client.get(url_for(url_patterns("backoffice")[name], world))
    assert response.status_code == MATRIX[name].member_get


def test_an_unknown_business_address_is_404(owner_client: Client) -> None:
    assert owner_client.get("/manage/no-such-business/").status_code == 404
    assert owner_client.get("/manage/no-such-business/customers/").status_code == 404


MANAGER_PAGES = {
    "import_list",
    "import_export",
    "import_detail",
    "import_progress",
    "campaign_mappings",
    "calendar_setup",
    "calendar_staff_new",
    "calendar_service_new",
    "offering_create",
    "offering_edit",
    "shop_settings",
    "discount_list",
    "settings",
    "settings_staff",
    "outbox",
    "outbox_detail",
    "audit_log",
    "audit_export",
}
OWNER_PAGES = {
    "settings_profile",
    "settings_branding",
    "api_tokens",
    "settings_payments",
    "settings_payment_provider",
}


@pytest.mark.parametrize("name", sorted(MANAGER_PAGES | OWNER_PAGES))
def test_staff_role_is_refused_settings_with_403_and_a_reason(
    name: str, world: dict[str, Any], client: Client
) -> None:
    client.force_login(User.objects.get(email="staff@example.com"))
    response = client.get(url_for(url_patterns("backoffice")[name], world))
    assert response.status_code == 403
    reason = "owners" if name in OWNER_PAGES else "owners and managers"
    assert f"This page is for the business&#x27;s {reason}." in response.content.decode()


@pytest.mark.parametrize("name", sorted(OWNER_PAGES))
def test_managers_cannot_open_owner_pages(
    name: str,
    world: dict[str, Any],
    client: Client,
    make_user: Any,
    add_member: Any,
    business: Business,
) -> None:
    manager = make_user("manager@example.com")
    add_member(business, manager, Role.MANAGER)
    client.force_login(manager)
    before = database_fingerprint()
    url = url_for(url_patterns("backoffice")[name], world)
    assert client.get(url).status_code == 403
    assert client.post(url, MATRIX[name].post).status_code == 403
    assert database_fingerprint() == before


def test_staff_post_to_manager_actions_changes_nothing(
    world: dict[str, Any], client: Client
) -> None:
    client.force_login(User.objects.get(email="staff@example.com"))
    before = database_fingerprint()
    for name in (
        "staff_role",
        "staff_remove",
        "invitation_revoke",
        "outbox_retry",
        "settings_staff",
        "payment_refund",
        "refund_retry",
        "calendar_feed_rotate",
        "calendar_import_new",
    ):
        url = url_for(url_patterns("backoffice")[name], world)
        assert client.post(url, MATRIX[name].post).status_code == 403
    assert database_fingerprint() == before


def _min_role(name: str, world: dict[str, Any]) -> str:
    return resolve(url_for(url_patterns("backoffice")[name], world)).func.min_role  # type: ignore[attr-defined]


@pytest.mark.parametrize(("name", "method"), routes())
def test_lower_roles_are_refused_every_page_and_action_above_them(
    name: str,
    method: str,
    world: dict[str, Any],
    client: Client,
    make_user: Any,
    add_member: Any,
    business: Business,
) -> None:
    """Staff are refused every manager's and owner's URL, managers every owner's, by GET and by
    a direct POST alike (a hidden button is no protection), and nothing changes."""
    needed = _min_role(name, world)
    lower = [Role.STAFF] if needed == Role.MANAGER else []
    if needed == Role.OWNER:
        lower = [Role.STAFF, Role.MANAGER]
    add_member(business, make_user("manager@example.com"), Role.MANAGER)
    url = url_for(url_patterns("backoffice")[name], world)
    for role in lower:
        client.force_login(User.objects.get(email=f"{role}@example.com"))
        before = database_fingerprint()
        data = {**MATRIX[name].post, **(csv_upload() if name in UPLOADS else {})}
        response = client.get(url) if method == "GET" else client.post(url, data)
        assert response.status_code == 403, role
        assert database_fingerprint() == before


# Routes naming one of the business's rows by id (new ones join by themselves).
ID_ROUTES = [
    (name, method) for name, method in routes() if "<int:" in url_patterns("backoffice")[name]
]


@pytest.mark.parametrize(("name", "method"), ID_ROUTES)
def test_another_business_naming_our_ids_at_its_own_address_gets_404_and_changes_nothing(
    name: str,
    method: str,
    world: dict[str, Any],
    other_business: Business,
    other_owner: User,
    client: Client,
) -> None:
    """The owner of another business, at their own business's address, with this business's
    ids (a booking, an order, a staff member, a token…): 404, as for an id that does not exist."""
    client.force_login(other_owner)
    url = url_for(url_patterns("backoffice")[name], {**world, "business_slug": other_business.slug})
    before = database_fingerprint()
    data = {**MATRIX[name].post, **(csv_upload() if name in UPLOADS else {})}
    response = client.get(url) if method == "GET" else client.post(url, data)
    assert response.status_code == 404
    assert database_fingerprint() == before
