"""The demo business: a coaching-and-workshops practice in Chicago, seeded deterministically.

Later features add their data here (catalog, orders, bookings, imports) with the same random
generator, so every `make demo` shows the same business.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from tillbook.core.models import Business, Role, User
from tillbook.core.scoping import business_scope, unscoped
from tillbook.core.services import business_create, business_update, invitation_create
from tillbook.customers.models import Customer
from tillbook.customers.services import ImportRow, customers_import
from tillbook.demo.bookings import seed_scheduling
from tillbook.demo.people import (
    AREA_CODES,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    NOTES,
    TAGS,
)

SEED = 20261126
DEMO_PASSWORD = "tillbook-demo"  # noqa: S105 - printed by `tillbook demo` on purpose
OWNER_EMAIL = "owner@demo.tillbook.test"
MANAGER_EMAIL = "manager@demo.tillbook.test"
STAFF_EMAIL = "coach@demo.tillbook.test"
DEMO_SLUG = "maple-coaching"
CUSTOMER_COUNT = 320


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    role: str


DEMO_LOGINS = (
    DemoLogin(OWNER_EMAIL, DEMO_PASSWORD, "owner"),
    DemoLogin(MANAGER_EMAIL, DEMO_PASSWORD, "manager"),
    DemoLogin(STAFF_EMAIL, DEMO_PASSWORD, "staff"),
)


def _user(email: str, name: str) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email, DEMO_PASSWORD, name=name)
    return user


def demo_customers(rng: random.Random, count: int) -> list[ImportRow]:
    rows: list[ImportRow] = []
    used: set[str] = set()
    while len(rows) < count:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}{rng.randint(1, 99)}@{rng.choice(EMAIL_DOMAINS)}".lower()
        if email in used:
            continue
        used.add(email)
        phone = ""
        if rng.random() < 0.7:
            phone = f"+1{rng.choice(AREA_CODES)}555{rng.randint(100, 9999):04d}"
        tags = sorted(set(rng.sample(TAGS, rng.choice((0, 1, 1, 2)))))
        rows.append(
            ImportRow(
                line=len(rows) + 2,
                email=email,
                name=f"{first} {last}",
                phone=phone or None,
                notes=rng.choice(NOTES) or None,
                tags=tags,
                marketing_consent=rng.random() < 0.62,
            )
        )
    return rows


def _seed_insights(business: Business, owner: User) -> None:
    """Imported Stripe and PayPal history and three ad campaigns (tillbook.demo.insights)."""
    from tillbook.demo.insights import seed_insights

    with business_scope(business):
        emails = list(
            Customer.objects.filter(business=business)
            .order_by("pk")
            .values_list("email", flat=True)
        )
        seed_insights(business=business, owner=owner, emails=emails[:180], seed=SEED)


def _signed_up_by_first_purchase(business: Business) -> None:
    """Sign-ups were spread at random: move each customer's back to their first payment,
    order or booking where that came earlier, so "customer since" never follows a purchase."""
    from django.db.models import Min
    from django.db.models.functions import Lower

    from tillbook.orders.models import Order
    from tillbook.payments.models import Payment, PaymentState
    from tillbook.scheduling.models import Booking

    firsts: dict[str, datetime] = {}
    found: list[Any] = [
        Payment.objects.filter(business=business, state=PaymentState.SUCCEEDED)
        .exclude(customer_email="")
        .values(key=Lower("customer_email"))
        .annotate(first=Min("succeeded_at"))
        .values_list("key", "first")
    ]
    for model in (Order, Booking):
        found.append(
            model.objects.filter(business=business, customer__isnull=False)
            .values(key=Lower("customer__email"))
            .annotate(first=Min("created_at"))
            .values_list("key", "first")
        )
    for rows in found:
        for email, first in rows:
            if first is not None and (email not in firsts or first < firsts[email]):
                firsts[email] = first
    moved = []
    for customer in Customer.objects.filter(business=business):
        first = firsts.get(customer.email.lower())
        if first is not None and first < customer.created_at:
            customer.created_at = customer.updated_at = first - timedelta(minutes=5)
            if customer.consent_at is not None:
                customer.consent_at = customer.created_at
            moved.append(customer)
    Customer.objects.bulk_update(moved, ["created_at", "updated_at", "consent_at"])


def seed_demo() -> Business:
    """Create the demo businesses if they do not exist; returns the main one."""
    rng = random.Random(SEED)
    with unscoped(), transaction.atomic():
        existing = Business.objects.filter(slug=DEMO_SLUG).first()
        if existing is not None:
            return existing
        owner = _user(OWNER_EMAIL, "Dana Whitfield")
        manager = _user(MANAGER_EMAIL, "Priya Raman")
        coach = _user(STAFF_EMAIL, "Marco Alvarez")
        business = business_create(
            slug=DEMO_SLUG,
            name="Maple Coaching & Workshops",
            currency="USD",
            timezone_name="America/Chicago",
            owner=owner,
        )
    with business_scope(business), transaction.atomic():
        business_update(
            business=business,
            actor=owner,
            data={
                "contact_email": "hello@maple-coaching.example.com",
                "contact_phone": "+13125550142",
                "website": "https://maple-coaching.example.com",
                "address_line1": "220 W Huron St, Suite 4",
                "city": "Chicago",
                "region": "IL",
                "postal_code": "60654",
                "country": "US",
                "tagline": "Leadership coaching and hands-on workshops",
                "brand_color": "#2f6f4f",
                "google_place_id": "ChIJdemo-maple-coaching",
            },
        )
        from tillbook.core.models import Membership

        Membership(business=business, user=manager, role=Role.MANAGER).save()
        Membership(business=business, user=coach, role=Role.STAFF).save()
        customers_import(
            business=business,
            actor=owner,
            rows=demo_customers(rng, CUSTOMER_COUNT),
            ignored_columns=[],
        )
        # Spread sign-ups over the past 18 months so lists and reports look lived-in.
        now = timezone.now()
        customers = list(Customer.objects.filter(business=business).order_by("pk"))
        for customer in customers:
            customer.created_at = now - timedelta(
                days=rng.randint(0, 540), minutes=rng.randint(0, 1440)
            )
            customer.updated_at = customer.created_at
            if customer.marketing_consent:
                customer.consent_at = customer.created_at
        Customer.objects.bulk_update(customers, ["created_at", "updated_at", "consent_at"])
        seed_scheduling(business=business, owner=owner, coach=coach, rng=rng)
        owner_membership = Membership.objects.get(business=business, user=owner)
        invitation_create(
            business=business,
            actor_membership=owner_membership,
            email="jordan.lee@maple-coaching.example.com",
            role=Role.STAFF,
        )

    _seed_insights(business, owner)

    # A second business run by the same owner shows the business switcher.
    with unscoped(), transaction.atomic():
        studio = business_create(
            slug="harbor-yoga",
            name="Harbor Yoga Studio",
            currency="USD",
            timezone_name="America/Chicago",
            owner=owner,
        )
    with business_scope(studio), transaction.atomic():
        customers_import(
            business=studio,
            actor=owner,
            rows=demo_customers(random.Random(SEED + 1), 40),
            ignored_columns=[],
        )
    from tillbook.demo.payments import seed_payments

    seed_payments(business=business, owner=owner, seed=SEED + 3)
    from tillbook.demo.selling import seed_selling

    seed_selling(business=business, owner=owner, seed=SEED + 4)
    with business_scope(business), transaction.atomic():
        _signed_up_by_first_purchase(business)
    return business
