"""The public booking pages, through HTTP: what a visitor sees and what a bad request gets."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from tillbook.core.money import Money
from tillbook.messaging.models import OutboxMessage
from tillbook.scheduling.models import Booking, BookingState, Service, StaffMember

from .conftest import berlin

pytestmark = pytest.mark.django_db


def service_url(service: Service) -> str:
    return f"/{service.business.slug}/book/{service.slug}/"


def test_the_business_page_lists_its_services(client: Client, service: Service) -> None:
    response = client.get(f"/{service.business.slug}/book/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Coaching call" in body and "30 min · 70.00 USD | 60 min · 120.00 USD" in body
    assert "X-Frame-Options" not in response  # the embed snippet frames these pages


def test_the_service_page_shows_days_and_times_in_the_visitors_zone(
    client: Client, service: Service, next_week: date
) -> None:
    response = client.get(
        service_url(service),
        {
            "duration": 60,
            "tz": "America/New_York",
            "month": f"{next_week:%Y-%m}",
            "day": next_week.isoformat(),
        },
    )
    assert response.status_code == 200
    body = response.content.decode()
    # 09:00 in Berlin is 03:00 in New York (02:00 or 04:00 near DST changes; both zones move).
    first = berlin(next_week, 9).astimezone(ZoneInfo("America/New_York"))
    assert f'value="{first.isoformat()}" class="time">{first:%H:%M}</button>' in body
    assert f'aria-current="date">{next_week.day}</a>' in body


def test_an_unknown_zone_falls_back_with_a_message(client: Client, service: Service) -> None:
    response = client.get(service_url(service), {"tz": "Mars/Olympus_Mons"})
    assert response.status_code == 200
    assert "Mars/Olympus_Mons is not a time zone we know; showing America/Chicago instead." in (
        response.content.decode()
    )


@pytest.mark.parametrize("month", ["9999-12", "0001-01", "1-1"])
def test_a_month_off_the_calendar_shows_this_month(
    client: Client, service: Service, month: str
) -> None:
    """The month links of the page step one month at a time; an edited address at the ends of
    the calendar (year 1, December 9999) was a server error."""
    from django.utils import timezone

    response = client.get(service_url(service), {"month": month})
    assert response.status_code == 200
    today = timezone.now().astimezone(ZoneInfo(service.business.timezone)).date()
    assert f'<h2 id="month-title">{today:%B %Y}</h2>' in response.content.decode()


def hold(client: Client, service: Service, **data: object):  # type: ignore[no-untyped-def]
    return client.post(
        service_url(service) + "hold/",
        {"duration": 60, "staff": "any", "tz": "Europe/Berlin", **data},
    )


def book(
    client: Client,
    service: Service,
    start: datetime,
    *,
    name: str = "Ann",
    email: str = "ann@example.com",
) -> str:
    """Hold `start` and give the details: the address of the booking's own page."""
    location = hold(client, service, start=start.isoformat())["Location"]
    client.post(location + "details/", {"name": name, "email": email})
    return location


def link_in(message: OutboxMessage) -> str:
    """The path of the booking link an email gives."""
    return message.body_text.split("https://shop.example.test")[1].split()[0]


def test_picking_a_time_holds_it_and_opens_the_details_form(
    client: Client, service: Service, next_week: date
) -> None:
    response = hold(client, service, start=berlin(next_week, 10).isoformat())
    booking = Booking.objects.get()
    assert response.status_code == 302
    assert response["Location"].startswith(f"/{service.business.slug}/booking/")
    page = client.get(response["Location"])
    assert "Fill in your details to continue." in page.content.decode()
    assert booking.state == BookingState.HELD


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"start": "2020-01-06T10:00:00+01:00"}, 400, "has already passed; choose a later time."),
        ({"start": "not a time"}, 400, "Pick a time from the list."),
        ({"start": "2030-01-07T10:00:00"}, 400, "Pick a time from the list."),
        ({"duration": "5"}, 400, "cannot be booked for 5 minutes; choose one of: 30, 60 minutes."),
        ({"tz": "Mars/Olympus_Mons"}, 400, "Mars/Olympus_Mons is not a time zone we know"),
        ({"staff": "999999"}, 400, "Choose someone from the list."),
        ({"staff": "²"}, 400, "Choose someone from the list."),
        ({"staff": "9" * 5000}, 400, "Choose someone from the list."),
        ({"start": "9999-12-31T23:00:00+00:00"}, 400, "Pick a time from the list."),
        ({"start": "0001-01-01T00:00:00+00:00"}, 400, "Pick a time from the list."),
    ],
    ids=[
        "past",
        "garbage",
        "naive",
        "tampered-duration",
        "unknown-zone",
        "unknown-staff",
        "superscript-staff",
        "five-thousand-digit-staff",
        "year-9999",
        "year-1",
    ],
)
def test_bad_holds_get_a_clear_message_and_change_nothing(
    client: Client, service: Service, next_week: date, data: dict, status: int, message: str
) -> None:
    payload = {"start": berlin(next_week, 10).isoformat(), **data}
    response = hold(client, service, **payload)
    assert response.status_code == status
    assert message in response.content.decode()
    assert Booking.objects.count() == 0
    assert OutboxMessage.objects.count() == 0


def test_a_tampered_price_is_ignored(client: Client, service: Service, next_week: date) -> None:
    hold(client, service, start=berlin(next_week, 10).isoformat(), price="1", deposit="0")
    assert Booking.objects.values_list("price", "deposit").get() == (12000, 12000)


def test_a_double_submit_of_the_same_time_holds_it_once(
    client: Client, service: Service, next_week: date
) -> None:
    start = berlin(next_week, 10).isoformat()
    assert hold(client, service, start=start).status_code == 302
    second = hold(client, service, start=start)
    assert second.status_code == 409
    assert "is no longer free; please pick another time." in second.content.decode()
    assert Booking.objects.count() == 1


def test_pay_later_booking_through_the_pages_confirms_and_emails(
    client: Client,
    make_service,
    coach: StaffMember,
    next_week: date,
    django_capture_on_commit_callbacks,
) -> None:
    service = make_service("Intro call", payment_mode="later")
    location = hold(client, service, start=berlin(next_week, 11).isoformat())["Location"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(location + "details/", {"name": "Ann", "email": "ann@example.com"})
    assert response.status_code == 302
    page = client.get(location).content.decode()
    assert "Your booking is confirmed" in page
    assert OutboxMessage.objects.get().template == "booking_confirmed"
    calendar_file = client.get(location + "booking.ics")
    assert calendar_file["Content-Type"] == "text/calendar"
    assert b"BEGIN:VEVENT" in calendar_file.content


def test_details_without_a_name_are_refused_and_change_nothing(
    client: Client, service: Service, next_week: date
) -> None:
    location = hold(client, service, start=berlin(next_week, 11).isoformat())["Location"]
    response = client.post(location + "details/", {"name": " ", "email": "ann@example.com"})
    assert response.status_code == 400
    assert "Please give your name." in response.content.decode()
    assert Booking.objects.get().customer is None


LOCATION_MESSAGE = (
    "We could not read your location: it needs a latitude from -90 to 90 and a longitude from "
    "-180 to 180. Try “Use my location” again, or leave it out and give your postal code."
)


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [
        ("inf", "13.4"),
        ("52.5", "-inf"),
        ("nan", "13.4"),
        ("52.5", "NaN"),
        ("1e400", "13.4"),
        ("90.0001", "13.4"),
        ("-91", "13.4"),
        ("52.5", "180.5"),
        ("52.5", "-1000"),
        ("north", "13.4"),
        ("52.5", ""),
    ],
)
def test_a_bad_location_is_refused_with_400_and_changes_nothing(
    client: Client,
    make_service,
    coach: StaffMember,
    next_week: date,
    latitude: str,
    longitude: str,
) -> None:
    from decimal import Decimal

    from ..access import database_fingerprint

    service = make_service(
        payment_mode="later",
        location_kind="customer",
        base_latitude=Decimal("52.520008"),
        base_longitude=Decimal("13.404954"),
        service_radius_km=10,
    )
    location = hold(client, service, start=berlin(next_week, 11).isoformat())["Location"]
    before = database_fingerprint()
    response = client.post(
        location + "details/",
        {
            "name": "Ann",
            "email": "ann@example.com",
            "address": "Pankow 3",
            "postal_code": "13187",
            "latitude": latitude,
            "longitude": longitude,
        },
    )
    assert response.status_code == 400
    assert LOCATION_MESSAGE in response.content.decode()
    assert database_fingerprint() == before
    assert Booking.objects.get().state == BookingState.HELD


def test_a_location_on_the_edges_of_the_map_is_read(
    client: Client, make_service, coach: StaffMember, next_week: date
) -> None:
    service = make_service(payment_mode="later", location_kind="customer")
    location = hold(client, service, start=berlin(next_week, 11).isoformat())["Location"]
    response = client.post(
        location + "details/",
        {
            "name": "Ann",
            "email": "ann@example.com",
            "address": "Pole 1",
            "postal_code": "99999",
            "latitude": "-90",
            "longitude": "180",
        },
    )
    assert response.status_code == 302
    assert Booking.objects.get().state == BookingState.CONFIRMED


def test_an_unknown_link_is_404(client: Client, service: Service) -> None:
    response = client.get(f"/{service.business.slug}/booking/not-a-secret/")
    assert response.status_code == 404


def test_a_reschedule_link_used_twice_is_refused_with_410_and_changes_nothing(
    client: Client,
    make_service,
    coach: StaffMember,
    next_week: date,
    django_capture_on_commit_callbacks,
) -> None:
    service = make_service("Intro call", payment_mode="later")
    with django_capture_on_commit_callbacks(execute=True):
        book(client, service, berlin(next_week, 11))
    emailed = link_in(OutboxMessage.objects.get())
    new_start = berlin(next_week + timedelta(days=1), 9)
    with django_capture_on_commit_callbacks(execute=True):
        moved = client.post(emailed + "reschedule/", {"start": new_start.isoformat()})
    assert moved.status_code == 302
    assert Booking.objects.get().start == new_start
    before = (list(Booking.objects.values()), OutboxMessage.objects.count())
    again = client.post(emailed + "reschedule/", {"start": berlin(next_week, 15).isoformat()})
    assert again.status_code == 409
    assert "This link was already used to reschedule" in again.content.decode()
    assert (list(Booking.objects.values()), OutboxMessage.objects.count()) == before
    assert client.get(emailed + "reschedule/").status_code == 410


def test_moving_an_unpaid_booking_whose_hold_ran_out_is_refused_with_409_and_changes_nothing(
    client: Client, service: Service, next_week: date
) -> None:
    from django.utils import timezone

    from ..access import database_fingerprint

    location = book(client, service, berlin(next_week, 11))
    ran_out = timezone.now() - timedelta(minutes=1)
    Booking.objects.update(hold_expires_at=ran_out)
    before = database_fingerprint()
    response = client.post(
        location + "reschedule/", {"start": berlin(next_week + timedelta(days=1), 9).isoformat()}
    )
    assert response.status_code == 409
    assert (
        "The time held for this booking ran out before it was paid, so it can no longer be "
        "moved; please pick a time again."
    ) in response.content.decode()
    assert database_fingerprint() == before
    booking = Booking.objects.get()
    assert (booking.start, booking.state, booking.hold_expires_at) == (
        berlin(next_week, 11),
        BookingState.AWAITING_PAYMENT,
        ran_out,
    )
    assert OutboxMessage.objects.count() == 0
    # The page itself says so instead of listing times the move would refuse.
    page = client.get(location + "reschedule/")
    assert page.status_code == 409
    body = page.content.decode()
    assert "ran out before it was paid, so it can no longer be moved" in body
    assert 'name="start"' not in body and "No other free times" not in body


def test_the_reschedule_page_of_a_cancelled_booking_lists_no_times(
    client: Client, make_service, coach: StaffMember, next_week: date
) -> None:
    service = make_service("Intro call", payment_mode="later")
    location = book(client, service, berlin(next_week, 11))
    assert 'name="start"' in client.get(location + "reschedule/").content.decode()
    assert client.post(location + "cancel/").status_code == 302
    page = client.get(location + "reschedule/")
    assert page.status_code == 409
    body = page.content.decode()
    assert "A cancelled booking cannot be rescheduled." in body
    assert 'name="start"' not in body


def test_a_booking_made_after_an_ad_click_counts_for_that_campaign(
    client: Client, service: Service, next_week: date, django_capture_on_commit_callbacks
) -> None:
    from tillbook.insights.campaigns import attributed_by_utm
    from tillbook.insights.periods import Period
    from tillbook.insights.rollups import rollups_refresh
    from tillbook.payments.models import Payment, PaymentState
    from tillbook.payments.sandbox import sandbox_succeed
    from tillbook.payments.services import payment_start

    business = service.business
    # The ad's link opens the booking page; the visitor looks around, then books.
    landing = client.get(
        service_url(service), {"utm_source": "google", "utm_campaign": "spring-promo"}
    )
    assert landing.status_code == 200
    assert client.get(f"/{business.slug}/book/").status_code == 200
    location = hold(client, service, start=berlin(next_week, 10).isoformat())["Location"]
    details = client.post(location + "details/", {"name": "Ann", "email": "ann@example.com"})
    assert details.status_code == 302
    booking = Booking.objects.get()
    assert (booking.utm_campaign, booking.state) == ("spring-promo", BookingState.AWAITING_PAYMENT)
    # The new customer came from the ad, as an order's customer would have.
    customer = booking.customer
    assert (
        customer.acquisition_source,
        customer.acquisition_campaign,
        customer.first_touch["utm_campaign"],
        customer.latest_touch["utm_campaign"],
    ) == ("google", "spring-promo", "spring-promo", "spring-promo")
    with django_capture_on_commit_callbacks(execute=True):
        started = payment_start(
            request=booking.payment_request, provider="sandbox", return_url="https://x.test/r"
        )
        sandbox_succeed(started.payment)
    paid = Payment.objects.get(state=PaymentState.SUCCEEDED)
    assert rollups_refresh(business=business)
    day = paid.succeeded_at.astimezone(business.zone).date()
    found = attributed_by_utm(business=business, period=Period(day, day, business.zone))
    assert list(found) == ["spring-promo"]
    assert (found["spring-promo"].revenue, found["spring-promo"].orders) == (
        12000 - paid.fee_amount,
        1,
    )


def test_a_booking_without_a_campaign_counts_for_none(
    client: Client, service: Service, next_week: date
) -> None:
    book(client, service, berlin(next_week, 10))
    booking = Booking.objects.get()
    assert booking.utm_campaign == ""
    customer = booking.customer
    assert (customer.acquisition_source, customer.acquisition_campaign) == ("", "")
    assert (customer.first_touch, customer.latest_touch) == ({}, {})


def test_a_returning_customer_keeps_where_they_first_came_from_when_booking_after_an_ad(
    client: Client, service: Service, next_week: date
) -> None:
    from tillbook.customers.models import Customer

    business = service.business
    newsletter = {"utm_source": "newsletter", "utm_campaign": "may", "at": "2026-05-01T09:00:00Z"}
    Customer.objects.create(
        business=business,
        email="ann@example.com",
        name="Ann",
        first_touch=newsletter,
        latest_touch=newsletter,
        acquisition_source="newsletter",
        acquisition_campaign="may",
    )
    client.get(service_url(service), {"utm_source": "meta", "utm_campaign": "spring-promo"})
    book(client, service, berlin(next_week, 10), email="Ann@Example.com")
    customer = Customer.objects.get()
    assert Booking.objects.get().customer == customer
    assert (customer.acquisition_source, customer.acquisition_campaign) == ("newsletter", "may")
    assert customer.first_touch == newsletter
    assert (customer.latest_touch["utm_source"], customer.latest_touch["utm_campaign"]) == (
        "meta",
        "spring-promo",
    )


def test_a_pay_later_booking_from_an_ad_counts_when_its_payment_link_is_paid(
    client: Client, make_service, owner, next_week: date, django_capture_on_commit_callbacks
) -> None:
    from tillbook.core.money import Money
    from tillbook.insights.campaigns import attributed_by_utm
    from tillbook.insights.periods import Period
    from tillbook.insights.rollups import rollups_refresh
    from tillbook.payments.models import Payment, PaymentState
    from tillbook.payments.sandbox import sandbox_succeed
    from tillbook.payments.services import payment_start
    from tillbook.scheduling.staff_actions import booking_request_payment

    service = make_service("Intro call", payment_mode="later")
    business = service.business
    assert client.get(service_url(service), {"utm_campaign": "spring-promo"}).status_code == 200
    book(client, service, berlin(next_week, 10))
    booking = Booking.objects.get()
    assert (booking.utm_campaign, booking.state) == ("spring-promo", BookingState.CONFIRMED)
    # Staff send the session's payment link afterwards; it is a request of its own.
    request = booking_request_payment(
        booking=booking, amount=Money(12000, "USD"), reason="Session", actor=owner
    )
    assert request.pk != booking.payment_request_id
    with django_capture_on_commit_callbacks(execute=True):
        started = payment_start(request=request, provider="sandbox", return_url="https://x.test/r")
        sandbox_succeed(started.payment)
    paid = Payment.objects.get(state=PaymentState.SUCCEEDED)
    assert paid.metadata["utm_campaign"] == "spring-promo"
    assert rollups_refresh(business=business)
    day = paid.succeeded_at.astimezone(business.zone).date()
    found = attributed_by_utm(business=business, period=Period(day, day, business.zone))
    assert list(found) == ["spring-promo"]
    assert found["spring-promo"].revenue == 12000 - paid.fee_amount


def test_a_new_time_at_the_end_of_the_calendar_is_refused_and_changes_nothing(
    client: Client, make_service, coach: StaffMember, next_week: date
) -> None:
    service = make_service("Intro call", payment_mode="later")
    location = book(client, service, berlin(next_week, 11))
    before = (list(Booking.objects.values()), OutboxMessage.objects.count())
    response = client.post(location + "reschedule/", {"start": "9999-12-31T23:00:00+00:00"})
    assert response.status_code == 400
    assert "Pick a new time from the list." in response.content.decode()
    assert (list(Booking.objects.values()), OutboxMessage.objects.count()) == before


def test_the_reschedule_page_offers_the_times_next_to_the_booking_itself(
    client: Client, make_service, coach: StaffMember, next_week: date
) -> None:
    """The booking's own hour hid the half hours on either side of it, which the move itself
    accepts: a customer could not see "half an hour later"."""
    service = make_service("Intro call", payment_mode="later", durations=[(60, Money(0, "USD"))])
    location = book(client, service, berlin(next_week, 11))
    page = client.get(location + "reschedule/")
    assert page.status_code == 200
    body = page.content.decode()
    offered = [
        stamp
        for stamp in (
            berlin(next_week, 10),
            berlin(next_week, 10, 30),
            berlin(next_week, 11),
            berlin(next_week, 11, 30),
            berlin(next_week, 12),
        )
        if f'value="{stamp.isoformat()}"' in body
    ]
    assert offered == [
        berlin(next_week, 10),
        berlin(next_week, 10, 30),
        berlin(next_week, 11, 30),
        berlin(next_week, 12),
    ]


def test_the_manage_page_of_an_unpaid_booking_whose_hold_ran_out_offers_a_new_time(
    client: Client, service: Service, next_week: date
) -> None:
    """Before the sweep expires it, the page said the time was still held and offered to pay
    (which the expired payment link then refused)."""
    from django.utils import timezone

    location = book(client, service, berlin(next_week, 11))
    waiting = client.get(location).content.decode()
    assert "Pay with" in waiting and "This hold ran out" not in waiting
    Booking.objects.update(hold_expires_at=timezone.now() - timedelta(minutes=1))
    page = client.get(location).content.decode()
    assert "This hold ran out" in page
    assert f'href="/{service.business.slug}/book/{service.slug}/">Pick a time again</a>' in page
    assert "Pay with" not in page and "The time is held for you" not in page
    assert Booking.objects.get().state == BookingState.AWAITING_PAYMENT  # the sweep expires it


def test_the_calendar_file_is_only_for_a_confirmed_booking_and_links_only_a_working_link(
    client: Client,
    make_service,
    coach: StaffMember,
    next_week: date,
    django_capture_on_commit_callbacks,
) -> None:
    """booking.ics gave a confirmed invitation for a booking still awaiting its payment (or
    whose hold ran out), which then stayed in the customer's calendar; and from a link spent
    on a reschedule, one whose "Reschedule or cancel" link no longer worked."""
    from icalendar import Calendar

    paid = make_service("Paid call", payment_mode="full")
    unpaid = book(client, paid, berlin(next_week, 10), name="Bo", email="bo@example.com")
    assert Booking.objects.get(service=paid).state == BookingState.AWAITING_PAYMENT
    refused = client.get(unpaid + "booking.ics")
    assert refused.status_code == 409
    assert refused.content.decode() == (
        "This booking is not confirmed, so there is no calendar file for it."
    )
    Booking.objects.filter(service=paid).update(state=BookingState.EXPIRED)
    assert client.get(unpaid + "booking.ics").status_code == 409

    service = make_service("Intro call", payment_mode="later")
    with django_capture_on_commit_callbacks(execute=True):
        book(client, service, berlin(next_week, 11))
    emailed = link_in(OutboxMessage.objects.get())
    new_start = berlin(next_week + timedelta(days=1), 9)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(emailed + "reschedule/", {"start": new_start.isoformat()})
    latest = OutboxMessage.objects.get(template="booking_rescheduled")
    current = link_in(latest)

    def description(path: str) -> str:
        response = client.get(path + "booking.ics")
        assert response.status_code == 200
        [event] = Calendar.from_ical(response.content).walk("VEVENT")
        assert event.decoded("DTSTART") == new_start
        assert event["SEQUENCE"] == 1
        return str(event["DESCRIPTION"])

    assert description(current) == (
        f"Video call\nReschedule or cancel: https://shop.example.test{current}"
    )
    assert description(emailed) == "Video call"
