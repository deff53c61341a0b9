"""The catalog: offerings of every kind, their prices, taxes, capacity and what a buyer gets.

Capacity is one idea for every kind: a `Quota` of places. A ticket type draws from a quota
(several types may share one), a product variant has its own quota (its stock). Orders count
what they hold against quotas (orders.capacity); a quota of None places means unlimited.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from tillbook.catalog.storage import private_storage
from tillbook.core.money import Money
from tillbook.core.scoping import TenantModel


class OversoldPolicy(models.TextChoices):
    KEEP = "keep", "Keep the order and alert me"
    REFUND = "refund", "Refund the buyer automatically"


class ShopSettings(TenantModel):
    """How a business sells: taxes, reservations, and what happens to a payment without place."""

    prices_include_tax = models.BooleanField(
        default=False, help_text="Prices you enter already include tax (common in the EU/UK)."
    )
    reservation_minutes = models.PositiveIntegerField(
        default=15, help_text="How long an unpaid checkout holds its tickets or stock."
    )
    oversold_policy = models.CharField(
        max_length=10, choices=OversoldPolicy.choices, default=OversoldPolicy.KEEP
    )
    pickup_instructions = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["business"], name="shop_settings_one_per_business")
        ]

    def __str__(self) -> str:
        return f"Shop settings of {self.business_id}"


class TaxClass(TenantModel):
    name = models.CharField(max_length=80)
    # Percent, e.g. 8.250 for 8.25 %.
    rate = models.DecimalField(max_digits=6, decimal_places=3)

    class Meta:
        ordering: ClassVar = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.rate.normalize()} %)"

    @property
    def fraction(self) -> Decimal:
        return self.rate / Decimal(100)


class OfferingKind(models.TextChoices):
    PHYSICAL = "physical", "Physical product"
    DOWNLOAD = "download", "Digital download"
    COURSE = "course", "Course or content"
    TICKET = "ticket", "Event tickets"
    # Bookable services: their behaviour (availability, booking) belongs to scheduling.
    SERVICE = "service", "Bookable service"


class OfferingState(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    HIDDEN = "hidden", "Hidden (link only)"


class Offering(TenantModel):
    kind = models.CharField(max_length=10, choices=OfferingKind.choices)
    state = models.CharField(
        max_length=10, choices=OfferingState.choices, default=OfferingState.DRAFT
    )
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80)
    summary = models.CharField(
        max_length=300, blank=True, help_text="One or two sentences; also the search snippet."
    )
    # Sanitised HTML (nh3) — what the owner wrote, without scripts or styles.
    description = models.TextField(blank=True)
    currency = models.CharField(max_length=3)
    price = models.BigIntegerField(default=0)  # minor units
    tax_class = models.ForeignKey(
        TaxClass, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    max_per_order = models.PositiveIntegerField(default=10)
    # Downloads: both set per offering.
    download_limit = models.PositiveIntegerField(default=5)
    download_days = models.PositiveIntegerField(default=30)
    position = models.IntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["position", "title"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["business", "slug"], name="offering_slug_unique"),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="offering_price_gte_0"),
        ]
        indexes: ClassVar = [models.Index(fields=["business", "state"], name="offering_state_idx")]

    def __str__(self) -> str:
        return self.title

    @property
    def money(self) -> Money:
        return Money(self.price, self.currency)

    @property
    def is_buyable(self) -> bool:
        return self.state in (OfferingState.PUBLISHED, OfferingState.HIDDEN) and self.kind != (
            OfferingKind.SERVICE
        )

    @property
    def ships(self) -> bool:
        return self.kind == OfferingKind.PHYSICAL


class Quota(TenantModel):
    """A number of places (tickets) or items (stock). None = unlimited."""

    offering = models.ForeignKey(
        Offering, on_delete=models.CASCADE, related_name="quotas", null=True, blank=True
    )
    name = models.CharField(max_length=100)
    size = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({'unlimited' if self.size is None else self.size})"


class Variant(TenantModel):
    """A version of a physical product (size, colour) with its own stock."""

    offering = models.ForeignKey(Offering, on_delete=models.CASCADE, related_name="variants")
    name = models.CharField(max_length=100)
    sku = models.CharField(max_length=64, blank=True)
    price = models.BigIntegerField(null=True, blank=True, help_text="Empty: the product's price")
    quota = models.OneToOneField(
        Quota, on_delete=models.PROTECT, null=True, blank=True, related_name="variant"
    )
    position = models.IntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering: ClassVar = ["position", "pk"]

    def __str__(self) -> str:
        return self.name


class Event(TenantModel):
    offering = models.OneToOneField(Offering, on_delete=models.CASCADE, related_name="event")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64)
    venue_name = models.CharField(max_length=200, blank=True)
    venue_address = models.CharField(max_length=300, blank=True)
    online_url = models.URLField(blank=True)

    def __str__(self) -> str:
        return f"{self.offering.title} at {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def is_online(self) -> bool:
        return bool(self.online_url) and not self.venue_name

    def local_start(self) -> datetime:
        import zoneinfo

        return self.starts_at.astimezone(zoneinfo.ZoneInfo(self.timezone))


class TicketType(TenantModel):
    offering = models.ForeignKey(Offering, on_delete=models.CASCADE, related_name="ticket_types")
    name = models.CharField(max_length=100)
    price = models.BigIntegerField(null=True, blank=True, help_text="Empty: the event's price")
    quota = models.ForeignKey(
        Quota, on_delete=models.PROTECT, null=True, blank=True, related_name="ticket_types"
    )
    position = models.IntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering: ClassVar = ["position", "pk"]

    def __str__(self) -> str:
        return self.name


class ShippingRate(TenantModel):
    """A flat rate for a zone (a list of countries, or everywhere else), or local pickup."""

    name = models.CharField(max_length=100)
    countries = models.CharField(
        max_length=500, blank=True, help_text="ISO codes separated by commas; empty = anywhere"
    )
    amount = models.BigIntegerField(default=0)
    is_pickup = models.BooleanField(default=False)
    position = models.IntegerField(default=0)

    class Meta:
        ordering: ClassVar = ["position", "pk"]

    def __str__(self) -> str:
        return self.name

    def country_list(self) -> list[str]:
        return [c.strip().upper() for c in self.countries.split(",") if c.strip()]

    def serves(self, country: str) -> bool:
        if self.is_pickup:
            return True
        codes = self.country_list()
        return not codes or country.upper() in codes


class Lesson(TenantModel):
    offering = models.ForeignKey(Offering, on_delete=models.CASCADE, related_name="lessons")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)  # sanitised HTML
    video_url = models.URLField(blank=True)
    position = models.IntegerField(default=0)

    class Meta:
        ordering: ClassVar = ["position", "pk"]

    def __str__(self) -> str:
        return self.title


class DigitalFile(TenantModel):
    """A file a buyer receives: a download, or a lesson's attachment. Never publicly served."""

    offering = models.ForeignKey(Offering, on_delete=models.CASCADE, related_name="files")
    lesson = models.ForeignKey(
        Lesson, on_delete=models.CASCADE, null=True, blank=True, related_name="files"
    )
    name = models.CharField(max_length=200)
    file = models.FileField(upload_to="files/%Y/%m/", storage=private_storage, max_length=300)
    size = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["pk"]

    def __str__(self) -> str:
        return self.name


class DiscountKind(models.TextChoices):
    PERCENT = "percent", "Percent off"
    FIXED = "fixed", "Fixed amount off"


class DiscountCode(TenantModel):
    code = models.CharField(max_length=40)
    kind = models.CharField(max_length=10, choices=DiscountKind.choices)
    # Percent: whole percent 1–100. Fixed: minor units of the business currency.
    value = models.BigIntegerField()
    offering = models.ForeignKey(
        Offering,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty: every offering",
    )
    max_uses = models.PositiveIntegerField(null=True, blank=True)
    times_used = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["code"]
        constraints: ClassVar = [
            models.UniqueConstraint("business", Lower("code"), name="discount_code_unique_ci"),
            models.CheckConstraint(condition=models.Q(value__gt=0), name="discount_value_gt_0"),
        ]

    def __str__(self) -> str:
        return self.code
