"""Calendar: day and week views per staff member, booking detail and actions, booking for a
customer, blocked time, calendar feeds and imports, CSV export, the embed snippet."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from tillbook.backoffice.access import business_of, business_view, page, user_of
from tillbook.backoffice.calendar_forms import (
    BlockForm,
    BookForCustomerForm,
    ImportForm,
    ServiceForm,
    StaffMemberForm,
    parse_local,
)
from tillbook.backoffice.views.helpers import apply_error, csv_response
from tillbook.core.errors import InvalidInput, TillbookError
from tillbook.core.links import absolute_url
from tillbook.core.models import Business, Role
from tillbook.core.money import InvalidAmount, Money
from tillbook.core.tasks import enqueue_on_commit
from tillbook.insights.periods import within_years
from tillbook.payments.models import Payment, PaymentRequest
from tillbook.scheduling.changes import booking_cancel, booking_reschedule
from tillbook.scheduling.imports import busy_times_store
from tillbook.scheduling.models import (
    BOOKING_PURPOSES,
    Booking,
    CalendarImport,
    Service,
    StaffMember,
)
from tillbook.scheduling.selectors import blocks_between, bookings_between, paid_without_time
from tillbook.scheduling.services import CustomerDetails
from tillbook.scheduling.setup import (
    service_create,
    staff_feed_token_rotate,
    staff_hours_set,
    staff_member_create,
)
from tillbook.scheduling.staff_actions import (
    booking_complete,
    booking_create_for_customer,
    booking_mark_paid,
    booking_no_show,
    booking_request_payment,
    time_block_create,
)
from tillbook.scheduling.tasks import calendar_import_run


def _staff(request: HttpRequest) -> list[StaffMember]:
    return list(StaffMember.objects.filter(business=business_of(request)).order_by("name", "pk"))


def _day(text: str, zone: ZoneInfo) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    # Year 1 or 9999 would overflow the week around it: show this week instead.
    if day is None or not within_years(day):
        return timezone.now().astimezone(zone).date()
    return day


@business_view()
def calendar_home(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    staff = _staff(request)
    chosen = next((m for m in staff if str(m.pk) == request.GET.get("staff")), None)
    zone = ZoneInfo(chosen.timezone if chosen else business.timezone)
    view = "day" if request.GET.get("view") == "day" else "week"
    day = _day(request.GET.get("date", ""), zone)
    first = day if view == "day" else day - timedelta(days=day.weekday())
    days = [first + timedelta(days=n) for n in range(1 if view == "day" else 7)]
    start = datetime(first.year, first.month, first.day, tzinfo=zone)
    end = start + timedelta(days=len(days))
    staff_id = chosen.pk if chosen else None
    bookings = list(bookings_between(business=business, start=start, end=end, staff_id=staff_id))
    blocks = list(blocks_between(business=business, start=start, end=end, staff_id=staff_id))
    agenda: list[dict[str, Any]] = []
    for current in days:
        entries: list[dict[str, Any]] = [
            {"start": b.start.astimezone(zone), "end": b.end.astimezone(zone), "booking": b}
            for b in bookings
            if b.start.astimezone(zone).date() == current
        ] + [
            {"start": k.start.astimezone(zone), "end": k.end.astimezone(zone), "block": k}
            for k in blocks
            if k.start.astimezone(zone).date() <= current <= k.end.astimezone(zone).date()
        ]
        entries.sort(key=lambda entry: entry["start"].timestamp())
        agenda.append({"day": current, "entries": entries})
    step = timedelta(days=1 if view == "day" else 7)
    return page(
        request,
        "backoffice/calendar/home.html",
        {
            "staff": staff,
            "chosen": chosen,
            "zone": str(zone),
            "view": view,
            "agenda": agenda,
            "previous": (first - step).isoformat(),
            "next": (first + step).isoformat(),
            "today": timezone.now().astimezone(zone).date().isoformat(),
            "has_services": Service.objects.filter(business=business).exists(),
            "paid_without_time": list(paid_without_time(business=business)),
            "query": request.GET.urlencode(),
        },
        section="calendar",
    )


@business_view()
def calendar_export(request: HttpRequest) -> HttpResponseBase:
    business = business_of(request)

    def rows() -> Any:
        yield [
            "booking_id", "service", "staff", "customer_email", "customer_name", "state",
            "start_utc", "end_utc", "seats", "currency", "price", "deposit", "answers",
        ]  # fmt: skip
        bookings = (
            Booking.objects.filter(business=business)
            .select_related("service", "staff", "customer")
            .order_by("start", "pk")
        )
        for booking in bookings.iterator(chunk_size=2000):
            yield [
                booking.pk,
                booking.service.name,
                booking.staff.name,
                booking.customer.email if booking.customer else "",
                booking.customer.name if booking.customer else "",
                booking.state,
                booking.start.isoformat(),
                booking.end.isoformat(),
                booking.seats,
                booking.currency,
                booking.total.major_string(),
                booking.deposit_money.major_string(),
                "; ".join(f"{a['question']}: {a['answer']}" for a in booking.answers),
            ]

    stamp = timezone.localdate().isoformat()
    return csv_response(f"bookings-{business.slug}-{stamp}.csv", business=business, rows=rows)


def _booking(request: HttpRequest, booking_id: int) -> Booking:
    booking = (
        Booking.objects.filter(business=business_of(request), pk=booking_id)
        .select_related("service", "staff", "customer", "payment_request")
        .first()
    )
    if booking is None:
        raise Http404("No such booking.")
    return booking


def _booking_page(request: HttpRequest, booking: Booking, *, status: int = 200) -> HttpResponse:
    zone = ZoneInfo(booking.staff.timezone)
    requests = list(
        PaymentRequest.objects.filter(
            business=booking.business,
            purpose__in=BOOKING_PURPOSES,
            purpose_id=str(booking.pk),
        ).order_by("created_at")
    )
    payments = list(
        Payment.objects.filter(request__in=requests)
        .order_by("created_at")
        .select_related("request")
    )
    return page(
        request,
        "backoffice/calendar/booking.html",
        {
            "booking": booking,
            "local_start": booking.start.astimezone(zone),
            "local_end": booking.end.astimezone(zone),
            "customer_start": booking.start.astimezone(ZoneInfo(booking.customer_timezone)),
            "zone": str(zone),
            # The payment form's own: sent twice (a double click), it records the cash once.
            "form_key": uuid.uuid4().hex,
            "requests": requests,
            "payments": payments,
            "events": list(booking.events.all()),
        },
        status=status,
        section="calendar",
    )


@business_view()
def calendar_booking(request: HttpRequest, booking_id: int) -> HttpResponse:
    return _booking_page(request, _booking(request, booking_id))


def _money(request: HttpRequest, booking: Booking) -> Money | None:
    text = request.POST.get("amount", "").strip()
    return Money.from_typed(text, booking.currency, booking.business.locale) if text else None


@business_view()
@require_POST
def calendar_booking_action(request: HttpRequest, booking_id: int) -> HttpResponse:
    booking = _booking(request, booking_id)
    actor = user_of(request)
    action = request.POST.get("action", "")
    try:
        amount = _money(request, booking)
        if action == "complete":
            booking_complete(booking=booking, actor=actor)
            done = "Marked completed."
        elif action == "no_show":
            booking_no_show(booking=booking, actor=actor, fee=amount)
            done = "Marked as no-show" + (" and sent the fee link." if amount else ".")
        elif action == "cancel":
            booking_cancel(booking=booking, actor=actor, reason=request.POST.get("reason", ""))
            done = "Cancelled; the customer was told and anything paid is refunded."
        elif action == "request_payment":
            if amount is None:
                raise InvalidInput("Enter the amount to ask for.")
            booking_request_payment(
                booking=booking, amount=amount, reason="Balance", actor=actor,
                client_key=request.POST.get("key", "")[:64],
            )  # fmt: skip
            done = "Sent the payment link."
        elif action == "mark_paid":
            if amount is None:
                raise InvalidInput("Enter the amount received.")
            booking_mark_paid(
                booking=booking, amount=amount, method=request.POST.get("method", "cash"),
                actor=actor, client_key=request.POST.get("key", "")[:64],
            )  # fmt: skip
            done = "Recorded the payment."
        elif action == "reschedule":
            start = parse_local(request.POST.get("start", ""), booking.staff.timezone)
            booking_reschedule(booking=booking, start=start, actor=actor)
            done = "Moved; the customer got the new time."
        else:
            raise InvalidInput("Unknown action.")
    except InvalidAmount as bad:
        messages.error(request, f"The amount is not valid: {bad}")
        booking.refresh_from_db()
        return _booking_page(request, booking, status=400)
    except TillbookError as problem:
        messages.error(request, problem.message)
        booking.refresh_from_db()
        return _booking_page(request, booking, status=problem.status_code)
    messages.success(request, done)
    return redirect("backoffice:calendar_booking", business_of(request).slug, booking.pk)


@business_view()
@require_http_methods(["GET", "POST"])
def calendar_booking_new(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    form = BookForCustomerForm(request.POST or None, business=business)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                booking = booking_create_for_customer(
                    service=data["service"],
                    duration_minutes=data["duration"],
                    staff=data["staff"],
                    start=parse_local(data["start"], data["staff"].timezone),
                    details=CustomerDetails(name=data["name"], email=data["email"]),
                    actor=user_of(request),
                )
                if data["payment"] == "link":
                    booking_request_payment(
                        booking=booking, amount=booking.total, reason="Payment",
                        actor=user_of(request),
                    )  # fmt: skip
                elif data["payment"] == "paid":
                    booking_mark_paid(
                        booking=booking, amount=booking.total, method="cash",
                        actor=user_of(request),
                    )  # fmt: skip
            except TillbookError as problem:
                apply_error(form, problem)
                status = problem.status_code
            else:
                messages.success(request, "Booked; the customer got a confirmation.")
                return redirect("backoffice:calendar_booking", business.slug, booking.pk)
    return page(
        request, "backoffice/calendar/form.html",
        {"form": form, "title": "Book for a customer"}, status=status, section="calendar",
    )  # fmt: skip


@business_view()
@require_http_methods(["GET", "POST"])
def calendar_block_new(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    form = BlockForm(request.POST or None, business=business)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            staff = data["staff"]
            try:
                time_block_create(
                    staff=staff,
                    start=parse_local(data["start"], staff.timezone),
                    end=parse_local(data["end"], staff.timezone),
                    reason=data["reason"],
                    actor=user_of(request),
                )
            except TillbookError as problem:
                apply_error(form, problem)
                status = problem.status_code
            else:
                messages.success(request, "Blocked; that time is no longer bookable.")
                return redirect("backoffice:calendar", business.slug)
    return page(
        request, "backoffice/calendar/form.html",
        {"form": form, "title": "Block time"}, status=status, section="calendar",
    )  # fmt: skip


@business_view(Role.MANAGER)
def calendar_setup(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    book_url = absolute_url(reverse("storefront:booking_home", args=[business.slug]))
    return page(
        request,
        "backoffice/calendar/setup.html",
        {
            "staff": _staff(request),
            "services": Service.objects.filter(business=business).prefetch_related("durations"),
            "imports": CalendarImport.objects.filter(business=business).select_related("staff"),
            "book_url": book_url,
            "embed_script": absolute_url("/static/tillbook/embed.js"),
            "import_form": ImportForm(),
            "feed_url": request.session.pop("tillbook_feed_url", ""),
        },
        section="calendar",
    )


def _staff_member(request: HttpRequest, staff_id: int) -> StaffMember:
    member = StaffMember.objects.filter(business=business_of(request), pk=staff_id).first()
    if member is None:
        raise Http404("No such staff member.")
    return member


@business_view(Role.MANAGER)
@require_POST
def calendar_feed_rotate(request: HttpRequest, staff_id: int) -> HttpResponse:
    member = _staff_member(request, staff_id)
    secret = staff_feed_token_rotate(staff=member)
    # Shown once on the next page; only its hash is stored.
    request.session["tillbook_feed_url"] = absolute_url(
        reverse("storefront:staff_calendar_feed", args=[secret])
    )
    messages.success(request, f"New calendar feed address for {member.name}; the old one stopped.")
    return redirect("backoffice:calendar_setup", business_of(request).slug)


@business_view(Role.MANAGER)
@require_POST
def calendar_import_new(request: HttpRequest, staff_id: int) -> HttpResponse:
    member = _staff_member(request, staff_id)
    form = ImportForm(request.POST, request.FILES)
    slug = business_of(request).slug
    if not form.is_valid():
        messages.error(request, "Give a calendar address (https://…) or choose an .ics file.")
        return redirect("backoffice:calendar_setup", slug)
    upload = form.cleaned_data.get("file")
    url = form.cleaned_data.get("url") or ""
    item = CalendarImport(business=member.business, staff=member, url=url or "file://upload")
    try:
        item.save()
        if upload is not None:
            count = busy_times_store(calendar_import=item, data=upload.read(5 * 1024 * 1024))
            messages.success(request, f"Imported {count} busy times for {member.name}.")
        else:
            enqueue_on_commit(calendar_import_run, item.pk)
            messages.success(request, f"Fetching {url} in the background for {member.name}.")
    except (TillbookError, ValueError) as problem:
        item.delete()
        messages.error(request, getattr(problem, "message", str(problem)))
    return redirect("backoffice:calendar_setup", slug)


@business_view(Role.MANAGER)
@require_http_methods(["GET", "POST"])
def calendar_staff_new(request: HttpRequest) -> HttpResponse:
    """Add a bookable person with their weekly hours (in their own time zone)."""
    business = business_of(request)
    form = StaffMemberForm(request.POST or None, initial={"timezone": business.timezone})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                with transaction.atomic():
                    member = staff_member_create(
                        business=business,
                        name=form.cleaned_data["name"],
                        timezone_name=form.cleaned_data["timezone"],
                        actor=user_of(request),
                    )
                    staff_hours_set(staff=member, weekly=form.weekly(), actor=user_of(request))
            except TillbookError as problem:
                apply_error(form, problem)
                status = problem.status_code
            else:
                messages.success(request, f"Added {member.name}.")
                return redirect("backoffice:calendar_setup", business.slug)
    return page(
        request, "backoffice/calendar/form.html",
        {"form": form, "title": "Add a bookable person"}, status=status, section="calendar",
    )  # fmt: skip


def _deposit(text: str, business: Business) -> dict[str, Any]:
    text = (text or "").strip()
    if not text:
        return {}
    if text.endswith("%"):
        return {"deposit_percent": int(text[:-1].strip())}
    return {"deposit_amount": Money.from_typed(text, business.currency, business.locale).amount}


@business_view(Role.MANAGER)
@require_http_methods(["GET", "POST"])
def calendar_service_new(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    form = ServiceForm(request.POST or None, business=business)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            options = {
                name: data[name]
                for name in (
                    "description", "location_kind", "location_detail", "payment_mode",
                    "capacity", "interval_minutes", "buffer_before_minutes",
                    "buffer_after_minutes", "min_notice_minutes", "horizon_days",
                    "cancel_window_hours", "late_cancel_fee_percent",
                )
            }  # fmt: skip
            try:
                options.update(_deposit(data["deposit"], business))
                service = service_create(
                    business=business,
                    name=data["name"],
                    durations=data["durations"],
                    staff=list(data["staff"]),
                    reminder_offsets=data["reminders"],
                    actor=user_of(request),
                    **options,
                )
            except (ValueError, InvalidAmount):
                form.add_error("deposit", "Write an amount (25.00) or a percentage (30%).")
            except TillbookError as problem:
                apply_error(form, problem)
                status = problem.status_code
            else:
                messages.success(request, f"Created {service.name}; it is on your booking page.")
                return redirect("backoffice:calendar_setup", business.slug)
    return page(
        request, "backoffice/calendar/form.html",
        {"form": form, "title": "Add a bookable service"}, status=status, section="calendar",
    )  # fmt: skip
