"""Customers of one business: who they are, whether they agreed to marketing, and how."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from tillbook.core.scoping import TenantModel


class Tag(TenantModel):
    name = models.CharField(max_length=50)

    class Meta:
        ordering: ClassVar = ["name"]
        constraints: ClassVar = [
            models.UniqueConstraint("business", Lower("name"), name="tag_name_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.name


class ConsentSource(models.TextChoices):
    STAFF = "staff", "Added by staff"
    IMPORT = "import", "Imported"
    API = "api", "API"
    CHECKOUT = "checkout", "Checkout"
    BOOKING = "booking", "Booking"
    SIGNUP = "signup", "Sign-up form"


class Customer(TenantModel):
    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=200, blank=True)
    # E.164 (+14155550123), validated with phonenumbers.
    phone = models.CharField(max_length=20, blank=True)
    marketing_consent = models.BooleanField(default=False)
    consent_at = models.DateTimeField(null=True, blank=True)
    consent_source = models.CharField(max_length=20, choices=ConsentSource.choices, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="customers")
    notes = models.TextField(blank=True)
    # First-party attribution (customers.attribution): the first and latest visit that led to
    # a purchase, each {"landing", "referrer", "at", "utm_source", …}. The first touch is set
    # once; its source, medium and campaign are copied into columns for grouping in reports.
    first_touch = models.JSONField(default=dict, blank=True)
    latest_touch = models.JSONField(default=dict, blank=True)
    acquisition_source = models.CharField(max_length=200, blank=True)
    acquisition_medium = models.CharField(max_length=200, blank=True)
    acquisition_campaign = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["name", "email"]
        constraints: ClassVar = [
            # Case-insensitive: Ann@Example.com and ann@example.com are one customer.
            models.UniqueConstraint("business", Lower("email"), name="customer_email_unique_ci"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["business", "created_at"], name="customer_created_idx"),
            models.Index(fields=["business", "name"], name="customer_name_idx"),
        ]

    def __str__(self) -> str:
        return self.name or self.email

    @property
    def display_name(self) -> str:
        return self.name or self.email
