"""Scheduling in the API: services, staff schedules, availability, and the booking lifecycle
(hold, confirm, reschedule, cancel). Times are ISO 8601; answers are in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from ninja import Path, Query, Router, Schema, Status
from pydantic import Field

from tillbook.api.base import (
    COMMON_ERRORS,
    BodySchema,
    ErrorOut,
    current_token,
    plausible_times,
    requires_scope,
)
from tillbook.core.errors import InvalidInput, NotFound, as_typed
from tillbook.core.validation import validate_timezone
from tillbook.scheduling.availability import Interval, Schedule
from tillbook.scheduling.changes import booking_cancel, booking_reschedule
from tillbook.scheduling.models import Booking, Service, StaffMember
from tillbook.scheduling.selectors import bookings_between, schedules_for, slots_for_customer
from tillbook.scheduling.services import (
    CustomerDetails,
    booking_confirm,
    booking_hold,
    customer_for_details,
    locked_booking,
)
from tillbook.scheduling.setup import staff_hours_set

router = Router(tags=["scheduling"])

MAX_ID = 2**63 - 1
MAX_RANGE = timedelta(days=62)


class DurationOut(Schema):
    minutes: int
    price: int = Field(description="Minor units, per seat for group sessions")
    currency: str


class ServiceOut(Schema):
    id: int
    name: str
    slug: str
    is_active: bool
    location_kind: str
    payment_mode: str
    capacity: int
    durations: list[DurationOut]
    staff_ids: list[int]

    @staticmethod
    def of(service: Service) -> ServiceOut:
        return ServiceOut(
            id=service.pk,
            name=service.name,
            slug=service.slug,
            is_active=service.is_active,
            location_kind=service.location_kind,
            payment_mode=service.payment_mode,
            capacity=service.capacity,
            durations=[
                DurationOut(minutes=d.minutes, price=d.price, currency=d.currency)
                for d in service.durations.all()
            ],
            staff_ids=sorted(member.pk for member in service.staff.all()),
        )


class RangeOut(Schema):
    start: str = Field(description="Local wall-clock time, HH:MM")
    end: str = Field(description="Local wall-clock time, HH:MM; 24:00 is midnight")


class StaffOut(Schema):
    id: int
    name: str
    timezone: str
    is_active: bool
    weekly_hours: dict[str, list[RangeOut]] = Field(description="Keys 0 (Monday) to 6 (Sunday)")


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _staff_out(member: StaffMember, schedule: Schedule) -> StaffOut:
    # The schedule is read by the caller: a list reads all of them at once, not one per person.
    return StaffOut(
        id=member.pk,
        name=member.name,
        timezone=member.timezone,
        is_active=member.is_active,
        weekly_hours={
            str(day): [
                RangeOut(start=_clock(r.start_minute), end=_clock(r.end_minute)) for r in ranges
            ]
            for day, ranges in sorted(schedule.weekly.items())
        },
    )


class SlotOut(Schema):
    start: datetime
    end: datetime
    local_start: str = Field(description="The start in the requested time zone")
    staff_id: int
    seats_left: int


class BookingOut(Schema):
    id: int
    uid: str
    state: str
    service_id: int
    staff_id: int
    start: datetime
    end: datetime
    seats: int
    currency: str
    price: int
    deposit: int
    customer_email: str
    customer_timezone: str
    hold_expires_at: datetime | None
    sequence: int

    @staticmethod
    def of(booking: Booking) -> BookingOut:
        return BookingOut(
            id=booking.pk,
            uid=str(booking.uid),
            state=booking.state,
            service_id=booking.service_id,
            staff_id=booking.staff_id,
            start=booking.start.astimezone(UTC),
            end=booking.end.astimezone(UTC),
            seats=booking.seats,
            currency=booking.currency,
            price=booking.price,
            deposit=booking.deposit,
            customer_email=booking.customer.email if booking.customer else "",
            customer_timezone=booking.customer_timezone,
            hold_expires_at=booking.hold_expires_at,
            sequence=booking.sequence,
        )


class HeldOut(BookingOut):
    manage_token: str = Field(description="Secret for the customer's manage link; shown once")


class HoldIn(BodySchema):
    service_id: int = Field(ge=1, le=MAX_ID)
    duration: int = Field(ge=1, le=24 * 60, description="Minutes; one of the service's lengths")
    start: datetime = Field(description="ISO 8601 with an offset, e.g. 2026-12-07T13:00:00Z")
    staff_id: int | None = Field(None, ge=1, le=MAX_ID, description="Omit for anyone")
    seats: int = Field(1, ge=1, le=1000)
    timezone: str = Field("UTC", max_length=64, description="The customer's IANA time zone")


class ConfirmIn(BodySchema):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(max_length=254)


class RescheduleIn(BodySchema):
    start: datetime


class CancelIn(BodySchema):
    reason: str = Field("", max_length=300)


class HoursIn(BodySchema):
    weekly_hours: dict[str, list[RangeOut]]


def _service(request: HttpRequest, service_id: int) -> Service:
    service = Service.objects.filter(
        business=current_token(request).business, pk=service_id
    ).first()
    if service is None:
        raise NotFound("No service with this id.")
    return service


def _staff(request: HttpRequest, staff_id: int) -> StaffMember:
    member = StaffMember.objects.filter(
        business=current_token(request).business, pk=staff_id
    ).first()
    if member is None:
        raise NotFound("No staff member with this id.")
    return member


def _booking(request: HttpRequest, booking_id: int) -> Booking:
    booking = (
        Booking.objects.filter(business=current_token(request).business, pk=booking_id)
        .select_related("customer")
        .first()
    )
    if booking is None:
        raise NotFound("No booking with this id.")
    return booking


def _actor_label(request: HttpRequest) -> str:
    return f"API token {current_token(request).name}"


@router.get("/services", response={200: list[ServiceOut], **COMMON_ERRORS})
@requires_scope("scheduling:read")
def list_services(request: HttpRequest) -> list[ServiceOut]:
    services = Service.objects.filter(business=current_token(request).business).order_by("name")
    return [ServiceOut.of(s) for s in services.prefetch_related("durations", "staff")]


@router.get("/services/{service_id}", response={200: ServiceOut, 404: ErrorOut, **COMMON_ERRORS})
@requires_scope("scheduling:read")
def get_service(request: HttpRequest, service_id: int = Path(..., ge=1, le=MAX_ID)) -> ServiceOut:
    return ServiceOut.of(_service(request, service_id))


@router.get(
    "/services/{service_id}/availability",
    response={200: list[SlotOut], 400: ErrorOut, 404: ErrorOut, **COMMON_ERRORS},
)
@requires_scope("scheduling:read")
def service_availability(
    request: HttpRequest,
    start: datetime,
    end: datetime,
    service_id: int = Path(..., ge=1, le=MAX_ID),
    duration: int | None = Query(None, ge=1, le=24 * 60),
    staff_id: int | None = Query(None, ge=1, le=MAX_ID),
    timezone: str = Query("UTC", max_length=64),
    seats: int = Query(1, ge=1, le=1000),
) -> list[SlotOut]:
    """Free start times between `start` and `end` (ISO 8601, at most 62 days apart)."""
    plausible_times(start=start, end=end)
    service = _service(request, service_id)
    zone = ZoneInfo(validate_timezone(timezone))
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("start and end need a time zone offset, e.g. 2026-12-01T00:00:00Z.")
    if not start < end <= start + MAX_RANGE:
        raise InvalidInput("end must be after start, and at most 62 days later.")
    minutes = duration or min(d.minutes for d in service.durations.all())
    if not service.durations.filter(minutes=minutes).exists():
        raise InvalidInput(f"{service.name} cannot be booked for {minutes} minutes.")
    slots = slots_for_customer(
        service=service,
        duration_minutes=minutes,
        window=Interval(start, end),
        staff_id=staff_id,
        seats=seats,
    )
    return [
        SlotOut(
            start=slot.start.astimezone(UTC),
            end=slot.end.astimezone(UTC),
            local_start=slot.start.astimezone(zone).isoformat(),
            staff_id=slot.staff_id,
            seats_left=slot.seats_left,
        )
        for slot in slots
    ]


@router.get("/staff", response={200: list[StaffOut], **COMMON_ERRORS})
@requires_scope("scheduling:read")
def list_staff(request: HttpRequest) -> list[StaffOut]:
    members = list(
        StaffMember.objects.filter(business=current_token(request).business).order_by("name", "pk")
    )
    schedules = schedules_for(members)
    return [_staff_out(member, schedules[member.pk]) for member in members]


WEEKDAYS = {str(day): day for day in range(7)}


def _minute(text: str) -> int:
    try:
        hours, minutes = (int(part) for part in text.split(":"))
    except ValueError:
        raise InvalidInput(f"{as_typed(text)} is not a time; write HH:MM, e.g. 09:30.") from None
    if not (0 <= hours <= 24 and 0 <= minutes < 60):
        raise InvalidInput(f"{as_typed(text)} is not a time of day.")
    return hours * 60 + minutes


@router.put(
    "/staff/{staff_id}/hours",
    response={200: StaffOut, 400: ErrorOut, 404: ErrorOut, **COMMON_ERRORS},
)
@requires_scope("scheduling:write")
def set_staff_hours(
    request: HttpRequest, payload: HoursIn, staff_id: int = Path(..., ge=1, le=MAX_ID)
) -> StaffOut:
    member = _staff(request, staff_id)
    weekly: dict[int, list[tuple[int, int]]] = {}
    for day, ranges in payload.weekly_hours.items():
        # A lookup, not int(): int() refuses "²" (which isdigit() accepts) and 5,000 digits.
        weekday = WEEKDAYS.get(day)
        if weekday is None:
            raise InvalidInput(f"{as_typed(day)} is not a weekday; use 0 (Monday) to 6 (Sunday).")
        weekly[weekday] = [(_minute(r.start), _minute(r.end)) for r in ranges]
    staff_hours_set(staff=member, weekly=weekly)
    return _staff_out(member, schedules_for([member])[member.pk])


@router.get("/bookings", response={200: list[BookingOut], 400: ErrorOut, **COMMON_ERRORS})
@requires_scope("bookings:read")
def list_bookings(
    request: HttpRequest,
    start: datetime,
    end: datetime,
    staff_id: int | None = Query(None, ge=1, le=MAX_ID),
) -> list[BookingOut]:
    plausible_times(start=start, end=end)
    if start.tzinfo is None or end.tzinfo is None or not start < end <= start + MAX_RANGE:
        raise InvalidInput("start and end need offsets; end after start, at most 62 days later.")
    bookings = bookings_between(
        business=current_token(request).business, start=start, end=end, staff_id=staff_id
    )
    return [BookingOut.of(booking) for booking in bookings]


@router.get("/bookings/{booking_id}", response={200: BookingOut, 404: ErrorOut, **COMMON_ERRORS})
@requires_scope("bookings:read")
def get_booking(request: HttpRequest, booking_id: int = Path(..., ge=1, le=MAX_ID)) -> BookingOut:
    return BookingOut.of(_booking(request, booking_id))


@router.post(
    "/bookings",
    response={201: HeldOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut, **COMMON_ERRORS},
)
@requires_scope("bookings:write")
def hold_booking(request: HttpRequest, payload: HoldIn) -> Status[HeldOut]:
    """Hold a slot for 10 minutes (or until confirmed); the database refuses overlaps."""
    plausible_times(start=payload.start)
    service = _service(request, payload.service_id)
    staff = _staff(request, payload.staff_id) if payload.staff_id is not None else None
    held = booking_hold(
        service=service,
        duration_minutes=payload.duration,
        start=payload.start,
        staff=staff,
        seats=payload.seats,
        customer_timezone=payload.timezone,
        actor_label=_actor_label(request),
    )
    out = BookingOut.of(held.booking).dict()
    return Status(201, HeldOut(**out, manage_token=held.secret))


@router.post(
    "/bookings/{booking_id}/confirm",
    response={200: BookingOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut, **COMMON_ERRORS},
)
@requires_scope("bookings:write")
def confirm_booking(
    request: HttpRequest, payload: ConfirmIn, booking_id: int = Path(..., ge=1, le=MAX_ID)
) -> BookingOut:
    """Confirm a held booking for a customer (payment, if any, is the caller's business)."""
    from django.db import transaction

    booking = _booking(request, booking_id)
    with transaction.atomic():
        locked = locked_booking(booking)
        if locked.customer is None:
            details = CustomerDetails(name=payload.name, email=payload.email)
            locked.customer = customer_for_details(locked.business_id, details, locked)
            locked.save(update_fields=["customer"])
        confirmed = booking_confirm(booking=locked, actor_label=_actor_label(request))
    return BookingOut.of(confirmed)


@router.post(
    "/bookings/{booking_id}/reschedule",
    response={200: BookingOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut, **COMMON_ERRORS},
)
@requires_scope("bookings:write")
def reschedule_booking(
    request: HttpRequest, payload: RescheduleIn, booking_id: int = Path(..., ge=1, le=MAX_ID)
) -> BookingOut:
    plausible_times(start=payload.start)
    moved = booking_reschedule(
        booking=_booking(request, booking_id), start=payload.start, as_business=True
    )
    return BookingOut.of(moved.booking)


@router.post(
    "/bookings/{booking_id}/cancel",
    response={200: BookingOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut, **COMMON_ERRORS},
)
@requires_scope("bookings:write")
def cancel_booking(
    request: HttpRequest, payload: CancelIn, booking_id: int = Path(..., ge=1, le=MAX_ID)
) -> BookingOut:
    cancelled, _ = booking_cancel(
        booking=_booking(request, booking_id), reason=payload.reason, as_business=True
    )
    return BookingOut.of(cancelled)
