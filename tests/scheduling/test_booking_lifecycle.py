"""From hold to confirmation, payment, reschedule and cancellation, with the emails and calendar
files each step sends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone
from icalendar import Calendar

from tillbook.core.errors import Conflict, InvalidInput
from tillbook.messaging.models import OutboxMessage
from tillbook.payments.models import Payment, PaymentRequest, Refund, RefundState, RequestState
from tillbook.payments.sandbox import sandbox_succeed
from tillbook.payments.services import payment_start
from tillbook.scheduling.changes import booking_cancel, booking_reschedule
from tillbook.scheduling.models import (
    BLOCKING_STATES,
    Booking,
    BookingEvent,
    BookingState,
    Service,
    StaffMember,
)
from tillbook.scheduling.services import (
    CustomerDetails,
    booking_expire_due,
    booking_for_link,
    booking_hold,
    booking_submit_details,
)

from ..access import database_fingerprint
from .conftest import ANN, berlin

pytestmark = pytest.mark.django_db


def ics_of(message: OutboxMessage) -> Calendar:
    [attachment] = message.attachments
    assert attachment["filename"] == "booking.ics"
    return Calendar.from_ical(attachment["content"])


def paid_booking(
    service: Service, coach: StaffMember, start: datetime, capture
) -> tuple[Booking, str]:
    held = booking_hold(
        service=service,
        duration_minutes=60,
        start=start,
        staff=coach,
        customer_timezone="Europe/Berlin",
    )
    booking = booking_submit_details(booking=held.booking, details=ANN)
    with capture(execute=True):
        started = payment_start(
            request=booking.payment_request, provider="sandbox", return_url="https://x.test/r"
        )
        sandbox_succeed(started.payment)
    return Booking.objects.get(pk=booking.pk), held.secret


def test_details_then_payment_confirm_once_with_a_calendar_file(
    service: Service, coach: StaffMember, next_week: date, django_capture_on_commit_callbacks
) -> None:
    start = berlin(next_week, 14)
    held = booking_hold(
        service=service,
        duration_minutes=60,
        start=start,
        staff=coach,
        customer_timezone="Europe/Berlin",
    )
    booking = booking_submit_details(booking=held.booking, details=ANN)
    assert booking.state == BookingState.AWAITING_PAYMENT
    request = booking.payment_request
    assert (request.purpose, request.purpose_id, request.amount, request.currency) == (
        "booking",
        str(booking.pk),
        12000,
        "USD",
    )
    assert OutboxMessage.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        started = payment_start(request=request, provider="sandbox", return_url="https://x.test/")
        sandbox_succeed(started.payment)
        sandbox_succeed(started.payment)  # the webhook arrives again: nothing more happens
    booking.refresh_from_db()
    assert booking.state == BookingState.CONFIRMED
    assert booking.customer.email == "ann@example.com"
    [message] = OutboxMessage.objects.all()
    assert message.template == "booking_confirmed"
    assert message.subject == (
        f"Confirmed: Coaching call on {start:%A %-d %B %Y}, 14:00 (Europe/Berlin)"
    )
    assert "free of charge until 24 hours before the start" in message.body_text
    assert "100% of the price is kept as a late-cancellation fee" in message.body_text
    calendar = ics_of(message)
    assert calendar["METHOD"] == "REQUEST"
    [event] = calendar.walk("VEVENT")
    assert event["UID"] == f"booking-{booking.uid}@tillbook"
    assert event["SEQUENCE"] == 0
    assert event["STATUS"] == "CONFIRMED"
    assert event.decoded("DTSTART") == start
    assert (
        event["DTSTART"].to_ical()
        == start.astimezone(__import__("datetime").UTC).strftime("%Y%m%dT%H%M%SZ").encode()
    )
    assert event.decoded("DTEND") == start + timedelta(hours=1)
    assert list(BookingEvent.objects.values_list("kind", flat=True)) == [
        "held",
        "details",
        "confirmed",
    ]


def test_pay_later_confirms_at_once(
    make_service: Callable[..., Service], coach: StaffMember, next_week: date
) -> None:
    service = make_service(payment_mode="later")
    held = booking_hold(
        service=service, duration_minutes=30, start=berlin(next_week, 9), staff=coach
    )
    booking = booking_submit_details(booking=held.booking, details=ANN)
    assert booking.state == BookingState.CONFIRMED
    assert booking.payment_request is None
    assert OutboxMessage.objects.get().template == "booking_confirmed"


def test_a_percentage_deposit_is_what_is_asked_now(
    make_service: Callable[..., Service], coach: StaffMember, next_week: date
) -> None:
    service = make_service(payment_mode="deposit_percent", deposit_percent=25)
    held = booking_hold(
        service=service, duration_minutes=60, start=berlin(next_week, 9), staff=coach
    )
    booking = booking_submit_details(booking=held.booking, details=ANN)
    assert (booking.price, booking.deposit, booking.payment_request.amount) == (12000, 3000, 3000)


def test_a_double_submit_of_details_is_refused_and_changes_nothing(
    service: Service, coach: StaffMember, next_week: date
) -> None:
    held = booking_hold(
        service=service, duration_minutes=60, start=berlin(next_week, 9), staff=coach
    )
    booking_submit_details(booking=held.booking, details=ANN)
    before = list(Booking.objects.values())
    with pytest.raises(Conflict) as refused:
        booking_submit_details(
            booking=held.booking, details=CustomerDetails(name="Bob", email="bob@example.com")
        )
    assert refused.value.message == "Your details are in; the booking is waiting for payment."
    assert list(Booking.objects.values()) == before
    assert PaymentRequest.objects.count() == 1
    assert OutboxMessage.objects.count() == 0


def test_an_expired_hold_is_refused_and_its_time_is_free_again(
    service: Service, coach: StaffMember, next_week: date
) -> None:
    start = berlin(next_week, 9)
    held = booking_hold(service=service, duration_minutes=60, start=start, staff=coach)
    later = timezone.now() + timedelta(minutes=11)
    with pytest.raises(Conflict) as refused:
        booking_submit_details(booking=held.booking, details=ANN, now=later)
    assert refused.value.message == (
        "Your hold on this time ran out after 10 minutes; please pick the time again."
    )
    assert Booking.objects.get().customer is None
    assert booking_expire_due(now=later) == 1
    assert booking_expire_due(now=later) == 0  # the sweep may run twice
    assert Booking.objects.get().state == BookingState.EXPIRED
    again = booking_hold(service=service, duration_minutes=60, start=start, staff=coach, now=later)
    assert again.booking.state == BookingState.HELD
    assert OutboxMessage.objects.count() == 0


def test_unpaid_bookings_expire_with_their_payment_request(
    service: Service, coach: StaffMember, next_week: date
) -> None:
    held = booking_hold(
        service=service, duration_minutes=60, start=berlin(next_week, 9), staff=coach
    )
    booking = booking_submit_details(booking=held.booking, details=ANN)
    assert booking_expire_due(now=timezone.now() + timedelta(minutes=21)) == 1
    booking.refresh_from_db()
    assert booking.state == BookingState.EXPIRED
    assert booking.payment_request.state == RequestState.EXPIRED


def test_intake_answers_are_checked_and_kept(
    make_service: Callable[..., Service], coach: StaffMember, next_week: date
) -> None:
    service = make_service(
        payment_mode="later",
        questions=[
            {"label": "What would you like to work on?", "kind": "text", "is_required": True},
            {"label": "Level", "kind": "choice", "choices": ["New", "Experienced"]},
        ],
    )
    first, second = service.questions.all()
    held = booking_hold(
        service=service, duration_minutes=30, start=berlin(next_week, 9), staff=coach
    )
    with pytest.raises(InvalidInput) as refused:
        booking_submit_details(
            booking=held.booking,
            details=CustomerDetails(
                name="Ann", email="ann@example.com", answers={second.pk: "Guru"}
            ),
        )
    assert refused.value.field_errors == {
        f"question_{first.pk}": ["Required."],
        f"question_{second.pk}": ["Choose one of the options."],
    }
    assert Booking.objects.get().state == BookingState.HELD
    booking = booking_submit_details(
        booking=held.booking,
        details=CustomerDetails(
            name="Ann",
            email="ann@example.com",
            answers={first.pk: "Public speaking", second.pk: "New"},
        ),
    )
    assert booking.answers == [
        {"question": "What would you like to work on?", "answer": "Public speaking"},
        {"question": "Level", "answer": "New"},
    ]


def test_on_site_bookings_must_be_inside_the_service_area(
    make_service: Callable[..., Service], coach: StaffMember, next_week: date
) -> None:
    from decimal import Decimal

    service = make_service(
        payment_mode="later",
        location_kind="customer",
        service_postal_codes="10115, 10117",
        base_latitude=Decimal("52.520008"),
        base_longitude=Decimal("13.404954"),
        service_radius_km=10,
        travel_minutes=30,
    )
    held = booking_hold(
        service=service, duration_minutes=60, start=berlin(next_week, 11), staff=coach
    )
    assert held.booking.blocking_start == berlin(next_week, 10, 30)
    far = CustomerDetails(
        name="Ann",
        email="ann@example.com",
        address="Marktplatz 1",
        postal_code="80331",
        latitude=48.137,
        longitude=11.575,
    )
    with pytest.raises(InvalidInput) as refused:
        booking_submit_details(booking=held.booking, details=far)
    assert refused.value.message == "Sorry, 80331 is outside the area Coaching call covers."
    near = CustomerDetails(
        name="Ann",
        email="ann@example.com",
        address="Pankow 3",
        postal_code="13187",
        latitude=52.569,
        longitude=13.402,
    )
    booking = booking_submit_details(booking=held.booking, details=near)
    assert booking.location_text == "Pankow 3, 13187"


def test_reschedule_through_the_link_moves_it_and_spends_the_link(
    service: Service, coach: StaffMember, next_week: date, django_capture_on_commit_callbacks
) -> None:
    booking, _ = paid_booking(
        service, coach, berlin(next_week, 14), django_capture_on_commit_callbacks
    )
    confirmation = OutboxMessage.objects.get(template="booking_confirmed")
    secret = confirmation.body_text.split("/booking/")[1].split("/")[0]
    booking, link = booking_for_link(business_id=booking.business_id, secret=secret)
    new_start = berlin(next_week + timedelta(days=1), 10)
    moved = booking_reschedule(booking=booking, start=new_start, link=link)
    assert moved.booking.start == new_start
    assert moved.booking.sequence == 1
    message = OutboxMessage.objects.get(template="booking_rescheduled")
    event = ics_of(message).walk("VEVENT")[0]
    assert (event["UID"], event["SEQUENCE"]) == (f"booking-{booking.uid}@tillbook", 1)
    assert event.decoded("DTSTART") == new_start
    assert moved.secret in message.body_text and secret not in message.body_text

    before = list(Booking.objects.values())
    with pytest.raises(Conflict) as refused:
        booking_reschedule(booking=booking, start=berlin(next_week, 16), link=link)
    assert refused.value.message == (
        "This link was already used to reschedule, so it no longer changes the booking. "
        "Use the link in your latest confirmation email."
    )
    assert list(Booking.objects.values()) == before
    assert OutboxMessage.objects.count() == 2


def test_cancelling_in_good_time_refunds_everything(
    service: Service, coach: StaffMember, next_week: date, django_capture_on_commit_callbacks
) -> None:
    booking, secret = paid_booking(
        service, coach, berlin(next_week, 14), django_capture_on_commit_callbacks
    )
    _, link = booking_for_link(business_id=booking.business_id, secret=secret)
    cancelled, terms = booking_cancel(booking=booking, link=link)
    assert cancelled.state == BookingState.CANCELLED
    assert (terms.is_late, terms.fee.amount, terms.refund.amount) == (False, 0, 12000)
    payment = Payment.objects.get()
    assert [(r.amount, r.state) for r in payment.refunds.all()] == [(12000, RefundState.SUCCEEDED)]
    message = OutboxMessage.objects.get(template="booking_cancelled")
    assert "$120.00 will be refunded" in message.body_text
    assert "late-cancellation fee" not in message.body_text
    calendar = ics_of(message)
    assert calendar["METHOD"] == "CANCEL"
    event = calendar.walk("VEVENT")[0]
    assert (event["STATUS"], event["SEQUENCE"]) == ("CANCELLED", 1)


def test_a_late_cancellation_keeps_the_fee_and_says_so(
    make_service: Callable[..., Service], coach: StaffMember, django_capture_on_commit_callbacks
) -> None:
    service = make_service(payment_mode="full", cancel_window_hours=48, late_cancel_fee_percent=50)
    start = timezone.now() + timedelta(days=1)
    from tillbook.scheduling.setup import staff_hours_set

    staff_hours_set(staff=coach, weekly={day: [(0, 1440)] for day in range(7)})
    start = start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    booking, secret = paid_booking(service, coach, start, django_capture_on_commit_callbacks)
    _, link = booking_for_link(business_id=booking.business_id, secret=secret)
    cancelled, terms = booking_cancel(booking=booking, link=link)
    assert (terms.is_late, terms.fee.amount, terms.refund.amount) == (True, 6000, 6000)
    assert cancelled.cancellation_fee == 6000
    message = OutboxMessage.objects.get(template="booking_cancelled")
    assert "so $60.00 is kept as the late-cancellation fee" in message.body_text
    assert "$60.00 will be refunded" in message.body_text


def test_a_cancelled_booking_cannot_be_cancelled_again(
    service: Service, coach: StaffMember, next_week: date, django_capture_on_commit_callbacks
) -> None:
    booking, secret = paid_booking(
        service, coach, berlin(next_week, 14), django_capture_on_commit_callbacks
    )
    _, link = booking_for_link(business_id=booking.business_id, secret=secret)
    booking_cancel(booking=booking, link=link)
    before = (list(Booking.objects.values()), OutboxMessage.objects.count())
    with pytest.raises(Conflict, match="already cancelled"):
        booking_cancel(booking=booking, link=link)
    assert (list(Booking.objects.values()), OutboxMessage.objects.count()) == before


def test_a_payment_after_the_hold_ran_out_reclaims_the_time_while_it_is_free(
    service: Service, coach: StaffMember, next_week: date, django_capture_on_commit_callbacks
) -> None:
    held = booking_hold(
        service=service, duration_minutes=60, start=berlin(next_week, 9), staff=coach
    )
    booking = booking_submit_details(booking=held.booking, details=ANN)
    with django_capture_on_commit_callbacks(execute=True):
        started = payment_start(
            request=booking.payment_request, provider="sandbox", return_url="https://x.test/"
        )
    booking_expire_due(now=timezone.now() + timedelta(minutes=21))
    with django_capture_on_commit_callbacks(execute=True):
        sandbox_succeed(started.payment)
    booking.refresh_from_db()
    assert (booking.state, booking.paid_without_time) == (BookingState.CONFIRMED, False)


def test_a_payment_after_the_time_was_taken_is_listed_for_staff_never_lost(
    service: Service, coach: StaffMember, next_week: date, django_capture_on_commit_callbacks
) -> None:
    from tillbook.scheduling.selectors import paid_without_time

    start = berlin(next_week, 9)
    held = booking_hold(service=service, duration_minutes=60, start=start, staff=coach)
    booking = booking_submit_details(booking=held.booking, details=ANN)
    with django_capture_on_commit_callbacks(execute=True):
        started = payment_start(
            request=booking.payment_request, provider="sandbox", return_url="https://x.test/"
        )
    later = timezone.now() + timedelta(minutes=21)
    booking_expire_due(now=later)
    booking_hold(service=service, duration_minutes=60, start=start, staff=coach, now=later)
    with django_capture_on_commit_callbacks(execute=True):
        sandbox_succeed(started.payment)
    booking.refresh_from_db()
    assert (booking.state, booking.paid_without_time) == (BookingState.EXPIRED, True)
    assert list(paid_without_time(business=booking.business)) == [booking]
    assert Payment.objects.get().state == "succeeded"
    assert OutboxMessage.objects.filter(template="booking_confirmed").count() == 0


def test_the_invitation_names_its_organizer_and_its_attendee_and_its_charset_once(
    service: Service,
    coach: StaffMember,
    next_week: date,
    django_capture_on_commit_callbacks,
    settings,
) -> None:
    """A business without a contact address sent invitations with no ORGANIZER, and none had
    an ATTENDEE (RFC 5546 wants both in a REQUEST); the attachment's type named its charset
    twice."""
    from tillbook.messaging.services import _email_for

    settings.DEFAULT_FROM_EMAIL = "Tillbook <bookings@tillbook.example>"
    assert service.business.contact_email == ""
    paid_booking(service, coach, berlin(next_week, 14), django_capture_on_commit_callbacks)
    message = OutboxMessage.objects.get(template="booking_confirmed")
    calendar = ics_of(message)
    assert calendar["METHOD"] == "REQUEST"
    [event] = calendar.walk("VEVENT")
    assert str(event["ORGANIZER"]) == "mailto:bookings@tillbook.example"
    assert str(event["ATTENDEE"]) == "mailto:ann@example.com"
    assert event["ATTENDEE"].params["CN"] == "Ann Example"
    mime = _email_for(message).message()
    [part] = [p for p in mime.walk() if p.get_content_type() == "text/calendar"]
    assert [name.lower() for name, _ in part.get_params()] == ["text/calendar", "method", "charset"]


def test_an_unpaid_booking_moved_gets_no_calendar_event(
    service: Service, coach: StaffMember, next_week: date
) -> None:
    """Moving a booking still waiting for its payment sent a CONFIRMED event; when the hold
    ran out, nothing took it out of the customer's calendar."""
    held = booking_hold(
        service=service,
        duration_minutes=60,
        start=berlin(next_week, 14),
        staff=coach,
        customer_timezone="Europe/Berlin",
    )
    booking = booking_submit_details(booking=held.booking, details=ANN)
    assert booking.state == BookingState.AWAITING_PAYMENT
    booking, link = booking_for_link(business_id=booking.business_id, secret=held.secret)
    booking_reschedule(booking=booking, start=berlin(next_week + timedelta(days=1), 10), link=link)
    assert Booking.objects.get(pk=booking.pk).state == BookingState.AWAITING_PAYMENT
    moved = OutboxMessage.objects.get(template="booking_rescheduled")
    assert moved.attachments == []


@pytest.mark.parametrize("moved_by", ["customer", "staff", "api"])
def test_an_unpaid_booking_whose_hold_ran_out_cannot_be_moved(
    service: Service, coach: StaffMember, next_week: date, owner, moved_by: str
) -> None:
    """A booking waiting for its payment could still be moved after its hold ran out, until
    the sweep expired it: the move took another time for a booking that no longer holds any,
    spent the customer's link and emailed a new time the sweep then let go."""
    start = berlin(next_week, 14)
    held = booking_hold(
        service=service,
        duration_minutes=60,
        start=start,
        staff=coach,
        customer_timezone="Europe/Berlin",
    )
    booking = booking_submit_details(booking=held.booking, details=ANN)
    booking, link = booking_for_link(business_id=booking.business_id, secret=held.secret)
    runs_out = booking.hold_expires_at
    assert runs_out is not None
    mover = {"customer": {"link": link}, "staff": {"actor": owner}, "api": {"as_business": True}}
    before = database_fingerprint()
    with pytest.raises(Conflict) as refused:
        booking_reschedule(
            booking=booking,
            start=berlin(next_week + timedelta(days=1), 10),
            now=runs_out,  # the instant the sweep expires it
            **mover[moved_by],
        )
    assert refused.value.message == (
        "The time held for this booking ran out before it was paid, so it can no longer be "
        "moved; please pick a time again."
    )
    assert database_fingerprint() == before
    stored = Booking.objects.get()
    assert (stored.start, stored.end, stored.state, stored.hold_expires_at) == (
        start,
        start + timedelta(hours=1),
        BookingState.AWAITING_PAYMENT,
        runs_out,
    )
    assert stored.payment_request.state == RequestState.OPEN
    assert OutboxMessage.objects.count() == 0


def test_a_returning_customer_who_ticks_the_marketing_box_on_a_booking_page_consents(
    service: Service, coach: StaffMember, next_week: date
) -> None:
    from dataclasses import replace

    from tillbook.customers.models import ConsentSource, Customer

    first = booking_hold(
        service=service, duration_minutes=60, start=berlin(next_week, 9), staff=coach
    )
    booking_submit_details(booking=first.booking, details=ANN)
    assert Customer.objects.get().marketing_consent is False
    second = booking_hold(
        service=service, duration_minutes=60, start=berlin(next_week, 11), staff=coach
    )
    booking_submit_details(booking=second.booking, details=replace(ANN, marketing_consent=True))
    customer = Customer.objects.get()
    assert (customer.marketing_consent, customer.consent_source) == (True, ConsentSource.BOOKING)


def test_a_late_payment_for_a_class_seat_does_not_overfill_the_class(
    make_service: Callable[..., Service],
    coach: StaffMember,
    next_week: date,
    django_capture_on_commit_callbacks,
) -> None:
    """A seat whose hold ran out was re-claimed by its late payment even when the class had
    filled up meanwhile: three people in a class for two."""
    from tillbook.core.money import Money
    from tillbook.scheduling.selectors import paid_without_time

    workshop = make_service("Workshop", capacity=2, durations=[(90, Money(5000, "USD"))])
    start = berlin(next_week, 10)
    held = booking_hold(service=workshop, duration_minutes=90, start=start, staff=coach)
    booking = booking_submit_details(booking=held.booking, details=ANN)
    with django_capture_on_commit_callbacks(execute=True):
        started = payment_start(
            request=booking.payment_request, provider="sandbox", return_url="https://x.test/"
        )
    later = timezone.now() + timedelta(minutes=21)
    assert booking_expire_due(now=later) == 1
    for _ in range(2):
        booking_hold(service=workshop, duration_minutes=90, start=start, staff=coach, now=later)
    with django_capture_on_commit_callbacks(execute=True):
        sandbox_succeed(started.payment)
    booking.refresh_from_db()
    assert (booking.state, booking.paid_without_time) == (BookingState.EXPIRED, True)
    assert list(paid_without_time(business=booking.business)) == [booking]
    assert (
        sum(Booking.objects.filter(state__in=BLOCKING_STATES).values_list("seats", flat=True)) == 2
    )
    assert OutboxMessage.objects.filter(template="booking_confirmed").count() == 0


def test_a_late_payment_for_a_class_seat_reclaims_it_while_seats_are_left(
    make_service: Callable[..., Service],
    coach: StaffMember,
    next_week: date,
    django_capture_on_commit_callbacks,
) -> None:
    from tillbook.core.money import Money

    workshop = make_service("Workshop", capacity=2, durations=[(90, Money(5000, "USD"))])
    start = berlin(next_week, 10)
    held = booking_hold(service=workshop, duration_minutes=90, start=start, staff=coach)
    booking = booking_submit_details(booking=held.booking, details=ANN)
    with django_capture_on_commit_callbacks(execute=True):
        started = payment_start(
            request=booking.payment_request, provider="sandbox", return_url="https://x.test/"
        )
    later = timezone.now() + timedelta(minutes=21)
    assert booking_expire_due(now=later) == 1
    booking_hold(service=workshop, duration_minutes=90, start=start, staff=coach, now=later)
    with django_capture_on_commit_callbacks(execute=True):
        sandbox_succeed(started.payment)
    booking.refresh_from_db()
    assert (booking.state, booking.paid_without_time) == (BookingState.CONFIRMED, False)


def test_a_late_payment_does_not_reclaim_time_staff_blocked_meanwhile(
    service: Service,
    coach: StaffMember,
    next_week: date,
    owner,
    django_capture_on_commit_callbacks,
) -> None:
    """After a hold ran out, the coach blocked the afternoon; the late payment still put the
    booking into the blocked time."""
    from tillbook.scheduling.selectors import paid_without_time
    from tillbook.scheduling.staff_actions import time_block_create

    held = booking_hold(
        service=service, duration_minutes=60, start=berlin(next_week, 14), staff=coach
    )
    booking = booking_submit_details(booking=held.booking, details=ANN)
    with django_capture_on_commit_callbacks(execute=True):
        started = payment_start(
            request=booking.payment_request, provider="sandbox", return_url="https://x.test/"
        )
    assert booking_expire_due(now=timezone.now() + timedelta(minutes=21)) == 1
    time_block_create(
        staff=coach,
        start=berlin(next_week, 13),
        end=berlin(next_week, 17),
        reason="Dentist",
        actor=owner,
    )
    with django_capture_on_commit_callbacks(execute=True):
        sandbox_succeed(started.payment)
    booking.refresh_from_db()
    assert (booking.state, booking.paid_without_time) == (BookingState.EXPIRED, True)
    assert list(paid_without_time(business=booking.business)) == [booking]
    assert OutboxMessage.objects.filter(template="booking_confirmed").count() == 0


def test_a_customer_cannot_cancel_a_booking_that_has_already_started(
    make_service: Callable[..., Service],
    coach: StaffMember,
    next_week: date,
    django_capture_on_commit_callbacks,
) -> None:
    """The manage link cancelled a session after it took place, refunding the part of the
    price the late-cancellation fee does not keep."""
    service = make_service(payment_mode="full", late_cancel_fee_percent=50)
    start = berlin(next_week, 14)
    booking, secret = paid_booking(service, coach, start, django_capture_on_commit_callbacks)
    _, link = booking_for_link(business_id=booking.business_id, secret=secret)
    before = (list(Booking.objects.values()), OutboxMessage.objects.count())
    with pytest.raises(Conflict) as refused:
        booking_cancel(booking=booking, link=link, now=start + timedelta(hours=2))
    assert refused.value.message == (
        "This booking has already started, so it can no longer be cancelled online. "
        "Please contact Acme Coaching."
    )
    assert (list(Booking.objects.values()), OutboxMessage.objects.count()) == before
    assert Payment.objects.get().refunds.count() == 0


def test_cancelling_in_good_time_refunds_the_balance_paid_by_link_too(
    make_service: Callable[..., Service],
    coach: StaffMember,
    next_week: date,
    owner,
    django_capture_on_commit_callbacks,
) -> None:
    """Only the deposit came back: the balance the customer paid through staff's payment link
    stayed with the business although the policy says cancelling in good time is free."""
    from tillbook.core.money import Money
    from tillbook.scheduling.staff_actions import booking_request_payment

    service = make_service(payment_mode="deposit_percent", deposit_percent=25)
    booking, secret = paid_booking(
        service, coach, berlin(next_week, 14), django_capture_on_commit_callbacks
    )
    assert booking.state == BookingState.CONFIRMED
    balance = booking_request_payment(
        booking=booking, amount=Money(9000, "USD"), reason="Balance", actor=owner
    )
    with django_capture_on_commit_callbacks(execute=True):
        started = payment_start(request=balance, provider="sandbox", return_url="https://x.test/")
        sandbox_succeed(started.payment)
    _, link = booking_for_link(business_id=booking.business_id, secret=secret)
    with django_capture_on_commit_callbacks(execute=True):
        _, terms = booking_cancel(booking=booking, link=link)
    assert (terms.is_late, terms.fee.amount, terms.refund.amount) == (False, 0, 12000)
    refunded = {
        payment.amount: [(r.amount, r.state) for r in payment.refunds.all()]
        for payment in Payment.objects.all()
    }
    assert refunded == {
        3000: [(3000, RefundState.SUCCEEDED)],
        9000: [(9000, RefundState.SUCCEEDED)],
    }
    message = OutboxMessage.objects.get(template="booking_cancelled")
    assert "$120.00 will be refunded" in message.body_text


def test_cancelling_after_a_partial_refund_promises_only_what_is_left(
    make_service: Callable[..., Service],
    coach: StaffMember,
    next_week: date,
    owner,
    django_capture_on_commit_callbacks,
) -> None:
    """Staff gave 40.00 of a 120.00 booking back as a goodwill gesture; the customer then
    cancels in good time: 80.00 comes back, and the email says 80.00, not 120.00."""
    from tillbook.core.money import Money
    from tillbook.payments.services import refund_create

    service = make_service(payment_mode="full")
    booking, secret = paid_booking(
        service, coach, berlin(next_week, 14), django_capture_on_commit_callbacks
    )
    payment = Payment.objects.get()
    assert (booking.state, payment.amount) == (BookingState.CONFIRMED, 12000)
    with django_capture_on_commit_callbacks(execute=True):
        refund_create(payment=payment, amount=Money(4000, "USD"), reason="Sorry", actor=owner)
    _, link = booking_for_link(business_id=booking.business_id, secret=secret)
    with django_capture_on_commit_callbacks(execute=True):
        _, terms = booking_cancel(booking=booking, link=link)
    assert (terms.is_late, terms.fee.amount, terms.refund.amount) == (False, 0, 8000)
    assert sorted(r.amount for r in payment.refunds.all()) == [4000, 8000]
    message = OutboxMessage.objects.get(template="booking_cancelled")
    assert "$80.00 will be refunded" in message.body_text


def test_a_late_cancellation_of_an_unpaid_booking_claims_no_fee_it_did_not_keep(
    make_service: Callable[..., Service], coach: StaffMember, django_capture_on_commit_callbacks
) -> None:
    """Pay later, cancelled inside the window: nothing was paid, so nothing is kept; the email
    said "$0.00 is kept as the late-cancellation fee"."""
    from tillbook.scheduling.setup import staff_hours_set

    service = make_service(payment_mode="later", cancel_window_hours=48, late_cancel_fee_percent=50)
    staff_hours_set(staff=coach, weekly={day: [(0, 1440)] for day in range(7)})
    start = (timezone.now() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    held = booking_hold(
        service=service, duration_minutes=60, start=start + timedelta(hours=1), staff=coach
    )
    booking = booking_submit_details(booking=held.booking, details=ANN)
    _, link = booking_for_link(business_id=booking.business_id, secret=held.secret)
    with django_capture_on_commit_callbacks(execute=True):
        cancelled, terms = booking_cancel(booking=booking, link=link)
    assert (terms.is_late, terms.fee.amount, terms.refund.amount) == (True, 0, 0)
    assert cancelled.cancellation_fee == 0
    message = OutboxMessage.objects.get(template="booking_cancelled")
    assert "late-cancellation fee" not in message.body_text
    assert "refunded" not in message.body_text
    assert "is cancelled." in message.body_text


@pytest.mark.parametrize("cancelled_by", ["customer", "staff"])
def test_a_cancelled_bookings_balance_link_no_longer_takes_a_payment(
    make_service: Callable[..., Service],
    coach: StaffMember,
    next_week: date,
    owner,
    client,
    cancelled_by: str,
    django_capture_on_commit_callbacks,
) -> None:
    """Staff's balance link stayed payable after the booking was cancelled: the customer could
    pay the rest of the price of a session that no longer takes place."""
    from django.urls import reverse

    from tillbook.core.money import Money
    from tillbook.scheduling.staff_actions import booking_request_payment

    service = make_service(payment_mode="deposit_percent", deposit_percent=25)
    booking, secret = paid_booking(
        service, coach, berlin(next_week, 14), django_capture_on_commit_callbacks
    )
    balance = booking_request_payment(
        booking=booking, amount=Money(9000, "USD"), reason="Balance", actor=owner
    )
    other, _ = paid_booking(
        service, coach, berlin(next_week, 16), django_capture_on_commit_callbacks
    )
    others_balance = booking_request_payment(
        booking=other, amount=Money(9000, "USD"), reason="Balance", actor=owner
    )
    _, link = booking_for_link(business_id=booking.business_id, secret=secret)
    with django_capture_on_commit_callbacks(execute=True):
        if cancelled_by == "customer":
            booking_cancel(booking=booking, link=link)
        else:
            booking_cancel(booking=booking, actor=owner)

    states = dict(PaymentRequest.objects.values_list("pk", "state"))
    assert states == {
        booking.payment_request_id: RequestState.PAID,
        balance.pk: RequestState.CANCELLED,
        other.payment_request_id: RequestState.PAID,
        others_balance.pk: RequestState.OPEN,
    }
    page = reverse("storefront:pay", args=[balance.token])
    shown = client.get(page)
    tried = client.post(page, {"provider": "sandbox"})
    assert (shown.status_code, tried.status_code) == (410, 410)
    assert "This payment request is no longer open." in tried.content.decode()
    with pytest.raises(Conflict) as refused:
        payment_start(
            request=PaymentRequest.objects.get(pk=balance.pk),
            provider="sandbox",
            return_url="https://x.test/",
        )
    assert refused.value.message == "This payment request is no longer open."
    assert sorted(Payment.objects.values_list("amount", "state")) == [
        (3000, "succeeded"),
        (3000, "succeeded"),
    ]
    refunds = [(r.payment.amount, r.amount) for r in Refund.objects.select_related("payment")]
    assert refunds == [(3000, 3000)]
    assert Booking.objects.get(pk=other.pk).state == BookingState.CONFIRMED


def test_staff_cannot_send_a_payment_link_for_a_cancelled_booking(
    make_service: Callable[..., Service],
    coach: StaffMember,
    next_week: date,
    owner,
    owner_client,
    django_capture_on_commit_callbacks,
) -> None:
    """The page offers no link for a cancelled booking, but the action sent one (a page opened
    before the customer cancelled): the customer could pay the balance of a session that was
    cancelled and refunded, and nothing would close that link."""
    from django.urls import reverse

    from tillbook.core.money import Money
    from tillbook.scheduling.staff_actions import booking_request_payment

    service = make_service(payment_mode="full")
    booking, secret = paid_booking(
        service, coach, berlin(next_week, 14), django_capture_on_commit_callbacks
    )
    _, link = booking_for_link(business_id=booking.business_id, secret=secret)
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(booking=booking, link=link)
    assert [(r.amount, r.state) for r in Refund.objects.all()] == [(12000, RefundState.SUCCEEDED)]
    before = database_fingerprint()
    action = reverse("backoffice:calendar_booking_action", args=[service.business.slug, booking.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(action, {"action": "request_payment", "amount": "120.00"})
    assert response.status_code == 409
    assert (
        "Only a confirmed, completed or no-show booking can be sent a payment link; "
        "this one is cancelled."
    ) in response.content.decode()
    with pytest.raises(Conflict):
        booking_request_payment(
            booking=booking, amount=Money(12000, "USD"), reason="Balance", actor=owner
        )
    assert database_fingerprint() == before
    assert PaymentRequest.objects.get().pk == booking.payment_request_id
    assert Booking.objects.get().state == BookingState.CANCELLED
    assert OutboxMessage.objects.filter(template="booking_payment_link").count() == 0


@pytest.mark.parametrize(
    ("limit", "other_day", "reclaimed"),
    [
        ({"max_per_day": 1}, 0, False),
        ({"max_per_week": 1}, 1, False),
        ({"max_per_day": 2}, 0, True),
        ({"max_per_day": 1}, 1, True),
    ],
)
def test_a_late_payment_reclaims_its_time_only_within_the_services_limits(
    make_service: Callable[..., Service],
    coach: StaffMember,
    next_week: date,
    limit: dict[str, int],
    other_day: int,
    reclaimed: bool,
    django_capture_on_commit_callbacks,
) -> None:
    """A coach who takes one session a day got a second one that day: the payment of a hold
    that ran out re-claimed its time although someone else had booked the day's session."""
    from tillbook.scheduling.selectors import paid_without_time

    service = make_service(payment_mode="full", **limit)
    held = booking_hold(
        service=service, duration_minutes=60, start=berlin(next_week, 9), staff=coach
    )
    booking = booking_submit_details(booking=held.booking, details=ANN)
    with django_capture_on_commit_callbacks(execute=True):
        started = payment_start(
            request=booking.payment_request, provider="sandbox", return_url="https://x.test/"
        )
    later = timezone.now() + timedelta(minutes=21)
    assert booking_expire_due(now=later) == 1
    other = berlin(next_week + timedelta(days=other_day), 14)
    booking_hold(service=service, duration_minutes=60, start=other, staff=coach, now=later)
    with django_capture_on_commit_callbacks(execute=True):
        sandbox_succeed(started.payment)

    booking.refresh_from_db()
    assert (booking.state, booking.paid_without_time) == (
        (BookingState.CONFIRMED, False) if reclaimed else (BookingState.EXPIRED, True)
    )
    assert list(paid_without_time(business=booking.business)) == ([] if reclaimed else [booking])
    confirmations = OutboxMessage.objects.filter(template="booking_confirmed").count()
    assert confirmations == (1 if reclaimed else 0)


def test_the_reason_staff_give_for_cancelling_is_sent_to_the_customer(
    service: Service,
    coach: StaffMember,
    next_week: date,
    owner,
    django_capture_on_commit_callbacks,
) -> None:
    """The back office asks for a "Reason (sent to the customer)", but the cancellation email
    never said it: the customer learnt only that the session was off."""
    import email
    import email.policy

    from tillbook.messaging.services import _email_for

    booking, _ = paid_booking(
        service, coach, berlin(next_week, 14), django_capture_on_commit_callbacks
    )
    booking_cancel(booking=booking, actor=owner, reason="Carla is ill <and> sorry\r\nabout it")
    message = OutboxMessage.objects.get(template="booking_cancelled")
    assert "\nReason: Carla is ill <and> sorry about it\n" in message.body_text
    assert "<p>Reason: Carla is ill &lt;and&gt; sorry about it</p>" in message.body_html
    parsed = email.message_from_bytes(
        _email_for(message).message().as_bytes(), policy=email.policy.default
    )
    assert "Reason: Carla is ill <and> sorry about it" in parsed.get_body(("plain",)).get_content()


def test_the_customers_own_reason_is_not_echoed_back(
    service: Service, coach: StaffMember, next_week: date, django_capture_on_commit_callbacks
) -> None:
    booking, secret = paid_booking(
        service, coach, berlin(next_week, 14), django_capture_on_commit_callbacks
    )
    _, link = booking_for_link(business_id=booking.business_id, secret=secret)
    booking_cancel(booking=booking, link=link, reason="Found another coach")
    message = OutboxMessage.objects.get(template="booking_cancelled")
    assert "Reason" not in message.body_text
    assert "Found another coach" not in message.body_html
