"""Amounts cross to and from Stripe in Stripe's own count of decimals.

Tillbook counts minor units as CLDR does; Stripe counts two decimals for the Colombian peso,
the forint, the króna and others CLDR gives none. 50,000 pesos are 50000 in Tillbook and
5000000 at Stripe: sending Tillbook's number as it is would charge 500 pesos.
"""

from __future__ import annotations

import pytest
from django.test import Client

from tillbook.core.errors import InvalidInput
from tillbook.core.models import Business, User
from tillbook.core.money import Money
from tillbook.core.scoping import business_scope, unscoped
from tillbook.core.services import business_create
from tillbook.payments.models import PaymentState, Refund, RefundState
from tillbook.payments.providers.stripe import stripe_amount, tillbook_amount
from tillbook.payments.services import refund_create

from ..fakes.stripe_server import FakeStripe
from .fixtures import RecordingPurpose, deliver, stripe_switched_on
from .test_stripe_refunds import paid_stripe_payment


@pytest.mark.parametrize(
    ("currency", "minor", "at_stripe"),
    [
        ("USD", 5000, 5000),  # two decimals on both sides
        ("JPY", 5000, 5000),  # none on both sides
        ("KWD", 5120, 5120),  # three on both sides
        ("COP", 50000, 5000000),  # CLDR none, Stripe two
        ("HUF", 12000, 1200000),
        ("ISK", 5000, 500000),
        ("IDR", 150000, 15000000),
        ("LYD", 12340, 1234),  # CLDR three, Stripe two
    ],
)
def test_amounts_go_to_stripe_in_its_decimals_and_come_back_unchanged(
    currency: str, minor: int, at_stripe: int
) -> None:
    assert stripe_amount(minor, currency) == at_stripe
    assert tillbook_amount(at_stripe, currency) == minor
    assert tillbook_amount(-at_stripe, currency) == -minor


def test_what_stripe_counts_finer_is_rounded_half_away_from_zero() -> None:
    # A Stripe fee of 1,450.30 pesos, 1,450.50 and 1,450.49; a refund line of −0.50.
    assert [tillbook_amount(n, "COP") for n in (145030, 145050, 145049, -50)] == [
        1450,
        1451,
        1450,
        -1,
    ]


@pytest.mark.parametrize(
    ("currency", "minor", "message"),
    [
        ("LYD", 12345, "Stripe takes LYD amounts to 2 decimals at most: LYD12.345"),
        ("KWD", 5125, "Stripe takes KWD amounts in steps of 0.010: KWD5.125"),
    ],
)
def test_an_amount_stripe_cannot_state_is_refused_with_a_reason(
    currency: str, minor: int, message: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        stripe_amount(minor, currency)
    assert str(refused.value) == f"{message} cannot be charged through Stripe."


def _stripe_business(owner: User, slug: str, currency: str, zone: str) -> Business:
    with unscoped():
        business = business_create(
            slug=slug, name=slug.title(), currency=currency, timezone_name=zone, owner=owner
        )
    return stripe_switched_on(business)


@pytest.fixture
def bogota(owner: User, fake_stripe: FakeStripe) -> Business:
    return _stripe_business(owner, "bogota", "COP", "America/Bogota")


def test_a_peso_checkout_charges_refunds_and_records_fees_in_pesos(
    client: Client,
    bogota: Business,
    fake_stripe: FakeStripe,
    owner: User,
    purpose: RecordingPurpose,
) -> None:
    payment = paid_stripe_payment(client, bogota, fake_stripe, Money(50000, "COP"))
    (session,) = fake_stripe.sessions.values()
    assert (session["currency"], session["amount_total"]) == ("cop", 5000000)
    # The fake's fee: 2.9 % + 30 of 5,000,000 = 145,030, i.e. 1,450.30 pesos.
    assert (payment.state, payment.amount, payment.fee_amount) == (
        PaymentState.SUCCEEDED,
        50000,
        1450,
    )

    with business_scope(bogota):
        refund = refund_create(payment=payment, amount=Money(20000, "COP"), reason="", actor=owner)
    (call,) = [r for r in fake_stripe.requests if r.path == "/v1/refunds"]
    assert call.params["amount"] == "2000000"
    assert (refund.state, refund.amount) == (RefundState.SUCCEEDED, 20000)

    # 5,000 pesos refunded in Stripe's dashboard arrive as 5,000 pesos.
    event = fake_stripe.refund_in_dashboard(payment.provider_reference, 500000)
    assert deliver(client, bogota, event).status_code == 200
    with business_scope(bogota):
        amounts = sorted(Refund.objects.filter(payment=payment).values_list("amount", flat=True))
    assert amounts == [5000, 20000]


def test_dashboard_refunds_read_from_the_charges_total_add_up_to_it(
    client: Client, owner: User, fake_stripe: FakeStripe, purpose: RecordingPurpose
) -> None:
    budapest = _stripe_business(owner, "budapest", "HUF", "Europe/Budapest")
    payment = paid_stripe_payment(client, budapest, fake_stripe, Money(1000, "HUF"))
    # 500.50 Ft and then 499.50 Ft, refunded in Stripe's dashboard: 1,000 Ft in all.
    for amount in (50050, 49950):
        event = fake_stripe.refund_in_dashboard(payment.provider_reference, amount)
        assert deliver(client, budapest, event).status_code == 200
    with business_scope(budapest):
        amounts = list(Refund.objects.order_by("pk").values_list("amount", flat=True))
    assert amounts == [501, 499]


def test_a_peso_fee_is_the_rounded_gross_less_the_rounded_net(
    client: Client, bogota: Business, fake_stripe: FakeStripe, purpose: RecordingPurpose
) -> None:
    # 50,007 pesos: the fake's fee is 2.9 % + 30 of 5,000,700 = 145,050 (1,450.50 pesos), the
    # net 4,855,650 (48,556.50). Rounded alone the fee would be 1,451; the payout's line has
    # 50,007 − 48,557 = 1,450, and so does the payment.
    payment = paid_stripe_payment(client, bogota, fake_stripe, Money(50007, "COP"))
    assert payment.fee_amount == 1450


def test_a_refund_stripe_cannot_state_fails_with_the_reason_and_sends_nothing(
    client: Client, owner: User, fake_stripe: FakeStripe, purpose: RecordingPurpose
) -> None:
    kuwait = _stripe_business(owner, "kuwait", "KWD", "Asia/Kuwait")
    payment = paid_stripe_payment(client, kuwait, fake_stripe, Money(5120, "KWD"))
    with business_scope(kuwait):
        refund = refund_create(payment=payment, amount=Money(1125, "KWD"), reason="", actor=owner)
    assert (refund.state, refund.failure_reason) == (
        RefundState.FAILED,
        "Stripe takes KWD amounts in steps of 0.010: KWD1.125 cannot be charged through Stripe.",
    )
    assert [r.path for r in fake_stripe.requests if r.path == "/v1/refunds"] == []


def test_listed_dashboard_refunds_share_the_rounded_running_total(
    client: Client, owner: User, fake_stripe: FakeStripe, purpose: RecordingPurpose
) -> None:
    """Older API versions list the charge's refunds in charge.refunded: each is recorded as its
    share of the rounded running total, oldest first."""
    budapest = _stripe_business(owner, "budapest", "HUF", "Europe/Budapest")
    payment = paid_stripe_payment(client, budapest, fake_stripe, Money(1000, "HUF"))
    for amount in (50050, 49950):
        event = fake_stripe.refund_in_dashboard(payment.provider_reference, amount)
    refunds = sorted(fake_stripe.refunds.values(), key=lambda r: r["amount"], reverse=True)
    for position, refund in enumerate(refunds):
        refund["created"] += position  # 500.50 Ft first, then 499.50 Ft
    charge = {**event["data"]["object"], "refunds": {"object": "list", "data": refunds}}
    listed = fake_stripe.event("charge.refunded", charge)
    assert deliver(client, budapest, listed).status_code == 200
    with business_scope(budapest):
        amounts = sorted(Refund.objects.values_list("provider_reference", "amount"))
    assert amounts == sorted([(refunds[0]["id"], 501), (refunds[1]["id"], 499)])


def test_dashboard_refunds_told_by_their_own_events_keep_the_rounded_total(
    client: Client, owner: User, fake_stripe: FakeStripe, purpose: RecordingPurpose
) -> None:
    """500.50 Ft and 499.50 Ft refunded in Stripe's dashboard, each told by charge.refunded
    (totals of 501 and 499 Ft) and then by refund.created: 1,000 Ft in all, not 1,001 (the
    second refund rounded alone is 500 Ft)."""
    budapest = _stripe_business(owner, "budapest", "HUF", "Europe/Budapest")
    payment = paid_stripe_payment(client, budapest, fake_stripe, Money(1000, "HUF"))
    for amount in (50050, 49950):
        event = fake_stripe.refund_in_dashboard(payment.provider_reference, amount)
        assert deliver(client, budapest, event).status_code == 200
    for item in list(fake_stripe.refunds.values()):
        created = fake_stripe.event("refund.created", item)
        assert deliver(client, budapest, created).json()["detail"] == "refund succeeded"
    first, second = fake_stripe.refunds
    with business_scope(budapest):
        amounts = sorted(Refund.objects.values_list("provider_reference", "amount"))
    assert amounts == sorted([(first, 501), (second, 499)])
