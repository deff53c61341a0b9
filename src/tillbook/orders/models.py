"""Orders: what a buyer bought, frozen at the moment of buying, and what they received.

An order's lines are snapshots (title, unit price, tax, discount): editing the catalog later
never changes a past order. A line that draws on a quota records whether it holds a place
(`capacity_state`) and until when an unpaid reservation lasts, so capacity is counted from one
table in one statement (orders.capacity).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.utils import timezone

from tillbook.core.money import Money
from tillbook.core.scoping import TenantModel


class OrderState(models.TextChoices):
    PENDING = "pending", "Awaiting payment"
    PAID = "paid", "Paid"
    FULFILLED = "fulfilled", "Fulfilled"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
    REFUNDED = "refunded", "Refunded"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


# The state machine: from → the states it may move to.
TRANSITIONS: dict[str, frozenset[str]] = {
    OrderState.PENDING: frozenset(
        {OrderState.PAID, OrderState.FULFILLED, OrderState.EXPIRED, OrderState.CANCELLED}
    ),
    # A payment may still arrive after the reservation expired or staff cancelled.
    OrderState.EXPIRED: frozenset({OrderState.PAID, OrderState.FULFILLED}),
    OrderState.CANCELLED: frozenset({OrderState.PAID, OrderState.FULFILLED}),
    OrderState.PAID: frozenset(
        {OrderState.FULFILLED, OrderState.PARTIALLY_REFUNDED, OrderState.REFUNDED}
    ),
    OrderState.FULFILLED: frozenset({OrderState.PARTIALLY_REFUNDED, OrderState.REFUNDED}),
    OrderState.PARTIALLY_REFUNDED: frozenset({OrderState.PARTIALLY_REFUNDED, OrderState.REFUNDED}),
    OrderState.REFUNDED: frozenset(),
}

PAID_STATES = frozenset(
    {OrderState.PAID, OrderState.FULFILLED, OrderState.PARTIALLY_REFUNDED, OrderState.REFUNDED}
)


class OrderCounter(TenantModel):
    """The next order number of a business (unique, not necessarily gapless)."""

    next_number = models.PositiveIntegerField(default=1001)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["business"], name="order_counter_one_per_business")
        ]

    def __str__(self) -> str:
        return f"next order {self.next_number}"


class Order(TenantModel):
    number = models.PositiveIntegerField()
    # Mixed into an HMAC for the secret status-page URL (see orders.links); not a secret alone.
    access_salt = models.CharField(max_length=32)
    state = models.CharField(max_length=20, choices=OrderState.choices, default=OrderState.PENDING)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    email = models.EmailField()
    name = models.CharField(max_length=200)
    phone = models.CharField(max_length=40, blank=True)
    shipping_address = models.JSONField(default=dict, blank=True)
    shipping_method = models.CharField(max_length=100, blank=True)
    is_pickup = models.BooleanField(default=False)
    currency = models.CharField(max_length=3)
    subtotal = models.BigIntegerField(default=0)
    discount_total = models.BigIntegerField(default=0)
    shipping_total = models.BigIntegerField(default=0)
    tax_total = models.BigIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    refunded_total = models.BigIntegerField(default=0)
    prices_include_tax = models.BooleanField(default=False)
    discount_code = models.ForeignKey(
        "catalog.DiscountCode", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    discount_code_text = models.CharField(max_length=40, blank=True)
    payment_request = models.OneToOneField(
        "payments.PaymentRequest",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reserved_until = models.DateTimeField(null=True, blank=True)
    # A payment arrived but some of what it paid for had no place left (REFERENCE.md, pretix #74).
    capacity_shortfall = models.BooleanField(default=False)
    shortfall_resolved_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=20, default="storefront")
    # First-party attribution: {"first": {...}, "latest": {...}} touches (landing, referrer, utm_*).
    attribution = models.JSONField(default=dict, blank=True)
    utm_source = models.CharField(max_length=200, blank=True)
    utm_medium = models.CharField(max_length=200, blank=True)
    utm_campaign = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["business", "number"], name="order_number_unique"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["business", "-created_at"], name="order_created_idx"),
            models.Index(fields=["state", "reserved_until"], name="order_reserved_idx"),
            models.Index(fields=["business", "email"], name="order_email_idx"),
        ]

    def __str__(self) -> str:
        return f"Order {self.number}"

    def money(self, amount: int) -> Money:
        return Money(amount, self.currency)

    @property
    def total_money(self) -> Money:
        return Money(self.total, self.currency)

    @property
    def is_paid(self) -> bool:
        return self.state in PAID_STATES

    @property
    def ships(self) -> bool:
        return bool(self.shipping_address) or bool(self.shipping_method)


class CapacityState(models.TextChoices):
    NONE = "none", "No capacity"
    RESERVED = "reserved", "Reserved"
    SOLD = "sold", "Sold"
    RELEASED = "released", "Released"
    # Paid, but there was no place left when the payment arrived.
    SHORT = "short", "Paid without place"


class ImmutableLine(Exception):
    pass


class OrderLine(TenantModel):
    SNAPSHOT_FIELDS: ClassVar[tuple[str, ...]] = (
        "kind",
        "title",
        "variant_name",
        "unit_price",
        "quantity",
        "discount",
        "tax_rate",
        "tax_amount",
        "total",
    )

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    offering = models.ForeignKey(
        "catalog.Offering", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    variant = models.ForeignKey(
        "catalog.Variant", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ticket_type = models.ForeignKey(
        "catalog.TicketType", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=10)
    title = models.CharField(max_length=200)
    variant_name = models.CharField(max_length=100, blank=True)
    unit_price = models.BigIntegerField()
    quantity = models.PositiveIntegerField()
    discount = models.BigIntegerField(default=0)
    tax_rate = models.DecimalField(max_digits=6, decimal_places=3, default=0)
    tax_amount = models.BigIntegerField(default=0)
    total = models.BigIntegerField()  # what the buyer pays for this line, tax included
    quota = models.ForeignKey(
        "catalog.Quota", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    capacity_state = models.CharField(
        max_length=10, choices=CapacityState.choices, default=CapacityState.NONE
    )
    # Copied from the order so capacity is counted from this table alone.
    reserved_until = models.DateTimeField(null=True, blank=True)
    # Places of a sold line given back by refunds that paid for only some of them; the line
    # holds quantity - released_quantity (all of it is released when the state says so).
    released_quantity = models.PositiveIntegerField(default=0)

    class Meta:
        ordering: ClassVar = ["pk"]
        indexes: ClassVar = [
            models.Index(fields=["quota", "capacity_state"], name="line_capacity_idx"),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="line_quantity_gte_1"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.title}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Lines are snapshots: once written, what was sold and at what price never changes.
        if self.pk is not None:
            fields = kwargs.get("update_fields")
            if fields is None or set(fields) & set(self.SNAPSHOT_FIELDS):
                raise ImmutableLine("An order line's snapshot cannot be changed.")
        super().save(*args, **kwargs)

    @property
    def label(self) -> str:
        return f"{self.title} — {self.variant_name}" if self.variant_name else self.title

    def money(self, amount: int) -> Money:
        return Money(amount, self.order.currency)


class OrderEventKind(models.TextChoices):
    CREATED = "created", "Created"
    PAID = "paid", "Paid"
    PAYMENT = "payment", "Payment received"
    EMAILED = "emailed", "Emailed"
    REFUNDED = "refunded", "Refunded"
    CHECKED_IN = "checked_in", "Checked in"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"
    FULFILLED = "fulfilled", "Fulfilled"
    SHORTFALL = "shortfall", "Paid but no place"
    NOTE = "note", "Note"


class OrderEvent(TenantModel):
    """The order's timeline in the back office."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=OrderEventKind.choices)
    message = models.CharField(max_length=300)
    actor_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.message


class Ticket(TenantModel):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="tickets")
    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="tickets")
    event = models.ForeignKey("catalog.Event", on_delete=models.PROTECT, related_name="tickets")
    ticket_type_name = models.CharField(max_length=100)
    attendee_name = models.CharField(max_length=200)
    attendee_email = models.EmailField(blank=True)
    # Mixed into the HMAC of the signed check-in URL.
    secret = models.CharField(max_length=32)
    is_valid = models.BooleanField(default=True)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    checked_in_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["pk"]
        indexes: ClassVar = [
            models.Index(fields=["event", "attendee_name"], name="ticket_event_idx")
        ]

    def __str__(self) -> str:
        return f"Ticket {self.pk} for {self.attendee_name}"


class DownloadGrant(TenantModel):
    """The right to download an offering's files: a limit of downloads before a date."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="download_grants")
    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="download_grants")
    offering = models.ForeignKey("catalog.Offering", on_delete=models.CASCADE, related_name="+")
    max_downloads = models.PositiveIntegerField()
    downloads_used = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField()
    is_revoked = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["pk"]

    def __str__(self) -> str:
        return f"{self.downloads_used}/{self.max_downloads} downloads"

    @property
    def remaining(self) -> int:
        return max(self.max_downloads - self.downloads_used, 0)
