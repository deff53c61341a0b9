"""Scheduling through the API: availability for a range and zone, and the booking lifecycle."""

from __future__ import annotations

import json
from datetime import UTC, date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from tillbook.api.services import api_token_create
from tillbook.core.models import Business, User
from tillbook.messaging.models import OutboxMessage
from tillbook.scheduling.models import Booking, BookingState, Service, StaffMember

from ..access import database_fingerprint
from .conftest import berlin

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client: Client, scoped: Business, owner: User) -> Any:
    token = api_token_create(
        business=scoped,
        actor=owner,
        name="Site",
        scopes=["scheduling:read", "scheduling:write", "bookings:read", "bookings:write"],
    ).secret

    def call(method: str, path: str, body: dict | None = None) -> Any:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        if method == "get":
            return client.get(f"/api/v1{path}", body or {}, **headers)
        return client.generic(
            method.upper(), f"/api/v1{path}", json.dumps(body or {}), "application/json", **headers
        )

    return call


def utc(day: date, hour: int, minute: int = 0) -> str:
    return berlin(day, hour, minute).astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_availability_lists_slots_in_utc_with_the_local_start(
    api: Any, service: Service, next_week: date
) -> None:
    response = api(
        "get",
        f"/services/{service.pk}/availability",
        {
            "start": utc(next_week, 0),
            "end": utc(next_week + timedelta(days=1), 0),
            "timezone": "Asia/Kathmandu",
            "duration": 60,
        },
    )
    assert response.status_code == 200
    slots = response.json()
    assert len(slots) == 15  # 09:00 to 16:00 Berlin, every 30 minutes
    first = berlin(next_week, 9)
    assert slots[0]["start"] == first.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert slots[0]["local_start"] == first.astimezone(ZoneInfo("Asia/Kathmandu")).isoformat()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            {"timezone": "Mars/Base"},
            "Mars/Base is not a time zone; use an IANA name such as Europe/Berlin or "
            "America/New_York.",
        ),
        ({"end": "2020-01-01T00:00:00Z"}, "end must be after start, and at most 62 days later."),
        ({"duration": 45}, "Coaching call cannot be booked for 45 minutes."),
    ],
)
def test_bad_availability_questions_get_400(
    api: Any, service: Service, next_week: date, query: dict, message: str
) -> None:
    params = {"start": utc(next_week, 0), "end": utc(next_week, 23), **query}
    response = api("get", f"/services/{service.pk}/availability", params)
    assert response.status_code == 400
    assert response.json()["detail"] == message


@pytest.mark.parametrize("when", ["9999-12-31T22:00:00Z", "0001-01-01T00:00:00Z"])
def test_times_at_the_ends_of_the_calendar_are_400_and_change_nothing(
    api: Any, service: Service, coach: StaffMember, next_week: date, when: str
) -> None:
    held = api(
        "post", "/bookings", {"service_id": service.pk, "duration": 60, "start": utc(next_week, 10)}
    )
    before = database_fingerprint()
    later = "9999-12-31T23:00:00Z" if when.startswith("9999") else "0001-01-02T00:00:00Z"
    answers = [
        api("get", f"/services/{service.pk}/availability", {"start": when, "end": later}),
        api("get", "/bookings", {"start": when, "end": later}),
        api("post", "/bookings", {"service_id": service.pk, "duration": 60, "start": when}),
        api("post", f"/bookings/{held.json()['id']}/reschedule", {"start": when}),
    ]
    # A 400 from the endpoint, as for other times the schema cannot refuse (a 422 would say
    # the request did not match the published schema, which it does).
    assert [answer.status_code for answer in answers] == [400, 400, 400, 400]
    assert {answer.json()["detail"] for answer in answers} == {"Give a time between 1970 and 2099."}
    assert database_fingerprint() == before


def test_hold_confirm_reschedule_cancel(
    api: Any,
    service: Service,
    coach: StaffMember,
    next_week: date,
    django_capture_on_commit_callbacks,
) -> None:
    held = api(
        "post",
        "/bookings",
        {
            "service_id": service.pk,
            "duration": 60,
            "start": utc(next_week, 10),
            "staff_id": coach.pk,
            "timezone": "Europe/Berlin",
        },
    )
    assert held.status_code == 201
    booking_id = held.json()["id"]
    assert held.json()["state"] == "held" and len(held.json()["manage_token"]) > 30
    taken = api(
        "post",
        "/bookings",
        {"service_id": service.pk, "duration": 30, "start": utc(next_week, 10, 30)},
    )
    assert taken.status_code == 409
    assert Booking.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = api(
            "post", f"/bookings/{booking_id}/confirm", {"name": "Ann", "email": "ann@example.com"}
        )
    assert confirmed.json()["state"] == "confirmed"
    assert confirmed.json()["customer_email"] == "ann@example.com"
    moved = api("post", f"/bookings/{booking_id}/reschedule", {"start": utc(next_week, 15)})
    assert moved.status_code == 200
    assert (moved.json()["sequence"], moved.json()["start"]) == (1, utc(next_week, 15))
    cancelled = api("post", f"/bookings/{booking_id}/cancel", {"reason": "Ill"})
    assert cancelled.json()["state"] == BookingState.CANCELLED
    assert sorted(OutboxMessage.objects.values_list("template", flat=True)) == [
        "booking_cancelled",
        "booking_confirmed",
        "booking_rescheduled",
    ]
    listed = api("get", "/bookings", {"start": utc(next_week, 0), "end": utc(next_week, 23)})
    assert [b["id"] for b in listed.json()] == [booking_id]


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ("cancelled", "A cancelled booking cannot be confirmed."),
        ("expired", "The time held for this booking ran out; hold a time again."),
        # Held past its time, not yet expired by the sweep: its time is free for others.
        ("held", "The time held for this booking ran out; hold a time again."),
    ],
)
def test_confirming_a_cancelled_or_expired_booking_is_refused_and_changes_nothing(
    api: Any, service: Service, coach: StaffMember, next_week: date, state: str, message: str
) -> None:
    """It was listed as "paid without time" for staff to rebook or refund, with no payment at
    all (what a payment arriving after its hold ran out does), or took its time back."""
    from django.utils import timezone

    held = api(
        "post",
        "/bookings",
        {"service_id": service.pk, "duration": 60, "start": utc(next_week, 10)},
    )
    booking_id = held.json()["id"]
    ran_out = timezone.now() - timedelta(minutes=1)
    Booking.objects.filter(pk=booking_id).update(state=state, hold_expires_at=ran_out)
    before = database_fingerprint()
    refused = api(
        "post", f"/bookings/{booking_id}/confirm", {"name": "Ann", "email": "ann@example.com"}
    )
    assert (refused.status_code, refused.json()["detail"]) == (409, message)
    assert database_fingerprint() == before
    booking = Booking.objects.get(pk=booking_id)
    assert (booking.state, booking.paid_without_time, booking.customer) == (state, False, None)


def test_staff_hours_can_be_replaced(api: Any, coach: StaffMember) -> None:
    response = api(
        "put",
        f"/staff/{coach.pk}/hours",
        {
            "weekly_hours": {
                "0": [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "24:00"}]
            }
        },
    )
    assert response.status_code == 200
    assert response.json()["weekly_hours"] == {
        "0": [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "24:00"}]
    }
    bad = api("put", f"/staff/{coach.pk}/hours", {"weekly_hours": {"7": []}})
    assert bad.status_code == 400
    assert bad.json()["detail"] == "7 is not a weekday; use 0 (Monday) to 6 (Sunday)."
    assert api("get", "/staff").json()[0]["weekly_hours"]["0"][0] == {
        "start": "08:00",
        "end": "12:00",
    }


# "²" passes str.isdigit() and 5,000 nines pass str.isdecimal(), but int() refuses both.
@pytest.mark.parametrize("day", ["²", "9" * 5000])
def test_staff_hours_for_a_weekday_int_cannot_read_are_refused_with_400(
    api: Any, coach: StaffMember, day: str
) -> None:
    before = database_fingerprint()
    response = api(
        "put",
        f"/staff/{coach.pk}/hours",
        {"weekly_hours": {day: [{"start": "08:00", "end": "12:00"}]}},
    )
    assert response.status_code == 400
    shown = day if len(day) <= 40 else f"{day[:40]}…"  # not the whole 5,000 digits back
    assert response.json()["detail"] == f"{shown} is not a weekday; use 0 (Monday) to 6 (Sunday)."
    assert database_fingerprint() == before
