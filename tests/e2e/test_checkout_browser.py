"""A visitor buys a ticket and a download with the sandbox processor in a real browser, gets the
receipt, downloads the file; a staff member checks the ticket in from its QR code's URL."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from tests.conftest import PASSWORD
from tillbook.core.models import Business, Membership, Role, User
from tillbook.core.scoping import business_scope
from tillbook.messaging.models import OutboxMessage
from tillbook.orders.links import ticket_check_in_url
from tillbook.orders.models import Order, Ticket

from ..orders.shop import FILE_BYTES, build_shop


def test_visitor_buys_a_ticket_and_a_download_and_staff_check_in(
    page: Page,
    live_server: LiveServer,
    business: Business,
    settings: Any,
    tmp_path: Any,
    make_user: Callable[..., User],
    add_member: Callable[[Business, User, str], Membership],
    run_tasks: Callable[[], int],
) -> None:
    settings.BASE_URL = live_server.url  # links in emails and processor redirects
    settings.MEDIA_ROOT = tmp_path / "media"
    with business_scope(business):
        shop = build_shop(business)

    page.goto("/acme/")
    page.get_by_role("button", name="No thanks").click()
    page.get_by_role("link", name="Pricing Workshop").click()
    expect(page.locator("script[type='application/ld+json']")).to_have_count(1)
    page.get_by_label("Regular").fill("1")
    page.get_by_role("button", name="Add to cart").click()
    expect(page).to_have_url(re.compile(r"/acme/cart/$"))
    page.get_by_role("link", name="Shop").click()
    page.get_by_role("link", name="Pricing Workbook").click()
    page.get_by_role("button", name="Buy now").click()

    expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    expect(page.get_by_text("Street and number")).to_have_count(0)  # nothing ships
    page.get_by_label("Email (for your receipt)").fill("ann@example.com")
    page.get_by_label("Name").fill("Ann Buyer")
    page.get_by_role("button", name="Pay $59.00 (test payment)").click()

    expect(page.get_by_text("Test mode.")).to_be_visible()
    page.get_by_role("button", name="Pay successfully").click()
    expect(page.get_by_role("heading", name="Thank you — paid")).to_be_visible()
    expect(page.locator(".qr svg")).to_have_count(1)

    run_tasks()
    with business_scope(business):
        receipt = OutboxMessage.objects.get(template="order_receipt")
    assert receipt.to_email == "ann@example.com"
    assert receipt.state == "captured"
    link = re.search(r"(http://\S+/acme/orders/\S+/)", receipt.body_text)
    assert link, receipt.body_text
    page.goto(link.group(1))  # the buyer follows the receipt's link
    with page.expect_download() as download_info:
        page.get_by_role("link", name="workbook.pdf").click()
    path = download_info.value.path()
    assert path is not None and path.read_bytes() == FILE_BYTES
    expect(page.get_by_text("1 of 2 downloads left")).to_have_count(0)  # page not reloaded
    page.reload()
    expect(
        page.get_by_text("Pricing Workbook — 1 of 2 downloads left", exact=False)
    ).to_be_visible()

    with business_scope(business):
        order = Order.objects.get()
        ticket = Ticket.objects.get(order=order)
        scan_url = ticket_check_in_url(ticket)
    door = make_user("door@example.com", "Dee Door")
    add_member(business, door, Role.STAFF)
    staff = page.context.browser.new_context(base_url=live_server.url)  # type: ignore[union-attr]
    phone = staff.new_page()
    phone.goto(scan_url)  # what the phone camera opens; it asks the staff member to log in
    phone.get_by_label("Email:", exact=True).fill("door@example.com")
    phone.get_by_label("Password:", exact=True).fill(PASSWORD)
    phone.get_by_role("button", name="Log in").click()
    expect(phone.get_by_role("heading", name="Ann Buyer")).to_be_visible()
    phone.get_by_role("button", name="Check in").click()
    expect(phone.get_by_role("heading", name="Checked in")).to_be_visible()
    phone.goto(scan_url)
    expect(phone.get_by_role("heading", name="Already checked in")).to_be_visible()
    staff.close()
    with business_scope(business):
        ticket.refresh_from_db()
        assert ticket.checked_in_by == "door@example.com"
        assert shop.workshop.pk == ticket.event.offering_id
