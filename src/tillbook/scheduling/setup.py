"""Writes that set up what can be booked: staff members and their hours, services."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from tillbook.core.audit import audit_record
from tillbook.core.errors import Conflict, InvalidInput, as_typed
from tillbook.core.models import Business, User
from tillbook.core.money import Money
from tillbook.core.tokens import hash_secret, new_secret
from tillbook.core.validation import validate_timezone
from tillbook.scheduling.models import (
    DateOverride,
    IntakeQuestion,
    LocationKind,
    PaymentMode,
    Service,
    ServiceDuration,
    StaffMember,
    WeeklyHours,
)

MinuteRange = tuple[int, int]


def _check_ranges(ranges: Iterable[MinuteRange]) -> list[MinuteRange]:
    checked = []
    for start, end in ranges:
        if not (0 <= start < end <= 1440):
            raise InvalidInput(
                "Each range of hours must start before it ends, within one day (00:00–24:00).",
                field_errors={"hours": ["Invalid range."]},
            )
        checked.append((start, end))
    return sorted(checked)


def staff_member_create(
    *,
    business: Business,
    name: str,
    timezone_name: str,
    email: str = "",
    user: User | None = None,
    actor: User | None = None,
) -> StaffMember:
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput("A staff member needs a name.", field_errors={"name": ["Required."]})
    member = StaffMember(
        business=business,
        name=name[:150],
        email=email,
        user=user,
        timezone=validate_timezone(timezone_name),
    )
    with transaction.atomic():
        member.save()
        audit_record(
            business=business,
            actor=actor,
            action="staff_member.create",
            summary=f"Added {member.name} to the calendar",
            target=member,
        )
    return member


def staff_hours_set(
    *, staff: StaffMember, weekly: Mapping[int, Sequence[MinuteRange]], actor: User | None = None
) -> StaffMember:
    """Replace the weekly hours: {0 (Monday): [(540, 720), (780, 1020)], …}."""
    rows = []
    for weekday, ranges in weekly.items():
        if weekday not in range(7):
            raise InvalidInput(f"{as_typed(weekday)} is not a weekday (0 = Monday … 6 = Sunday).")
        rows += [
            WeeklyHours(
                business=staff.business, staff=staff, weekday=weekday, start_minute=s, end_minute=e
            )
            for s, e in _check_ranges(ranges)
        ]
    with transaction.atomic():
        WeeklyHours.objects.filter(staff=staff).delete()
        WeeklyHours.objects.bulk_create(rows)
        audit_record(
            business=staff.business,
            actor=actor,
            action="staff_member.hours",
            summary=f"Set the weekly hours of {staff.name}",
            target=staff,
        )
    return staff


def staff_date_set(
    *, staff: StaffMember, day: date, ranges: Sequence[MinuteRange], actor: User | None = None
) -> None:
    """Hours for one date instead of the weekday's; no ranges makes it a day off."""
    checked = _check_ranges(ranges)
    with transaction.atomic():
        DateOverride.objects.filter(staff=staff, date=day).delete()
        rows = [
            DateOverride(
                business=staff.business, staff=staff, date=day, start_minute=s, end_minute=e
            )
            for s, e in checked
        ] or [DateOverride(business=staff.business, staff=staff, date=day)]
        DateOverride.objects.bulk_create(rows)
        audit_record(
            business=staff.business,
            actor=actor,
            action="staff_member.date",
            summary=f"Set {day:%d %b %Y} for {staff.name}: "
            + (
                ", ".join(
                    f"{s // 60:02d}:{s % 60:02d}–{e // 60:02d}:{e % 60:02d}" for s, e in checked
                )
                or "day off"
            ),
            target=staff,
        )


def staff_feed_token_rotate(*, staff: StaffMember) -> str:
    """A new secret for the staff member's calendar feed URL; the old URL stops working."""
    secret = new_secret(24)
    staff.feed_token_hash = hash_secret(secret)
    staff.save(update_fields=["feed_token_hash"])
    return secret


SERVICE_FIELDS = {
    "description", "location_kind", "location_detail", "service_postal_codes", "base_latitude",
    "base_longitude", "service_radius_km", "travel_minutes", "payment_mode", "deposit_amount",
    "deposit_percent", "buffer_before_minutes", "buffer_after_minutes", "min_notice_minutes",
    "horizon_days", "interval_minutes", "max_per_day", "max_per_week", "capacity",
    "cancel_window_hours", "late_cancel_fee_percent", "reminder_offsets", "resource",
    "is_active",
}  # fmt: skip


def service_create(
    *,
    business: Business,
    name: str,
    durations: Sequence[tuple[int, Money]],
    staff: Sequence[StaffMember],
    slug: str = "",
    questions: Sequence[dict[str, Any]] = (),
    actor: User | None = None,
    **options: Any,
) -> Service:
    """A bookable service with its lengths and prices (per seat for group sessions)."""
    unknown = set(options) - SERVICE_FIELDS
    if unknown:
        raise InvalidInput(f"Unknown service settings: {', '.join(sorted(unknown))}.")
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput("A service needs a name.", field_errors={"name": ["Required."]})
    if not durations:
        raise InvalidInput("A service needs at least one length with a price.")
    for minutes, price in durations:
        if minutes <= 0 or minutes > 24 * 60:
            raise InvalidInput(f"{minutes} minutes is not a length a service can have.")
        if price.currency != business.currency or price.amount < 0:
            raise InvalidInput(f"Prices are in {business.currency} and not negative.")
    if options.get("location_kind", LocationKind.VIDEO) not in LocationKind.values:
        raise InvalidInput("Unknown kind of location.")
    if options.get("payment_mode", PaymentMode.FULL) not in PaymentMode.values:
        raise InvalidInput("Unknown payment mode.")
    if not 0 <= int(options.get("deposit_percent", 0)) <= 100:
        raise InvalidInput("A deposit percentage is between 0 and 100.")
    if not 0 <= int(options.get("late_cancel_fee_percent", 100)) <= 100:
        raise InvalidInput("A late-cancellation fee is between 0 and 100 percent.")
    if int(options.get("interval_minutes", 30)) < 5 or int(options.get("capacity", 1)) < 1:
        raise InvalidInput("Start times are at least 5 minutes apart; capacity is at least 1.")
    service = Service(
        business=business, name=name[:150], slug=slugify(slug or name)[:60], **options
    )
    try:
        with transaction.atomic():
            service.save()
            service.staff.set(staff)
            ServiceDuration.objects.bulk_create(
                ServiceDuration(
                    business=business,
                    service=service,
                    minutes=m,
                    price=p.amount,
                    currency=p.currency,
                )
                for m, p in durations
            )
            IntakeQuestion.objects.bulk_create(
                IntakeQuestion(business=business, service=service, position=i, **question)
                for i, question in enumerate(questions)
            )
            audit_record(
                business=business,
                actor=actor,
                action="service.create",
                summary=f"Created the service {service.name}",
                target=service,
            )
    except IntegrityError:
        raise Conflict(
            f"Another service already uses the address {service.slug}.",
            field_errors={"slug": ["Taken."]},
        ) from None
    return service
