"""Bookable services, the people and rooms that provide them, their hours, and bookings.

A service is defined here for now; when the catalog (offerings of every kind) lands on main,
`catalog_offering_id` links a service to its offering without moving these rules.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import ClassVar

from django.db import models
from django.utils import timezone

from tillbook.core.money import Money
from tillbook.core.scoping import TenantModel
from tillbook.scheduling.availability import SlotRules


class LocationKind(models.TextChoices):
    VIDEO = "video", "Video call"
    PHONE = "phone", "Phone call"
    BUSINESS = "business", "At our address"
    CUSTOMER = "customer", "At the customer's address"


class PaymentMode(models.TextChoices):
    FULL = "full", "Pay in full when booking"
    DEPOSIT_FIXED = "deposit_fixed", "Fixed deposit, balance later"
    DEPOSIT_PERCENT = "deposit_percent", "Percentage deposit, balance later"
    LATER = "later", "Pay later"


class Resource(TenantModel):
    """Something a service needs besides a person: a room, a chair, a van."""

    name = models.CharField(max_length=100)

    class Meta:
        ordering: ClassVar = ["name"]

    def __str__(self) -> str:
        return self.name


class StaffMember(TenantModel):
    """A bookable person, with their own time zone. Often a back-office login, not always."""

    user = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    name = models.CharField(max_length=150)
    email = models.EmailField(blank=True)
    timezone = models.CharField(max_length=64)
    is_active = models.BooleanField(default=True)
    # SHA-256 of the secret in the private calendar feed URL (.ics subscription).
    feed_token_hash = models.CharField(max_length=64, blank=True, db_index=True)

    class Meta:
        ordering: ClassVar = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class WeeklyHours(TenantModel):
    """One working range on a weekday, in the staff member's wall-clock time."""

    staff = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="weekly_hours")
    weekday = models.PositiveSmallIntegerField()  # 0 = Monday
    start_minute = models.PositiveSmallIntegerField()
    end_minute = models.PositiveSmallIntegerField()

    class Meta:
        ordering: ClassVar = ["weekday", "start_minute"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(weekday__lte=6)
                & models.Q(start_minute__lt=models.F("end_minute"))
                & models.Q(end_minute__lte=1440),
                name="weekly_hours_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.weekday}: {self.start_minute}–{self.end_minute}"


class DateOverride(TenantModel):
    """Hours for one date instead of the weekday's; a row without minutes is a day off."""

    staff = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="overrides")
    date = models.DateField()
    start_minute = models.PositiveSmallIntegerField(null=True, blank=True)
    end_minute = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["date", "start_minute"]

    def __str__(self) -> str:
        return f"{self.date}: {self.start_minute}–{self.end_minute}"


class Service(TenantModel):
    name = models.CharField(max_length=150)
    slug = models.SlugField(max_length=60)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    # Set when the catalog app links this service to an offering of kind "service".
    catalog_offering_id = models.CharField(max_length=64, blank=True)
    staff = models.ManyToManyField(StaffMember, related_name="services", blank=True)
    resource = models.ForeignKey(
        Resource, on_delete=models.PROTECT, null=True, blank=True, related_name="services"
    )
    # Where it happens.
    location_kind = models.CharField(
        max_length=10, choices=LocationKind.choices, default=LocationKind.VIDEO
    )
    location_detail = models.CharField(max_length=300, blank=True)
    # Service area for on-site services: postal codes, or a radius around a base point the
    # owner types in (no geocoding service is called).
    service_postal_codes = models.TextField(blank=True)
    base_latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    base_longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    service_radius_km = models.PositiveIntegerField(null=True, blank=True)
    travel_minutes = models.PositiveIntegerField(default=0)
    # Money.
    payment_mode = models.CharField(
        max_length=16, choices=PaymentMode.choices, default=PaymentMode.FULL
    )
    deposit_amount = models.BigIntegerField(default=0)  # minor units, for a fixed deposit
    deposit_percent = models.PositiveSmallIntegerField(default=0)
    # Rules of the calendar.
    buffer_before_minutes = models.PositiveIntegerField(default=0)
    buffer_after_minutes = models.PositiveIntegerField(default=0)
    min_notice_minutes = models.PositiveIntegerField(default=240)
    horizon_days = models.PositiveIntegerField(default=60)
    interval_minutes = models.PositiveIntegerField(default=30)
    max_per_day = models.PositiveIntegerField(null=True, blank=True)
    max_per_week = models.PositiveIntegerField(null=True, blank=True)
    capacity = models.PositiveIntegerField(default=1)
    # The cancellation policy (copied onto each booking when it is made).
    cancel_window_hours = models.PositiveIntegerField(default=24)
    late_cancel_fee_percent = models.PositiveSmallIntegerField(default=100)
    # Reminders, minutes before the start.
    reminder_offsets = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["name"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["business", "slug"], name="service_slug_unique"),
            models.CheckConstraint(condition=models.Q(capacity__gte=1), name="service_capacity"),
            models.CheckConstraint(
                condition=models.Q(interval_minutes__gte=5), name="service_interval"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_group(self) -> bool:
        return self.capacity > 1

    def rules(self, duration_minutes: int) -> SlotRules:
        return SlotRules(
            duration=timedelta(minutes=duration_minutes),
            interval=timedelta(minutes=self.interval_minutes),
            min_notice=timedelta(minutes=self.min_notice_minutes),
            horizon=timedelta(days=self.horizon_days),
            buffer_before=timedelta(minutes=self.buffer_before_minutes),
            buffer_after=timedelta(minutes=self.buffer_after_minutes),
            travel=timedelta(minutes=self.travel_minutes),
            max_per_day=self.max_per_day,
            max_per_week=self.max_per_week,
            capacity=self.capacity,
        )


class ServiceDuration(TenantModel):
    """One length a service can be booked for, and its price (per seat for group sessions)."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="durations")
    minutes = models.PositiveIntegerField()
    price = models.BigIntegerField()  # minor units
    currency = models.CharField(max_length=3)

    class Meta:
        ordering: ClassVar = ["minutes"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["service", "minutes"], name="service_duration_unique"),
            models.CheckConstraint(condition=models.Q(minutes__gt=0), name="duration_positive"),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="duration_price"),
        ]

    def __str__(self) -> str:
        return f"{self.minutes} min"

    @property
    def money(self) -> Money:
        return Money(self.price, self.currency)


class QuestionKind(models.TextChoices):
    TEXT = "text", "Text"
    CHOICE = "choice", "Choice"


class IntakeQuestion(TenantModel):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="questions")
    label = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=QuestionKind.choices, default=QuestionKind.TEXT)
    choices = models.JSONField(default=list, blank=True)
    is_required = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering: ClassVar = ["position", "id"]

    def __str__(self) -> str:
        return self.label


class BookingState(models.TextChoices):
    HELD = "held", "Held"
    AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
    CONFIRMED = "confirmed", "Confirmed"
    COMPLETED = "completed", "Completed"
    NO_SHOW = "no_show", "No-show"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


# Bookings that take place or took place (kept): what the insights count and time.
KEPT_STATES = (BookingState.CONFIRMED, BookingState.COMPLETED, BookingState.NO_SHOW)
# A one-to-one booking's session key: this prefix and a key of its own (booking_hold), so it
# shares its time with no other booking. Group sessions' keys: selectors.group_session_key.
ONE_TO_ONE_KEY = "b:"

# States whose time nobody else may take (DESIGN.md, the time model). Used by the exclusion
# constraints in migration 0002 too: keep both in step.
BLOCKING_STATES = (BookingState.HELD, BookingState.AWAITING_PAYMENT, BookingState.CONFIRMED)

# What a booking's payment requests are for (scheduling.purposes): the payment that confirms
# it, in full or a deposit, and later charges (its balance, a no-show fee). A booking's
# requests are those of these purposes whose purpose_id is the booking's id.
BOOKING_PURPOSE = "booking"
BOOKING_CHARGE_PURPOSE = "booking_charge"
BOOKING_PURPOSES = (BOOKING_PURPOSE, BOOKING_CHARGE_PURPOSE)


class Booking(TenantModel):
    # Stable across reschedules: the calendar file's UID.
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="bookings")
    staff = models.ForeignKey(StaffMember, on_delete=models.PROTECT, related_name="bookings")
    resource = models.ForeignKey(
        Resource, on_delete=models.PROTECT, null=True, blank=True, related_name="bookings"
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    state = models.CharField(max_length=20, choices=BookingState.choices)
    start = models.DateTimeField()
    end = models.DateTimeField()
    # [start - buffer before - travel, end + buffer after): what the exclusion constraint
    # compares, computed once from the service's rules at booking time.
    blocking_start = models.DateTimeField()
    blocking_end = models.DateTimeField()
    # Bookings with the same key share their time (seats of one group session); a one-to-one
    # booking has a key of its own, so it overlaps nothing.
    session_key = models.CharField(max_length=80)
    seats = models.PositiveIntegerField(default=1)
    duration_minutes = models.PositiveIntegerField()
    # Money, copied from the service when booked (minor units): the total, what is due now.
    currency = models.CharField(max_length=3)
    price = models.BigIntegerField()
    deposit = models.BigIntegerField(default=0)
    payment_mode = models.CharField(max_length=16, choices=PaymentMode.choices)
    payment_request = models.ForeignKey(
        "payments.PaymentRequest",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # The cancellation policy as it was when the customer booked.
    cancel_window_hours = models.PositiveIntegerField()
    late_cancel_fee_percent = models.PositiveSmallIntegerField()
    reminder_offsets = models.JSONField(default=list, blank=True)
    # Where, for this booking.
    location_kind = models.CharField(max_length=10, choices=LocationKind.choices)
    location_text = models.CharField(max_length=300, blank=True)
    customer_timezone = models.CharField(max_length=64, default="UTC")
    # The UTM campaign of the visit that led to the booking (kept when it is made), so its
    # payment counts for that campaign on the dashboard.
    utm_campaign = models.CharField(max_length=200, blank=True)
    answers = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True)
    hold_expires_at = models.DateTimeField(null=True, blank=True)
    # RFC 5545 SEQUENCE: incremented on every reschedule and on cancellation.
    sequence = models.PositiveIntegerField(default=0)
    # Reminders count their lead time from here (confirmation or last reschedule).
    scheduled_at = models.DateTimeField(null=True, blank=True)
    # A payment that arrived after the hold ran out and the time was gone: staff must act.
    paid_without_time = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True)
    cancellation_fee = models.BigIntegerField(default=0)

    class Meta:
        ordering: ClassVar = ["start", "id"]
        indexes: ClassVar = [
            models.Index(fields=["business", "staff", "blocking_start"], name="booking_staff_idx"),
            models.Index(fields=["business", "state", "start"], name="booking_state_idx"),
            models.Index(fields=["state", "hold_expires_at"], name="booking_hold_idx"),
            # Class seats that took or will take place: the insights group them per session
            # (booked time) without reading one-to-one bookings, the great majority.
            models.Index(
                fields=["business", "start"],
                include=["staff", "session_key", "duration_minutes"],
                condition=models.Q(state__in=KEPT_STATES)
                & ~models.Q(session_key__startswith=ONE_TO_ONE_KEY),
                name="booking_class_seat_idx",
            ),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(start__lt=models.F("end"))
                & models.Q(blocking_start__lte=models.F("start"))
                & models.Q(blocking_end__gte=models.F("end")),
                name="booking_times_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service} at {self.start:%Y-%m-%d %H:%M} UTC ({self.state})"

    @property
    def is_blocking(self) -> bool:
        return self.state in BLOCKING_STATES

    def hold_has_run_out(self, now: datetime) -> bool:
        """Held or awaiting payment past its time: no longer the customer's time (other
        bookings may take it), though it stays in its state until it is expired
        (booking_expire_due, or a new hold in its way)."""
        return (
            self.state in (BookingState.HELD, BookingState.AWAITING_PAYMENT)
            and self.hold_expires_at is not None
            and self.hold_expires_at <= now
        )

    @property
    def total(self) -> Money:
        return Money(self.price, self.currency)

    @property
    def deposit_money(self) -> Money:
        return Money(self.deposit, self.currency)


class BookingLink(TenantModel):
    """A secret link for the customer to manage one booking. Rescheduling replaces it, so a
    link used once to reschedule cannot be replayed."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    replaced_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"link for booking {self.booking_id}"


class BookingEvent(TenantModel):
    """The booking's history, shown in the back office."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30)
    summary = models.CharField(max_length=300)
    actor_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["created_at", "id"]

    def __str__(self) -> str:
        return self.summary


class BusySource(models.TextChoices):
    MANUAL = "manual", "Blocked by staff"
    IMPORT = "import", "Imported calendar"


class TimeBlock(TenantModel):
    """Time a staff member is not bookable: blocked by hand or imported from their calendar."""

    staff = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="blocks")
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=10, choices=BusySource.choices, default=BusySource.MANUAL)
    calendar_import = models.ForeignKey(
        "CalendarImport", on_delete=models.CASCADE, null=True, blank=True, related_name="blocks"
    )

    class Meta:
        ordering: ClassVar = ["start"]
        indexes: ClassVar = [
            models.Index(fields=["business", "staff", "start"], name="timeblock_staff_idx")
        ]

    def __str__(self) -> str:
        return f"{self.staff}: {self.start}–{self.end}"


class CalendarImport(TenantModel):
    """Busy times pulled from a staff member's own calendar (.ics URL), in the background."""

    staff = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="imports")
    url = models.URLField(max_length=1000)
    last_fetched_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    busy_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.url
