"""The Payments area and Settings → Payments, as staff use them."""

from __future__ import annotations

from typing import Any

from django.test import Client

from tillbook.core.models import AuditEntry, Business, Role, User
from tillbook.core.money import Money
from tillbook.core.scoping import business_scope
from tillbook.messaging.models import OutboxMessage
from tillbook.payments.models import (
    Payment,
    PaymentRequest,
    ProviderAccount,
    Refund,
    RefundState,
    RequestState,
)
from tillbook.payments.sandbox import sandbox_succeed
from tillbook.payments.services import payment_link_create, payment_start

from ..access import database_fingerprint

STRIPE_KEY = "sk_test_51HbQ2xLkdIwHu7ix0000000000000000000000004242"


def paid_link(business: Business, owner: User, *, email: str = "ann@example.com") -> Payment:
    with business_scope(business):
        link = payment_link_create(
            business=business, actor=owner, title="Coaching session", amount=Money(12000, "USD")
        )
        payment = payment_start(
            request=link,
            provider="sandbox",
            return_url="https://shop.example.test/",
            customer_email=email,
        ).payment
        sandbox_succeed(payment)
        payment.refresh_from_db()
    return payment


def test_payments_list_shows_fee_and_net_filters_and_exports(
    owner_client: Client, business: Business, owner: User
) -> None:
    empty = owner_client.get(f"/manage/{business.slug}/payments/").content.decode()
    assert "No payments yet" in empty
    payment = paid_link(business, owner)
    page = owner_client.get(f"/manage/{business.slug}/payments/").content.decode()
    # 120.00, fee 2.9 % + 0.30 = 3.78, net 116.22
    assert f"P-{payment.pk}" in page
    assert "USD 120.00" in page and "3.78" in page and "116.22" in page
    assert "ann@example.com" in page
    failed = owner_client.get(f"/manage/{business.slug}/payments/?state=failed").content.decode()
    assert "No payments match these filters." in failed
    found = owner_client.get(f"/manage/{business.slug}/payments/?q=ann%40").content.decode()
    assert f"P-{payment.pk}" in found
    export = owner_client.get(f"/manage/{business.slug}/payments/export.csv?provider=sandbox")
    lines = b"".join(export.streaming_content).decode().lstrip("\ufeff").splitlines()
    assert lines[0] == (
        "payment,created,paid,state,provider,method,for,email,currency,amount,tip,fee,net,"
        "refunded,provider_reference"
    )
    assert lines[1].startswith(f"P-{payment.pk},")
    assert lines[1].endswith(
        f",succeeded,sandbox,card,Coaching session,ann@example.com,USD,120.00,0.00,3.78,116.22,"
        f"0.00,sbx_pi_{payment.pk}"
    )


def test_partial_refund_with_release_notifies_the_buyer(
    owner_client: Client,
    business: Business,
    owner: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    payment = paid_link(business, owner)
    detail = owner_client.get(f"/manage/{business.slug}/payments/{payment.pk}/").content.decode()
    assert "Up to USD 120.00 can be refunded" in detail
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            f"/manage/{business.slug}/payments/{payment.pk}/refund/",
            {"amount": "20.00", "reason": "Shortened session", "releases_capacity": "on"},
        )
    assert response.status_code == 302
    with business_scope(business):
        refund = Refund.objects.get()
        mail = OutboxMessage.objects.get(template="payment_refund")
    assert (refund.amount, refund.state, refund.reason, refund.releases_capacity) == (
        2000,
        RefundState.SUCCEEDED,
        "Shortened session",
        True,
    )
    assert (mail.to_email, mail.subject) == ("ann@example.com", "Acme Coaching refunded $20.00")
    after = owner_client.get(f"/manage/{business.slug}/payments/{payment.pk}/").content.decode()
    assert "Up to USD 100.00 can be refunded" in after
    assert "Refunded $20.00; the buyer is told." in after


def test_a_refund_form_sent_twice_refunds_once(
    owner_client: Client, business: Business, owner: User
) -> None:
    """A double click (or the browser sending the form again) refunded a second time, within
    what was left: the form carries a key of its own, and the second sending finds its refund."""
    import re

    payment = paid_link(business, owner)
    detail = owner_client.get(f"/manage/{business.slug}/payments/{payment.pk}/").content.decode()
    key = re.search(r'<input type="hidden" name="key" value="([0-9a-f]{32})"', detail)
    assert key, detail
    address = f"/manage/{business.slug}/payments/{payment.pk}/refund/"
    sent = {"amount": "20.00", "reason": "Late start", "key": key.group(1)}
    assert owner_client.post(address, sent).status_code == 302
    assert owner_client.post(address, sent).status_code == 302
    with business_scope(business):
        assert list(Refund.objects.values_list("amount", "state")) == [
            (2000, RefundState.SUCCEEDED)
        ]
    again = owner_client.get(f"/manage/{business.slug}/payments/{payment.pk}/").content.decode()
    assert "Up to USD 100.00 can be refunded" in again
    assert key.group(1) not in again  # a new form, a new key: the next refund is a new one
    # The old page's form, changed and sent again, is not taken for a new refund either.
    before = database_fingerprint()
    changed = owner_client.post(address, {**sent, "amount": "30.00"})
    assert changed.status_code == 409
    assert (
        "This form was already sent for another refund; reload the page to make a new one."
        in changed.content.decode()
    )
    assert database_fingerprint() == before
    tampered = owner_client.post(address, {**sent, "key": "k" * 65})
    assert tampered.status_code == 400
    assert "Ensure this value has at most 64 characters (it has 65)." in tampered.content.decode()
    assert database_fingerprint() == before


def test_a_record_payment_form_sent_twice_records_once(
    owner_client: Client, business: Business, owner: User
) -> None:
    import re

    with business_scope(business):
        link = payment_link_create(
            business=business, actor=owner, title="Coaching", amount=Money(12000, "USD")
        )
    page = owner_client.get(f"/manage/{business.slug}/payments/requests/{link.pk}/")
    key = re.search(
        r'<input type="hidden" name="key" value="([0-9a-f]{32})"', page.content.decode()
    )
    assert key
    record = f"/manage/{business.slug}/payments/requests/{link.pk}/record/"
    cash = {"amount": "50.00", "method": "cash", "note": "", "key": key.group(1)}
    assert owner_client.post(record, cash).status_code == 302
    assert owner_client.post(record, cash).status_code == 302
    with business_scope(business):
        assert list(Payment.objects.values_list("amount", flat=True)) == [5000]
        link.refresh_from_db()
    assert link.amount_paid == 5000


def test_refunding_more_than_is_left_changes_nothing(
    owner_client: Client, business: Business, owner: User
) -> None:
    payment = paid_link(business, owner)
    before = database_fingerprint()
    response = owner_client.post(
        f"/manage/{business.slug}/payments/{payment.pk}/refund/", {"amount": "120.01"}
    )
    assert response.status_code == 400
    assert "At most $120.00 can still be refunded." in response.content.decode()
    bad = owner_client.post(
        f"/manage/{business.slug}/payments/{payment.pk}/refund/", {"amount": "1.001"}
    )
    assert bad.status_code == 400
    assert database_fingerprint() == before


def test_staff_see_payments_but_cannot_refund(
    client: Client, business: Business, owner: User, make_user: Any, add_member: Any
) -> None:
    payment = paid_link(business, owner)
    staff = make_user("staff@example.com")
    add_member(business, staff, Role.STAFF)
    client.force_login(staff)
    page = client.get(f"/manage/{business.slug}/payments/{payment.pk}/").content.decode()
    assert "Owners and managers can refund this payment." in page
    before = database_fingerprint()
    refused = client.post(
        f"/manage/{business.slug}/payments/{payment.pk}/refund/", {"amount": "1.00"}
    )
    assert refused.status_code == 403
    assert database_fingerprint() == before


def test_create_and_send_a_payment_link_then_record_cash_in_two_parts(
    owner_client: Client, business: Business, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        created = owner_client.post(
            f"/manage/{business.slug}/payments/links/new/",
            {
                "title": "Deposit for the retreat",
                "amount_type": "fixed",
                "amount": "300.00",
                "email": "bo@example.com",
            },
        )
    assert created.status_code == 302
    with business_scope(business):
        link = PaymentRequest.objects.get()
        mail = OutboxMessage.objects.get(template="payment_link")
    assert (link.purpose, link.amount, link.title) == ("link", 30000, "Deposit for the retreat")
    assert f"https://shop.example.test/pay/{link.token}/" in mail.body_text
    assert mail.subject == "Acme Coaching: Deposit for the retreat ($300.00)"
    assert owner_client.get(f"/pay/{link.token}/").status_code == 200
    listing = owner_client.get(f"/manage/{business.slug}/payments/links/").content.decode()
    assert "Deposit for the retreat" in listing
    record = f"/manage/{business.slug}/payments/requests/{link.pk}/record/"
    assert owner_client.post(record, {"amount": "100.00", "method": "cash"}).status_code == 302
    too_much = owner_client.post(record, {"amount": "250.00", "method": "cash"})
    assert too_much.status_code == 400
    assert "Only $200.00 is still due." in too_much.content.decode()
    owner_client.post(record, {"amount": "200.00", "method": "bank_transfer", "note": "ref 42"})
    with business_scope(business):
        link.refresh_from_db()
        assert (link.state, link.amount_paid) == (RequestState.PAID, 30000)
        assert Payment.objects.filter(provider="manual").count() == 2
    page = owner_client.get(f"/manage/{business.slug}/payments/requests/{link.pk}/")
    assert "Record a payment received" not in page.content.decode()


def test_link_form_refuses_bad_input(owner_client: Client, business: Business) -> None:
    before = database_fingerprint()
    for data, message in [
        (
            {"title": "x", "amount_type": "fixed", "amount": ""},
            "A payment request needs an amount.",
        ),
        ({"title": "x", "amount_type": "fixed", "amount": "-5"}, "must be more than zero"),
        ({"title": " ", "amount_type": "open"}, "This field is required."),
        (
            {"title": "x", "amount_type": "fixed", "amount": "5", "expires_on": "2001-01-01"},
            "The expiry must be in the future.",
        ),
    ]:
        response = owner_client.post(f"/manage/{business.slug}/payments/links/new/", data)
        assert response.status_code == 400, data
        assert message in response.content.decode(), data
    assert database_fingerprint() == before


def test_a_date_filter_in_year_9999_lists_payments_instead_of_failing(
    owner_client: Client, business: Business, owner: User
) -> None:
    payment = paid_link(business, owner)
    query = {"created_from": "0001-01-01", "created_to": "9999-12-31"}
    page = owner_client.get(f"/manage/{business.slug}/payments/", query)
    assert page.status_code == 200
    assert f"P-{payment.pk}" in page.content.decode()
    export = owner_client.get(f"/manage/{business.slug}/payments/export.csv", query)
    lines = b"".join(export.streaming_content).decode().lstrip("\ufeff").splitlines()
    assert [line.split(",")[0] for line in lines] == ["payment", f"P-{payment.pk}"]


def test_a_link_expiring_in_year_9999_is_refused_and_nothing_is_kept(
    owner_client: Client, business: Business
) -> None:
    before = database_fingerprint()
    response = owner_client.post(
        f"/manage/{business.slug}/payments/links/new/",
        {"title": "x", "amount_type": "fixed", "amount": "5", "expires_on": "9999-12-31"},
    )
    assert response.status_code == 400
    assert "Pick a date from 1970 to 2099." in response.content.decode()
    assert database_fingerprint() == before


def test_stripe_keys_are_encrypted_and_shown_only_by_their_last_four(
    owner_client: Client, business: Business
) -> None:
    url = f"/manage/{business.slug}/settings/payments/stripe/"
    page = owner_client.get(url).content.decode()
    assert f"https://shop.example.test/hooks/stripe/{business.slug}/" in page
    assert "checkout.session.completed" in page
    refused = owner_client.post(url, {"is_enabled": "on"})
    assert refused.status_code == 400
    assert refused.content.decode().count("Required to switch this provider on.") == 2
    with business_scope(business):
        assert ProviderAccount.objects.count() == 0
    saved = owner_client.post(
        url, {"is_enabled": "on", "secret_key": STRIPE_KEY, "webhook_secret": "whsec_abcdefgh9876"}
    )
    assert saved.status_code == 302
    with business_scope(business):
        account = ProviderAccount.objects.get()
    assert STRIPE_KEY not in account.credentials_encrypted
    assert "whsec_" not in account.credentials_encrypted
    assert (account.is_enabled, account.is_test_mode) == (True, True)
    for shown in (
        owner_client.get(url),
        owner_client.get(f"/manage/{business.slug}/settings/payments/"),
    ):
        text = shown.content.decode()
        assert STRIPE_KEY not in text and "whsec_abcdefgh9876" not in text
        assert "••••4242" in text and "••••9876" in text
    # A blank field keeps the saved key; changing one key leaves the other.
    owner_client.post(url, {"is_enabled": "on", "webhook_secret": "whsec_rolled_1111"})
    with business_scope(business):
        entries = list(AuditEntry.objects.filter(action="payments.provider").order_by("pk"))
    assert [entry.summary for entry in entries] == [
        "Switched on Card (Stripe) (secret key, webhook signing secret)",
        "Changed Card (Stripe) (webhook signing secret)",
    ]
    assert entries[1].changes == {"webhook_secret": ["••••9876", "••••1111"]}
    assert STRIPE_KEY not in str(entries[0].changes)
    bad = owner_client.post(url, {"is_enabled": "on", "secret_key": "pk_live_123456789"})
    assert bad.status_code == 400
    assert "A Stripe secret key starts with sk_live_ or sk_test_." in bad.content.decode()


def test_manual_instructions_and_switching_the_sandbox_off_change_the_pay_page(
    owner_client: Client, business: Business, owner: User
) -> None:
    with business_scope(business):
        link = payment_link_create(
            business=business, actor=owner, title="Lesson", amount=Money(4000, "USD")
        )
    assert "Pay with Sandbox" in owner_client.get(f"/pay/{link.token}/").content.decode()
    owner_client.post(
        f"/manage/{business.slug}/settings/payments/manual/",
        {"is_enabled": "on", "instructions": "Zelle to pay@acme.example"},
    )
    owner_client.post(f"/manage/{business.slug}/settings/payments/sandbox/", {})
    page = owner_client.get(f"/pay/{link.token}/").content.decode()
    assert "Zelle to pay@acme.example" in page
    assert "Pay with Sandbox" not in page
    refused = owner_client.post(f"/pay/{link.token}/", {"provider": "sandbox"})
    assert refused.status_code == 400
    assert "Sandbox (test payments) is switched off for Acme Coaching." in (
        refused.content.decode()
    )


def test_unreadable_keys_after_a_key_change_are_reported_not_crashing(
    owner_client: Client, business: Business, settings: Any
) -> None:
    url = f"/manage/{business.slug}/settings/payments/stripe/"
    owner_client.post(
        url, {"is_enabled": "on", "secret_key": STRIPE_KEY, "webhook_secret": "whsec_abcdefgh9876"}
    )
    from cryptography.fernet import Fernet

    settings.TILLBOOK_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    page = owner_client.get(f"/manage/{business.slug}/settings/payments/")
    assert page.status_code == 200
    assert "cannot be decrypted with this installation" in page.content.decode()
    # Entering them again works with the new key.
    again = owner_client.post(
        url, {"is_enabled": "on", "secret_key": STRIPE_KEY, "webhook_secret": "whsec_new_22222"}
    )
    assert again.status_code == 302


def test_amounts_are_read_as_the_business_writes_them(
    owner_client: Client, business: Business
) -> None:
    """A German owner types 1.234,50 and 12,50: read as written, never with the comma dropped
    (which made 12,50 into 1,250.00); where a comma only groups thousands, 12,50 is refused."""
    from tillbook.catalog.models import Offering
    from tillbook.core.scoping import unscoped

    base = f"/manage/{business.slug}"
    before = database_fingerprint()
    refused = owner_client.post(
        f"{base}/payments/links/new/",
        {"title": "Session", "amount_type": "fixed", "amount": "12,50"},
    )
    assert refused.status_code == 400
    assert "&#x27;12,50&#x27; is not an amount; write it like 1234.50." in refused.content.decode()
    assert database_fingerprint() == before

    with unscoped():
        Business.objects.filter(pk=business.pk).update(locale="de_DE")
    created = owner_client.post(
        f"{base}/payments/links/new/",
        {"title": "Retreat", "amount_type": "fixed", "amount": "1.234,50"},
    )
    assert created.status_code == 302
    with business_scope(business):
        link = PaymentRequest.objects.get()
    assert link.amount == 123450
    record = f"{base}/payments/requests/{link.pk}/record/"
    assert owner_client.post(record, {"amount": "12,50", "method": "cash"}).status_code == 302
    offering = owner_client.post(
        f"{base}/catalog/new/download/",
        {
            "title": "Workbook",
            "state": "draft",
            "price": "19,90",
            "max_per_order": "1",
            "download_limit": "1",
            "download_days": "1",
            "position": "0",
        },
    )
    assert offering.status_code == 302
    with business_scope(business):
        assert list(Payment.objects.values_list("amount", flat=True)) == [1250]
        assert Offering.objects.get().price == 1990
