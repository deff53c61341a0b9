"""The back office Calendar: views, booking for a customer, blocked time, staff actions,
calendar feeds, imports and the CSV export."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from icalendar import Calendar

from tillbook.messaging.models import OutboxMessage
from tillbook.scheduling.models import Booking, BookingState, Service, StaffMember, TimeBlock
from tillbook.scheduling.services import booking_hold, booking_submit_details

from ..access import database_fingerprint
from .conftest import ANN, berlin

pytestmark = pytest.mark.django_db

ICS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Test//EN
BEGIN:VEVENT
UID:one@test
DTSTART:%(start)s
DTEND:%(end)s
SUMMARY:Dentist
END:VEVENT
BEGIN:VEVENT
UID:two@test
DTSTART:%(start)s
DTEND:%(end)s
TRANSP:TRANSPARENT
SUMMARY:Free anyway
END:VEVENT
END:VCALENDAR
"""


def ics_for(day: date) -> bytes:
    return ICS % {
        b"start": f"{day:%Y%m%d}T120000Z".encode(),
        b"end": f"{day:%Y%m%d}T130000Z".encode(),
    }


def url(service: Service, path: str) -> str:
    return f"/manage/{service.business.slug}/calendar/{path}"


def confirmed(service: Service, coach: StaffMember, day: date, hour: int) -> Booking:
    held = booking_hold(service=service, duration_minutes=60, start=berlin(day, hour), staff=coach)
    booking = booking_submit_details(booking=held.booking, details=ANN)
    Booking.objects.filter(pk=booking.pk).update(state=BookingState.CONFIRMED)
    booking.refresh_from_db()
    return booking


def test_the_week_view_lists_bookings_in_the_staff_zone(
    owner_client: Client, service: Service, coach: StaffMember, next_week: date
) -> None:
    confirmed(service, coach, next_week, 14)
    response = owner_client.get(
        url(service, ""), {"staff": coach.pk, "date": next_week.isoformat()}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "Times in Europe/Berlin." in body
    assert "14:00–15:00" in body and "Coaching call · Ann Example" in body
    day_view = owner_client.get(
        url(service, ""), {"view": "day", "date": (next_week + timedelta(days=1)).isoformat()}
    )
    assert "Nothing booked." in day_view.content.decode()


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_a_date_at_the_ends_of_the_calendar_shows_this_week(
    owner_client: Client, service: Service, coach: StaffMember, day: str
) -> None:
    response = owner_client.get(url(service, ""), {"date": day})
    assert response.status_code == 200
    today = timezone.now().astimezone(service.business.zone).date()
    monday = today - timedelta(days=today.weekday())
    assert f"&view=week&date={(monday + timedelta(days=7)).isoformat()}" in (
        response.content.decode()
    )


@pytest.mark.parametrize("start", ["9999-12-31 23:00", "0001-01-01 00:00"])
def test_booking_blocking_or_moving_to_year_1_or_9999_is_refused_and_changes_nothing(
    owner_client: Client, service: Service, coach: StaffMember, next_week: date, start: str
) -> None:
    booking = confirmed(service, coach, next_week, 14)
    before = database_fingerprint()
    answers = [
        owner_client.post(
            url(service, "new/"),
            {
                "service": service.pk,
                "duration": 60,
                "staff": coach.pk,
                "start": start,
                "name": "Ann Example",
                "email": "ann@example.com",
                "payment": "none",
            },
        ),
        owner_client.post(
            url(service, "block/"), {"staff": coach.pk, "start": start, "end": start}
        ),
        owner_client.post(
            url(service, f"bookings/{booking.pk}/action/"), {"action": "reschedule", "start": start}
        ),
    ]
    assert [answer.status_code for answer in answers] == [400, 400, 400]
    for answer in answers:
        assert "Pick a date from 1970 to 2099." in answer.content.decode()
    assert database_fingerprint() == before


def test_staff_moving_an_unpaid_booking_whose_hold_ran_out_get_409_and_nothing_changes(
    owner_client: Client, service: Service, coach: StaffMember, next_week: date
) -> None:
    """The page offers no move for it, but the action took one: the booking is no longer the
    customer's time, and the sweep expires it whatever its new start."""
    held = booking_hold(
        service=service, duration_minutes=60, start=berlin(next_week, 14), staff=coach
    )
    booking = booking_submit_details(booking=held.booking, details=ANN)
    ran_out = timezone.now() - timedelta(minutes=1)
    Booking.objects.filter(pk=booking.pk).update(hold_expires_at=ran_out)
    before = database_fingerprint()
    response = owner_client.post(
        url(service, f"bookings/{booking.pk}/action/"),
        {"action": "reschedule", "start": f"{next_week + timedelta(days=1)} 10:00"},
    )
    assert response.status_code == 409
    assert (
        "The time held for this booking ran out before it was paid, so it can no longer be "
        "moved; please pick a time again."
    ) in response.content.decode()
    assert database_fingerprint() == before
    booking.refresh_from_db()
    assert (booking.start, booking.state, booking.hold_expires_at) == (
        berlin(next_week, 14),
        BookingState.AWAITING_PAYMENT,
        ran_out,
    )
    assert OutboxMessage.objects.count() == 0


def test_booking_for_a_customer_confirms_and_can_send_a_payment_link(
    owner_client: Client,
    service: Service,
    coach: StaffMember,
    next_week: date,
    django_capture_on_commit_callbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            url(service, "new/"),
            {
                "service": service.pk,
                "duration": 60,
                "staff": coach.pk,
                "start": f"{next_week.isoformat()} 11:00",
                "name": "Bob",
                "email": "bob@example.com",
                "payment": "link",
            },
        )
    booking = Booking.objects.get()
    assert response.status_code == 302
    assert (booking.state, booking.start, booking.customer.email) == (
        BookingState.CONFIRMED,
        berlin(next_week, 11),
        "bob@example.com",
    )
    assert sorted(OutboxMessage.objects.values_list("template", flat=True)) == [
        "booking_confirmed",
        "booking_payment_link",
    ]
    link = OutboxMessage.objects.get(template="booking_payment_link")
    assert link.subject == "Payment: $120.00 for Coaching call"


def test_booking_for_a_customer_over_a_taken_time_is_refused(
    owner_client: Client, service: Service, coach: StaffMember, next_week: date
) -> None:
    confirmed(service, coach, next_week, 11)
    before = list(Booking.objects.values())
    response = owner_client.post(
        url(service, "new/"),
        {
            "service": service.pk,
            "duration": 60,
            "staff": coach.pk,
            "start": f"{next_week.isoformat()} 11:30",
            "name": "Bob",
            "email": "bob@example.com",
            "payment": "none",
        },
    )
    assert response.status_code == 409
    assert "is no longer free" in response.content.decode()
    assert list(Booking.objects.values()) == before
    assert OutboxMessage.objects.count() == 0


def test_blocked_time_stops_bookings_and_cannot_cover_one(
    owner_client: Client, service: Service, coach: StaffMember, next_week: date
) -> None:
    response = owner_client.post(
        url(service, "block/"),
        {
            "staff": coach.pk,
            "start": f"{next_week.isoformat()} 12:00",
            "end": f"{next_week.isoformat()} 13:00",
            "reason": "Lunch",
        },
    )
    assert response.status_code == 302
    assert TimeBlock.objects.get().start == berlin(next_week, 12)
    from tillbook.scheduling.services import SlotUnavailable

    with pytest.raises(SlotUnavailable):
        booking_hold(
            service=service, duration_minutes=30, start=berlin(next_week, 12, 30), staff=coach
        )
    confirmed(service, coach, next_week, 15)
    clash = owner_client.post(
        url(service, "block/"),
        {
            "staff": coach.pk,
            "start": f"{next_week.isoformat()} 14:30",
            "end": f"{next_week.isoformat()} 16:00",
        },
    )
    assert clash.status_code == 409
    assert (
        "Carla Coach has 1 booking in that time; move or cancel them first."
        in clash.content.decode()
    )
    assert TimeBlock.objects.count() == 1


def test_no_show_with_a_fee_sends_a_payment_link(
    owner_client: Client,
    service: Service,
    coach: StaffMember,
    next_week: date,
    django_capture_on_commit_callbacks,
) -> None:
    booking = confirmed(service, coach, next_week, 10)
    two_hours_ago = timezone.now() - timedelta(hours=2)
    Booking.objects.filter(pk=booking.pk).update(
        start=two_hours_ago,
        end=two_hours_ago + timedelta(hours=1),
        blocking_start=two_hours_ago,
        blocking_end=two_hours_ago + timedelta(hours=1),
    )
    action = url(service, f"bookings/{booking.pk}/action/")
    response = owner_client.post(action, {"action": "no_show", "amount": "25.00"})
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.state == BookingState.NO_SHOW
    message = OutboxMessage.objects.get(template="booking_payment_link")
    assert message.subject == "No-show fee: $25.00 for Coaching call"
    again = owner_client.post(action, {"action": "complete"})
    assert again.status_code == 409
    assert (
        "Only a confirmed booking can be completed; this one is no-show." in again.content.decode()
    )


def _form_key(client: Client, service: Service, booking: Booking) -> str:
    """The key of the booking page's payment form (a new one each time the page is shown)."""
    import re

    page = client.get(url(service, f"bookings/{booking.pk}/")).content.decode()
    key = re.search(r'<input type="hidden" name="key" value="([0-9a-f]{32})"', page)
    assert key, page
    return key.group(1)


def test_mark_paid_sent_twice_records_the_cash_once(
    owner_client: Client, service: Service, coach: StaffMember, next_week: date
) -> None:
    """A double click on "Mark paid (cash)" recorded the cash twice (a new request each time):
    the booking's form carries a key of its own."""
    from tillbook.payments.models import Payment

    booking = confirmed(service, coach, next_week, 10)
    key = _form_key(owner_client, service, booking)
    action = url(service, f"bookings/{booking.pk}/action/")
    cash = {"action": "mark_paid", "amount": "30.00", "key": key}
    assert owner_client.post(action, cash).status_code == 302
    assert owner_client.post(action, cash).status_code == 302
    assert list(Payment.objects.filter(provider="manual").values_list("amount", flat=True)) == [
        3000
    ]
    assert _form_key(owner_client, service, booking) != key  # the next payment is a new one


def test_the_csv_export_lists_every_booking(
    owner_client: Client, service: Service, coach: StaffMember, next_week: date
) -> None:
    booking = confirmed(service, coach, next_week, 10)
    response = owner_client.get(url(service, "export.csv"))
    lines = b"".join(response.streaming_content).decode().lstrip("\ufeff").splitlines()
    assert lines[0].startswith("booking_id,service,staff,customer_email")
    assert lines[1].startswith(
        f"{booking.pk},Coaching call,Carla Coach,ann@example.com,Ann Example,confirmed,"
    )


def test_the_staff_feed_is_a_calendar_of_their_bookings(
    owner_client: Client, client: Client, service: Service, coach: StaffMember, next_week: date
) -> None:
    booking = confirmed(service, coach, next_week, 10)
    owner_client.post(url(service, f"staff/{coach.pk}/feed/"))
    setup = owner_client.get(url(service, "setup/")).content.decode()
    feed_url = setup.split('<div class="secret">')[1].split("</div>")[0]
    response = Client().get(feed_url.replace("https://shop.example.test", ""))
    assert response.status_code == 200
    [event] = Calendar.from_ical(response.content).walk("VEVENT")
    assert event["UID"] == f"booking-{booking.uid}@tillbook"
    assert event["SUMMARY"] == "Coaching call – Ann Example"
    assert event.decoded("DTSTART") == berlin(next_week, 10)
    assert Client().get("/calendar-feed/wrong.ics").status_code == 404


def test_an_uploaded_calendar_blocks_its_busy_times(
    owner_client: Client, service: Service, coach: StaffMember, next_week: date
) -> None:
    upload = SimpleUploadedFile("me.ics", ics_for(next_week), "text/calendar")
    response = owner_client.post(url(service, f"staff/{coach.pk}/import/"), {"file": upload})
    assert response.status_code == 302
    assert list(TimeBlock.objects.values_list("reason", "source")) == [("Dentist", "import")]


class CalendarServer:
    def __init__(self, url: str) -> None:
        self.url = url
        self.requests: list[str] = []


@pytest.fixture
def calendar_server(next_week: date) -> Iterator[CalendarServer]:
    body = ics_for(next_week)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    served = CalendarServer(f"http://127.0.0.1:{server.server_port}/me.ics")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served
    server.shutdown()


def test_a_calendar_address_is_fetched_in_the_background(
    owner_client: Client,
    service: Service,
    coach: StaffMember,
    next_week: date,
    calendar_server: CalendarServer,
    run_tasks,
    django_capture_on_commit_callbacks,
    settings,
) -> None:
    settings.TILLBOOK_FETCH_PRIVATE_ADDRESSES = True  # the test's calendar server is local
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(url(service, f"staff/{coach.pk}/import/"), {"url": calendar_server.url})
    assert TimeBlock.objects.count() == 0  # nothing fetched while the page answered
    assert run_tasks() == 1
    block = TimeBlock.objects.get()
    assert (block.reason, block.start.hour, block.end.hour) == ("Dentist", 12, 13)
    assert coach.imports.get().busy_count == 1
    assert calendar_server.requests == ["/me.ics"]


def test_a_calendar_address_on_the_local_network_is_refused(
    owner_client: Client,
    service: Service,
    coach: StaffMember,
    calendar_server: CalendarServer,
    run_tasks,
    django_capture_on_commit_callbacks,
    settings,
) -> None:
    assert settings.TILLBOOK_FETCH_PRIVATE_ADDRESSES is False
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(url(service, f"staff/{coach.pk}/import/"), {"url": calendar_server.url})
    assert run_tasks() == 1

    item = coach.imports.get()
    assert item.last_error == (
        "127.0.0.1 is a private or local network address; Tillbook only fetches addresses on "
        "the public internet."
    )
    assert (item.busy_count, TimeBlock.objects.count()) == (0, 0)
    assert calendar_server.requests == []  # not even connected to
    page = owner_client.get(url(service, "setup/"))
    assert "127.0.0.1 is a private or local network address" in page.content.decode()


def test_an_owner_adds_a_person_with_hours_and_a_service_from_the_back_office(
    owner_client: Client, scoped, next_week: date
) -> None:
    slug = scoped.slug
    response = owner_client.post(
        f"/manage/{slug}/calendar/staff/new/",
        {
            "name": "Dora",
            "timezone": "Asia/Kathmandu",
            "day_0": "09:00-12:00, 13:00-17:00",
            "day_2": "14:00-18:00",
        },
    )
    assert response.status_code == 302
    dora = StaffMember.objects.get(name="Dora")
    assert sorted(dora.weekly_hours.values_list("weekday", "start_minute", "end_minute")) == [
        (0, 540, 720),
        (0, 780, 1020),
        (2, 840, 1080),
    ]
    bad = owner_client.post(
        f"/manage/{slug}/calendar/staff/new/",
        {
            "name": "Eve",
            "timezone": "UTC",
            "day_1": "nine to five",
        },
    )
    assert bad.status_code == 400
    assert "nine to five is not a range of hours; write it as 09:00-12:00." in bad.content.decode()
    assert not StaffMember.objects.filter(name="Eve").exists()

    created = owner_client.post(
        f"/manage/{slug}/calendar/services/new/",
        {
            "name": "Mentoring",
            "durations": "30=60.00, 60=110.00",
            "staff": [dora.pk],
            "location_kind": "video",
            "payment_mode": "deposit_percent",
            "deposit": "30%",
            "capacity": 1,
            "interval_minutes": 30,
            "buffer_before_minutes": 0,
            "buffer_after_minutes": 10,
            "min_notice_minutes": 60,
            "horizon_days": 90,
            "cancel_window_hours": 12,
            "late_cancel_fee_percent": 50,
            "reminders": "1440, 60",
        },
    )
    assert created.status_code == 302
    service = Service.objects.get(name="Mentoring")
    assert [(d.minutes, d.price) for d in service.durations.all()] == [(30, 6000), (60, 11000)]
    assert (service.deposit_percent, service.reminder_offsets, list(service.staff.all())) == (
        30,
        [1440, 60],
        [dora],
    )
    page = Client().get(f"/{slug}/book/mentoring/")
    assert page.status_code == 200


@pytest.mark.parametrize(
    ("field", "value", "limit"),
    [
        ("capacity", 10**25, 1000),
        ("interval_minutes", 10**12, 1440),
        ("buffer_before_minutes", 10**12, 1440),
        ("buffer_after_minutes", 10**12, 1440),
        ("min_notice_minutes", 10**15, 525600),
        ("horizon_days", 10**9, 3650),
        ("cancel_window_hours", 10**12, 8760),
    ],
)
def test_a_service_with_an_enormous_setting_is_refused_and_nothing_is_written(
    owner_client: Client, scoped, coach: StaffMember, field: str, value: int, limit: int
) -> None:
    before = database_fingerprint()
    settings = {
        "capacity": 1,
        "interval_minutes": 30,
        "buffer_before_minutes": 0,
        "buffer_after_minutes": 0,
        "min_notice_minutes": 60,
        "horizon_days": 90,
        "cancel_window_hours": 12,
    }
    response = owner_client.post(
        f"/manage/{scoped.slug}/calendar/services/new/",
        {
            "name": "Mentoring",
            "durations": "60=110.00",
            "staff": [coach.pk],
            "location_kind": "video",
            "payment_mode": "full",
            "late_cancel_fee_percent": 50,
            **settings,
            field: value,
        },
    )
    assert response.status_code == 400
    assert f"Ensure this value is less than or equal to {limit}." in response.content.decode()
    assert database_fingerprint() == before


def test_send_payment_link_sent_twice_sends_one_link(
    owner_client: Client, service: Service, coach: StaffMember, next_week: date
) -> None:
    """A double click on "Send payment link" sent the customer two links for the same balance
    (both payable): the second sending of the page's form finds the first link."""
    from tillbook.payments.models import PaymentRequest

    booking = confirmed(service, coach, next_week, 10)
    key = _form_key(owner_client, service, booking)
    action = url(service, f"bookings/{booking.pk}/action/")
    link = {"action": "request_payment", "amount": "30.00", "key": key}
    assert owner_client.post(action, link).status_code == 302
    assert owner_client.post(action, link).status_code == 302
    links = PaymentRequest.objects.filter(purpose_id=str(booking.pk), title__startswith="Balance")
    assert list(links.values_list("amount", "form_key")) == [(3000, key)]
    assert OutboxMessage.objects.filter(template="booking_payment_link").count() == 1
    # A new page's form is a new link (asking for the rest again is the owner's choice).
    other = _form_key(owner_client, service, booking)
    assert other != key
    assert owner_client.post(action, {**link, "key": other}).status_code == 302
    assert links.count() == 2
    assert OutboxMessage.objects.filter(template="booking_payment_link").count() == 2
