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
        assert Payment.objects.filter(state="succeeded", provider="sandbox").count() == 36
        assert Payment.objects.filter(state="succeeded", provider="manual").count() == 2
        assert Refund.objects.filter(source="live").count() == 1  # imported history has its own
