from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tillbook.catalog.models import Event
from tillbook.core.models import Business, Role, User
from tillbook.messaging.models import OutboxMessage
from tillbook.orders.links import ticket_code
from tillbook.orders.models import Order, OrderEvent, OrderState, Ticket
from tillbook.orders.services import order_place
from tillbook.payments.models import Payment, Refund
from tillbook.payments.sandbox import sandbox_succeed
from tillbook.payments.services import payment_start

from ..access import database_fingerprint
from ..orders.shop import Shop, build_shop


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def shop(scoped: Business) -> Shop:
    return build_shop(scoped)


def paid_order(shop: Shop, items: list[Any], email: str = "ann@example.com") -> Order:
    order = order_place(business=shop.business, items=items, email=email, name="Ann Buyer")
    assert order.payment_request is not None
    payment = payment_start(
        request=order.payment_request, provider="sandbox", return_url="https://x.test/"
    ).payment
    sandbox_succeed(payment)
    order.refresh_from_db()
    return order


def test_orders_list_filters_search_and_exports(owner_client: Client, shop: Shop) -> None:
    paid_order(shop, [shop.ticket(1)])
    order_place(business=shop.business, items=[shop.book()], email="zed@example.com", name="Zed")
    page = owner_client.get("/manage/acme/sales/").content.decode()
    assert "#1001" in page and "#1002" in page
    only_paid = owner_client.get("/manage/acme/sales/?state=fulfilled").content.decode()
    assert "#1001" in only_paid and "#1002" not in only_paid
    searched = owner_client.get("/manage/acme/sales/?q=zed").content.decode()
    assert "#1002" in searched and "#1001" not in searched
    export = owner_client.get("/manage/acme/sales/export.csv?q=1001")
    text = b"".join(export.streaming_content).decode()  # type: ignore[attr-defined]
    lines = text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("number,created_at,state,email,name,items")
    assert len(lines) == 2 and lines[1].startswith("1001,")
    assert "1 x Pricing Workshop — Regular" in lines[1]


def test_order_detail_shows_the_timeline_and_resends(
    owner_client: Client, shop: Shop, django_capture_on_commit_callbacks: Any
) -> None:
    order = paid_order(shop, [shop.ticket(1)])
    page = owner_client.get(f"/manage/acme/sales/{order.pk}/").content.decode()
    for text in ("Created", "Paid", "Emailed", "Order 1001 placed by ann@example.com"):
        assert text in page
    response = owner_client.post(f"/manage/acme/sales/{order.pk}/resend/")
    assert response.status_code == 302
    assert OutboxMessage.objects.filter(template="order_receipt").count() == 2
    assert OrderEvent.objects.filter(order=order, message__startswith="Receipt resent").count() == 1


def test_refund_from_the_order_page_releases_places_when_asked(
    owner_client: Client, shop: Shop
) -> None:
    order = paid_order(shop, [shop.ticket(2)])
    response = owner_client.post(
        f"/manage/acme/sales/{order.pk}/refund/",
        {"amount": "80.00", "reason": "Cannot come", "releases_capacity": "on"},
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.state, order.refunded_total) == (OrderState.REFUNDED, 8000)
    refund = Refund.objects.get()
    assert (refund.amount, refund.releases_capacity) == (8000, True)
    assert OutboxMessage.objects.filter(template="payment_refund").count() == 1
    too_much = owner_client.post(f"/manage/acme/sales/{order.pk}/refund/", {"amount": "1.00"})
    assert too_much.status_code == 409
    assert Refund.objects.count() == 1


def test_bad_refund_amount_is_refused_with_its_reason(owner_client: Client, shop: Shop) -> None:
    order = paid_order(shop, [shop.ticket(1)])
    for amount, status, message in [
        ("abc", 400, "not valid"),
        ("-5", 400, "more than zero"),
        ("999.00", 400, "than can still be refunded"),
    ]:
        response = owner_client.post(f"/manage/acme/sales/{order.pk}/refund/", {"amount": amount})
        assert response.status_code == status, amount
        assert message in response.content.decode(), amount
    assert Refund.objects.count() == 0


@pytest.mark.parametrize("action", ["refund", "payment"])
@pytest.mark.parametrize("amount", ["1e999999", "-1e999999", "1e16", str(10**19)])
def test_huge_amounts_are_refused_with_a_message_and_nothing_is_written(
    owner_client: Client, shop: Shop, action: str, amount: str
) -> None:
    order = paid_order(shop, [shop.ticket(1)])
    before = database_fingerprint()
    response = owner_client.post(
        f"/manage/acme/sales/{order.pk}/{action}/",
        {"amount": amount, "method": "cash", "reason": "x"},
    )
    assert response.status_code == 400
    shown = amount if len(amount) <= 20 else f"{amount[:20]}…"
    assert (
        f"The amount is not valid: {shown} is too large; Tillbook accepts amounts up to "
        "10000000000000.00 USD."
    ) in html.unescape(response.content.decode())
    assert database_fingerprint() == before


def test_manual_payment_completes_an_order(owner_client: Client, shop: Shop) -> None:
    order = order_place(
        business=shop.business, items=[shop.book()], email="c@example.com", name="Cash Buyer"
    )
    owner_client.post(
        f"/manage/acme/sales/{order.pk}/payment/", {"amount": "10.00", "method": "cash"}
    )
    order.refresh_from_db()
    assert order.state == OrderState.PENDING
    assert (
        "Part payment of $10.00"
        in owner_client.get(f"/manage/acme/sales/{order.pk}/").content.decode()
    )
    owner_client.post(
        f"/manage/acme/sales/{order.pk}/payment/", {"amount": "9.00", "method": "bank_transfer"}
    )
    order.refresh_from_db()
    assert order.state == OrderState.FULFILLED
    assert Payment.objects.filter(provider="manual").count() == 2


def _form_key(page: str, action: str) -> str:
    """The hidden key of the form posting to `action` on `page`."""
    import re

    form = page[page.index(f'action="{action}"') :]
    found = re.search(r'<input type="hidden" name="key" value="([0-9a-f]{32})"', form)
    assert found, form[:2000]
    return found.group(1)


def test_order_forms_sent_twice_record_and_refund_once(owner_client: Client, shop: Shop) -> None:
    """A double click on "Record payment" recorded the cash twice (the order then looked paid
    with half the money), and on "Refund" refunded twice: each form carries a key of its own."""
    order = order_place(
        business=shop.business, items=[shop.book()], email="c@example.com", name="Cash Buyer"
    )
    base = f"/manage/acme/sales/{order.pk}/"
    key = _form_key(owner_client.get(base).content.decode(), f"{base}payment/")
    cash = {"amount": "10.00", "method": "cash", "key": key}
    assert owner_client.post(f"{base}payment/", cash).status_code == 302
    assert owner_client.post(f"{base}payment/", cash).status_code == 302
    order.refresh_from_db()
    assert list(Payment.objects.values_list("amount", flat=True)) == [1000]
    assert order.payment_request is not None and order.payment_request.amount_paid == 1000
    page = owner_client.get(base).content.decode()
    assert _form_key(page, f"{base}payment/") != key  # the next payment is a new one
    paid = paid_order(shop, [shop.ticket(2)])
    base = f"/manage/acme/sales/{paid.pk}/"
    key = _form_key(owner_client.get(base).content.decode(), f"{base}refund/")
    back = {"amount": "20.00", "reason": "Late start", "key": key}
    assert owner_client.post(f"{base}refund/", back).status_code == 302
    assert owner_client.post(f"{base}refund/", back).status_code == 302
    assert list(Refund.objects.values_list("amount", flat=True)) == [2000]
    paid.refresh_from_db()
    assert paid.refunded_total == 2000


def test_staff_cannot_refund(
    client: Client, shop: Shop, make_user: Callable[..., User], add_member: Any
) -> None:
    order = paid_order(shop, [shop.ticket(1)])
    staff = make_user("staff@example.com")
    add_member(shop.business, staff, Role.STAFF)
    client.force_login(staff)
    assert client.post(f"/manage/acme/sales/{order.pk}/refund/", {"amount": "1"}).status_code == 403
    assert Refund.objects.count() == 0


def test_check_in_by_scanning_twice_and_at_the_wrong_event(
    client: Client, shop: Shop, make_user: Callable[..., User], add_member: Any
) -> None:
    order = paid_order(shop, [shop.ticket(1)])
    ticket = Ticket.objects.get(order=order)
    staff = make_user("door@example.com")
    add_member(shop.business, staff, Role.STAFF)
    client.force_login(staff)
    url = f"/manage/acme/catalog/{shop.workshop.pk}/check-in/{ticket_code(ticket)}/"
    shown = client.get(url)
    assert "Ann Buyer" in shown.content.decode()
    ticket.refresh_from_db()
    assert ticket.checked_in_at is None  # a GET (a link preview) never checks in
    first = client.post(url).content.decode()
    assert "Checked in" in first
    twice = client.post(url).content.decode()
    assert "Already checked in" in twice and "door@example.com" in twice
    assert OrderEvent.objects.filter(order=order, kind="checked_in").count() == 1
    # The same ticket scanned at another event's door.
    from datetime import timedelta

    from django.utils import timezone

    from tillbook.catalog.services import event_save, offering_create

    other = offering_create(business=shop.business, actor=None, kind="ticket", title="Gala")
    event_save(
        offering=other,
        starts_at=timezone.now() + timedelta(days=3),
        ends_at=None,
        timezone_name="UTC",
        venue_name="Hall",
    )
    wrong = client.post(f"/manage/acme/catalog/{other.pk}/check-in/{ticket_code(ticket)}/")
    assert wrong.status_code == 409
    assert "This ticket is for “Pricing Workshop”, not “Gala”." in wrong.content.decode()
    forged = client.get(f"/manage/acme/catalog/{shop.workshop.pk}/check-in/{ticket.pk}.bad/")
    assert forged.status_code == 404
    # A code with a character beyond ASCII is as wrong (it was a server error).
    beyond = client.get(f"/manage/acme/catalog/{shop.workshop.pk}/check-in/{ticket.pk}.caf%C3%A9/")
    assert beyond.status_code == 404
    assert Event.objects.count() == 2


def test_check_in_from_the_attendee_search(owner_client: Client, shop: Shop) -> None:
    order = paid_order(shop, [shop.ticket(1)])
    ticket = Ticket.objects.get(order=order)
    listing = owner_client.get(f"/manage/acme/catalog/{shop.workshop.pk}/attendees/?q=ann")
    assert "Ann Buyer" in listing.content.decode()
    owner_client.post(
        f"/manage/acme/catalog/{shop.workshop.pk}/attendees/", {"ticket": ticket.pk, "q": "ann"}
    )
    ticket.refresh_from_db()
    assert ticket.checked_in_at is not None
    export = owner_client.get(f"/manage/acme/catalog/{shop.workshop.pk}/attendees.csv")
    text = b"".join(export.streaming_content).decode()  # type: ignore[attr-defined]
    assert "Ann Buyer" in text and "ann@example.com" in text


def test_check_in_of_a_ticket_number_with_superscript_digits_is_404_and_changes_nothing(
    owner_client: Client, shop: Shop
) -> None:
    paid_order(shop, [shop.ticket(1)])
    before = database_fingerprint()
    base = f"/manage/acme/catalog/{shop.workshop.pk}"
    typed = owner_client.post(f"{base}/attendees/", {"ticket": "¹", "q": ""})
    assert typed.status_code == 404
    scanned = owner_client.post(f"{base}/check-in/¹.abc/")
    assert scanned.status_code == 404
    assert "This is not a valid ticket code." in scanned.content.decode()
    assert database_fingerprint() == before


def test_shortfall_list_and_honouring(owner_client: Client, shop: Shop) -> None:
    from tillbook.orders.models import CapacityState, OrderLine

    order = paid_order(shop, [shop.ticket(1)])
    Order.objects.filter(pk=order.pk).update(capacity_shortfall=True)
    OrderLine.objects.filter(order=order).update(capacity_state=CapacityState.SHORT)
    Ticket.objects.filter(order=order).delete()
    listing = owner_client.get("/manage/acme/sales/no-place/").content.decode()
    assert "#1001" in listing and "Needs a decision" in listing
    owner_client.post(f"/manage/acme/sales/{order.pk}/accept/")
    assert Ticket.objects.filter(order=order).count() == 1
    assert "Resolved" in owner_client.get("/manage/acme/sales/no-place/").content.decode()


@pytest.mark.parametrize("typed", ["9" * 20, "9" * 5000])
def test_check_in_of_a_ticket_number_too_long_for_an_id_is_404_and_changes_nothing(
    owner_client: Client, shop: Shop, typed: str
) -> None:
    """0e99fd4 swapped isdigit for isdecimal but kept int() of any length: 5,000 digits is
    past Python's int() limit, and 20 digits past what an id column holds."""
    paid_order(shop, [shop.ticket(1)])
    before = database_fingerprint()
    base = f"/manage/acme/catalog/{shop.workshop.pk}"
    answer = owner_client.post(f"{base}/attendees/", {"ticket": typed, "q": ""})
    assert answer.status_code == 404
    assert database_fingerprint() == before


def test_staff_cannot_record_a_payment_for_an_order_through_its_payment_request(
    client: Client, shop: Shop, make_user: Callable[..., User], add_member: Any
) -> None:
    """Recording cash for an order is for owners and managers; the order's payment request
    page must not be a way round that."""
    order = order_place(
        business=shop.business, items=[shop.book()], email="c@example.com", name="Cash Buyer"
    )
    assert order.payment_request is not None
    staff = make_user("staff@example.com")
    add_member(shop.business, staff, Role.STAFF)
    client.force_login(staff)
    url = f"/manage/acme/payments/requests/{order.payment_request.pk}/"
    before = database_fingerprint()
    response = client.post(f"{url}record/", {"amount": "19.00", "method": "cash"})
    assert response.status_code == 403
    assert (
        "Recording a payment for an order is for the business&#x27;s owners and managers."
        in response.content.decode()
    )
    assert database_fingerprint() == before
    order.refresh_from_db()
    assert order.state == OrderState.PENDING
    assert Payment.objects.count() == 0
    assert "Record a payment received" not in client.get(url).content.decode()
