from __future__ import annotations

import random

import pytest
from django.test import Client

from tillbook.core.models import Business, Membership
from tillbook.core.scoping import business_scope, unscoped
from tillbook.customers.models import Customer
from tillbook.demo.seed import (
    CUSTOMER_COUNT,
    DEMO_PASSWORD,
    OWNER_EMAIL,
    SEED,
    demo_customers,
    seed_demo,
)


@pytest.mark.django_db
def test_demo_business_is_seeded_once_and_its_login_works(client: Client) -> None:
    business = seed_demo()
    assert seed_demo() == business
    with unscoped():
        assert Business.objects.count() == 2
        assert sorted(
            Membership.objects.filter(business=business).values_list("role", flat=True)
        ) == [
            "manager",
            "owner",
            "staff",
        ]
    with business_scope(business):
        assert Customer.objects.count() == CUSTOMER_COUNT
        assert Customer.objects.filter(marketing_consent=True).count() > CUSTOMER_COUNT // 3
    response = client.post("/manage/login/", {"email": OWNER_EMAIL, "password": DEMO_PASSWORD})
    assert response.status_code == 302
    assert client.get("/manage/").status_code == 200  # two businesses: the picker


def test_demo_customers_are_deterministic() -> None:
    first = demo_customers(random.Random(SEED), 50)
    second = demo_customers(random.Random(SEED), 50)
    assert [(row.email, row.name, row.phone, row.tags) for row in first] == [
        (row.email, row.name, row.phone, row.tags) for row in second
    ]


@pytest.mark.django_db
def test_demo_business_has_services_staff_and_six_months_of_bookings() -> None:
    from datetime import timedelta

    from django.utils import timezone

    from tillbook.scheduling.models import Booking, Service, StaffMember

    business = seed_demo()
    with business_scope(business):
        assert sorted(Service.objects.values_list("location_kind", "capacity")) == [
            ("business", 12),
            ("customer", 1),
            ("video", 1),
        ]
        assert StaffMember.objects.count() == 2
        now = timezone.now()
        bookings = Booking.objects.all()
        assert bookings.filter(start__lt=now - timedelta(days=80)).exists()
        assert bookings.filter(start__gt=now + timedelta(days=80)).exists()
        assert bookings.filter(start__lt=now, state="completed").count() > 50
        assert bookings.filter(start__gt=now, state="confirmed").count() > 50
        assert bookings.filter(service__capacity=12).values("session_key").distinct().count() > 5


@pytest.mark.django_db
def test_demo_takes_payments_through_the_sandbox_and_cash() -> None:
    from tillbook.payments.models import Payment, PaymentRequest, Refund
    from tillbook.payments.providers import enabled_providers

    business = seed_demo()
    with business_scope(business):
        assert [p.name for p in enabled_providers(business=business)] == ["sandbox", "manual"]
        assert PaymentRequest.objects.filter(purpose="link").count() == 5
        # Payment links' payments (the shop's orders add their own, see tests/orders).
        links = Payment.objects.filter(request__purpose="link")
        assert links.filter(state="succeeded", provider="sandbox").count() == 36
        assert links.filter(state="succeeded", provider="manual").count() == 2
        assert Refund.objects.filter(payment__request__purpose="link").count() == 1


@pytest.mark.django_db
def test_demo_customers_signed_up_before_they_first_bought_or_booked() -> None:
    """A customer page said "customer since" after the customer's first order or payment."""
    from django.db.models import Min
    from django.db.models.functions import Lower

    from tillbook.orders.models import Order
    from tillbook.payments.models import Payment
    from tillbook.scheduling.models import Booking

    business = seed_demo()
    with business_scope(business):
        since = {
            email.lower(): (created, consent)
            for email, created, consent in Customer.objects.values_list(
                "email", "created_at", "consent_at"
            )
        }
        firsts = list(
            Payment.objects.filter(state="succeeded")
            .exclude(customer_email="")
            .values(key=Lower("customer_email"))
            .annotate(first=Min("succeeded_at"))
            .values_list("key", "first")
        )
        for model in (Order, Booking):
            firsts += list(
                model.objects.filter(customer__isnull=False)
                .values(key=Lower("customer__email"))
                .annotate(first=Min("created_at"))
                .values_list("key", "first")
            )
    known = [(email, first) for email, first in firsts if email in since]
    assert len(known) > 100  # the check covers most of the demo's buyers
    late = [email for email, first in known if since[email][0] > first]
    assert late == []
    assert all(consent is None or consent == created for created, consent in since.values())
