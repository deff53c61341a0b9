"""A staff member works with customers in the back office, in a real browser."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD
from tillbook.core.models import AuditEntry, Business, Membership, Role, User
from tillbook.core.scoping import business_scope
from tillbook.customers.models import ConsentSource, Customer


def test_staff_member_logs_in_and_adds_a_customer(
    page: Page,
    business: Business,
    make_user: Callable[..., User],
    add_member: Callable[[Business, User, str], Membership],
) -> None:
    staff = make_user("sam@example.com", "Sam Staff")
    add_member(business, staff, Role.STAFF)

    page.goto("/manage/login/")
    page.get_by_label("Email:", exact=True).fill("sam@example.com")
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/manage/acme/$"))

    page.get_by_role("navigation", name="Areas").get_by_role("link", name="Customers").click()
    expect(page).to_have_url(re.compile(r"/manage/acme/customers/$"))
    # The empty list offers "Add customer" twice; use the toolbar's, which is always there.
    page.locator("div.toolbar").get_by_role("link", name="Add customer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a customer")

    page.get_by_label("Email:", exact=True).fill("Ann.Lee@Example.COM")
    page.get_by_label("Name:", exact=True).fill("Ann Lee")
    page.get_by_label("Phone:", exact=True).fill("+1 415 555 0123")
    page.get_by_label("Tags:", exact=True).fill("vip, newsletter")
    page.get_by_label("Agreed to receive marketing email", exact=True).check()
    page.get_by_label("Notes:", exact=True).fill("Prefers morning sessions.")
    page.get_by_role("button", name="Save").click()

    expect(page).to_have_url(re.compile(r"/manage/acme/customers/(\d+)/$"))
    detail_url = re.search(r"/customers/(\d+)/$", page.url)
    assert detail_url is not None
    customer_id = int(detail_url.group(1))
    expect(page.get_by_role("status")).to_have_text("Added Ann Lee.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ann Lee")
    facts = page.locator("dl.facts")
    expect(facts.locator("dt:text-is('Email') + dd")).to_have_text("Ann.Lee@example.com")
    expect(facts.locator("dt:text-is('Phone') + dd")).to_have_text("+14155550123")
    expect(facts.locator("dt:text-is('Tags') + dd .tag")).to_have_text(["newsletter", "vip"])
    expect(facts.locator("dt:text-is('Marketing') + dd")).to_contain_text("Agreed (Added by staff,")

    with business_scope(business):
        customers = list(Customer.objects.all())
        assert [customer.pk for customer in customers] == [customer_id]
        customer = customers[0]
        assert customer.email == "Ann.Lee@example.com"
        assert customer.name == "Ann Lee"
        assert customer.phone == "+14155550123"
        assert customer.notes == "Prefers morning sessions."
        assert customer.marketing_consent is True
        assert customer.consent_source == ConsentSource.STAFF
        assert customer.consent_at == customer.created_at
        assert sorted(customer.tags.values_list("name", flat=True)) == ["newsletter", "vip"]
        assert list(
            AuditEntry.objects.filter(action="customer.create").values_list(
                "actor", "target_id", "summary"
            )
        ) == [(staff.pk, str(customer_id), "Added customer Ann.Lee@example.com")]
