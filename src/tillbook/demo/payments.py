"""Demo payments: the sandbox and cash/bank transfer switched on, a few payment links, and
three months of payments through them (the storefront's orders are seeded with the catalog)."""

from __future__ import annotations

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from tillbook.core.models import Business, User
from tillbook.core.money import Money
from tillbook.core.scoping import business_scope
from tillbook.customers.models import Customer
from tillbook.payments.models import AmountType, Payment, PaymentRequest, Refund
from tillbook.payments.provider_accounts import provider_account_save
from tillbook.payments.sandbox import sandbox_succeed
from tillbook.payments.services import (
    manual_payment_record,
    payment_link_create,
    payment_start,
    refund_create,
)

MANUAL_INSTRUCTIONS = (
    "Bank transfer to Maple Coaching LLC, routing 021000021, account 000123456789 "
    "(use your name as the reference), or Zelle to pay@maple-coaching.example.com. "
    "Cash is welcome at the studio."
)


def seed_payments(*, business: Business, owner: User, seed: int) -> None:
    rng = random.Random(seed)
    now = timezone.now()
    with business_scope(business), transaction.atomic():
        provider_account_save(business=business, provider="sandbox", actor=owner, is_enabled=True)
        provider_account_save(
            business=business,
            provider="manual",
            actor=owner,
            is_enabled=True,
            settings={"instructions": MANUAL_INSTRUCTIONS},
        )
        usd = business.money
        discovery = payment_link_create(
            business=business,
            actor=owner,
            title="Discovery call (30 minutes)",
            amount=usd(7500),
            is_reusable=True,
            tip_allowed=False,
            description="A first conversation about where you want to go.",
        )
        package = payment_link_create(
            business=business,
            actor=owner,
            title="Coaching package: 5 sessions",
            amount=usd(60000),
            is_reusable=True,
            tip_allowed=True,
        )
        community = payment_link_create(
            business=business,
            actor=owner,
            title="Community workshop: pay what you want",
            amount=None,
            amount_type=AmountType.OPEN,
            is_reusable=True,
            tip_allowed=False,
        )
        payment_link_create(
            business=business,
            actor=owner,
            title="Leadership intensive: deposit",
            amount=usd(50000),
            expires_at=now + timedelta(days=21),
            description="Secures your place in the March intensive; the balance is due on day one.",
        )
        customers = list(Customer.objects.filter(business=business).order_by("pk")[:120])
        paid: list[tuple[Payment, int]] = []
        for _ in range(36):
            link = rng.choice([discovery, discovery, discovery, package, community])
            customer = rng.choice(customers)
            tip = Money(rng.choice([0, 0, 2000, 5000]), "USD") if link is package else None
            amount = usd(rng.choice([1500, 2000, 2500, 4000])) if link is community else None
            started = payment_start(
                request=link,
                provider="sandbox",
                return_url="https://demo.invalid/",
                amount=amount,
                tip=tip,
                customer_email=customer.email,
            ).payment
            sandbox_succeed(started)
            paid.append((started, rng.randint(1, 90)))
        # A deposit paid partly in cash, partly by bank transfer.
        deposit = payment_link_create(
            business=business,
            actor=owner,
            title="Team offsite facilitation (Harbor Analytics)",
            amount=usd(240000),
        )
        for part, method in ((120000, "bank_transfer"), (60000, "check")):
            paid.append(
                (
                    manual_payment_record(
                        request=deposit,
                        amount=usd(part),
                        method=method,
                        note="Invoice HA-2041",
                        actor=owner,
                    ),
                    rng.randint(5, 40),
                )
            )
        for payment, days_ago in paid:
            when = now - timedelta(days=days_ago, minutes=rng.randint(0, 600))
            Payment.objects.filter(pk=payment.pk).update(created_at=when, succeeded_at=when)
        first = Payment.objects.filter(business=business, provider="sandbox").order_by("pk")[0]
        refund_create(
            payment=first,
            amount=first.total,
            reason="Had to cancel: family emergency",
            actor=owner,
        )
        refunded_at = now - timedelta(days=1)
        Refund.objects.filter(payment=first).update(
            created_at=refunded_at, succeeded_at=refunded_at
        )
        PaymentRequest.objects.filter(business=business).update(created_at=now - timedelta(days=95))
