"""Public booking pages: service → length → person or anyone → a month of days with free time
→ times in the visitor's zone → details and questions → pay → confirmation; and the secret
page where the customer reschedules or cancels.

These pages may be framed by the business's own site (the embed snippet), so they and only
they are exempt from X-Frame-Options. Their forms are exempt from CSRF checks on purpose: no
cookie gives them any authority (a hold needs none; the rest need the secret in the URL), and
inside a third-party iframe the browser would withhold the CSRF cookie (SameSite=Lax) and
every booking would fail.
"""

from __future__ import annotations

import calendar as month_calendar
import zoneinfo
from datetime import MAXYEAR, MINYEAR, date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tillbook.core.errors import InvalidInput, TillbookError
from tillbook.core.links import absolute_url
from tillbook.core.models import Business
from tillbook.core.scoping import business_scope
from tillbook.core.selectors import business_by_slug
from tillbook.core.validation import id_from_text
from tillbook.customers.attribution import latest_touch
from tillbook.payments.models import Payment, PaymentState
from tillbook.payments.providers import enabled_providers
from tillbook.payments.services import payment_start
from tillbook.scheduling.area import location_unreadable
from tillbook.scheduling.availability import Interval, Slot, days_with_slots
from tillbook.scheduling.calendar_files import booking_invitation
from tillbook.scheduling.changes import (
    booking_cancel,
    booking_reschedule,
    cancellation_quote,
    reschedule_refusal,
)
from tillbook.scheduling.models import Booking, BookingLink, BookingState, Service
from tillbook.scheduling.selectors import active_services, slots_for_customer
from tillbook.scheduling.services import (
    CustomerDetails,
    booking_for_link,
    booking_hold,
    booking_submit_details,
)
from tillbook.storefront.attribution import attribution_read, attribution_track

# available_timezones() walks the tzdata folder on every call (~30 ms): read it once.
ZONES = sorted(zoneinfo.available_timezones())
ZONE_SET = frozenset(ZONES)


@cache
def _zone_options() -> str:
    # ~600 options: built once as HTML, because the template loop over them cost as much as
    # the whole month of availability (bench scheduling.page).
    return "".join(f'<option value="{escape(z)}">{escape(z)}</option>' for z in ZONES)


def zone_options(selected: str) -> str:
    chosen = f'<option value="{escape(selected)}">'
    # Safe: every zone name was escaped when the options were built.
    return mark_safe(_zone_options().replace(chosen, chosen[:-1] + " selected>", 1))


def _business(slug: str) -> Business:
    business = business_by_slug(slug)
    if business is None:
        raise Http404("No business at this address.")
    return business


def _zone(request: HttpRequest, fallback: str) -> tuple[str, str]:
    """The visitor's zone from ?tz= (set by the page's script), and an error if unknown."""
    name = (request.GET.get("tz") or request.POST.get("tz") or fallback).strip()
    if name not in ZONE_SET:
        return fallback, f"{name[:60]} is not a time zone we know; showing {fallback} instead."
    return name, ""


def _month(text: str, zone: ZoneInfo) -> date:
    today = timezone.now().astimezone(zone).date()
    try:
        year, month = (int(part) for part in text.split("-"))
        first = date(year, month, 1)
    except (ValueError, TypeError):
        return today.replace(day=1)
    # The page reaches a month either side and a week beyond (limits per week): at the ends
    # of the calendar that overflows, and no business takes bookings there anyway.
    if not MINYEAR < first.year < MAXYEAR:
        return today.replace(day=1)
    return first


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


@xframe_options_exempt
@require_GET
def booking_home(request: HttpRequest, business_slug: str) -> HttpResponse:
    business = _business(business_slug)
    with business_scope(business):
        services = list(active_services(business=business))
        response = render(
            request, "storefront/booking/home.html", {"business": business, "services": services}
        )
        attribution_track(request, response, business)
        return response


def _service(business: Business, slug: str) -> Service:
    service = active_services(business=business).filter(slug=slug).first()
    if service is None:
        raise Http404("No bookable service at this address.")
    return service


def _service_page(
    request: HttpRequest,
    business: Business,
    service: Service,
    *,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    zone_name, zone_error = _zone(request, business.timezone)
    zone = ZoneInfo(zone_name)
    durations = list(service.durations.all())
    wanted = request.GET.get("duration") or request.POST.get("duration") or ""
    duration = next((d for d in durations if str(d.minutes) == wanted), durations[0])
    staff = list(service.staff.filter(is_active=True).order_by("pk"))
    staff_param = request.GET.get("staff") or request.POST.get("staff") or "any"
    staff_id = next((m.pk for m in staff if str(m.pk) == staff_param), None)
    month = _month(request.GET.get("month", ""), zone)
    next_month = (month + timedelta(days=32)).replace(day=1)
    window = Interval(_local_midnight(month, zone), _local_midnight(next_month, zone))
    slots = slots_for_customer(
        service=service, duration_minutes=duration.minutes, window=window, staff_id=staff_id
    )
    free_days = set(days_with_slots(slots, zone))
    chosen_day = None
    if request.GET.get("day"):
        try:
            chosen_day = date.fromisoformat(request.GET["day"])
        except ValueError:
            chosen_day = None
    if chosen_day is None and free_days:
        chosen_day = min(free_days)
    times = [
        (slot, slot.start.astimezone(zone))
        for slot in slots
        if slot.start.astimezone(zone).date() == chosen_day
    ]
    weeks = month_calendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month)
    context: dict[str, Any] = {
        "business": business,
        "service": service,
        "durations": durations,
        "duration": duration,
        "staff": staff,
        "staff_param": "any" if staff_id is None else str(staff_id),
        "zone_name": zone_name,
        "zone_options": zone_options(zone_name),
        "error": error or zone_error,
        "month": month,
        "previous_month": (month - timedelta(days=1)).replace(day=1),
        "next_month": next_month,
        "weeks": weeks,
        "free_days": free_days,
        "chosen_day": chosen_day,
        "times": times,
        "staff_names": {member.pk: member.name for member in staff},
    }
    return render(request, "storefront/booking/service.html", context, status=status)


@xframe_options_exempt
@require_GET
def booking_service(request: HttpRequest, business_slug: str, service_slug: str) -> HttpResponse:
    business = _business(business_slug)
    with business_scope(business):
        response = _service_page(request, business, _service(business, service_slug))
        attribution_track(request, response, business)
        return response


def _start_of(text: str) -> datetime | None:
    try:
        start = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if start.tzinfo is None or not MINYEAR < start.year < MAXYEAR:
        # A start at the ends of the calendar overflows once a day or a zone is added to it.
        return None
    return start


@csrf_exempt
@xframe_options_exempt
@require_POST
def booking_hold_view(request: HttpRequest, business_slug: str, service_slug: str) -> HttpResponse:
    business = _business(business_slug)
    with business_scope(business):
        service = _service(business, service_slug)
        zone_name, zone_error = _zone(request, business.timezone)
        if zone_error:
            return _service_page(request, business, service, error=zone_error, status=400)
        start = _start_of(request.POST.get("start", ""))
        if start is None:
            return _service_page(
                request, business, service, error="Pick a time from the list.", status=400
            )
        staff_param = request.POST.get("staff", "any")
        staff = None
        if staff_param != "any":
            staff = service.staff.filter(pk=id_from_text(staff_param) or 0).first()
            if staff is None:
                return _service_page(
                    request, business, service, error="Choose someone from the list.", status=400
                )
        try:
            minutes = int(request.POST.get("duration", ""))
            seats = int(request.POST.get("seats", "1") or 1)
        except ValueError:
            return _service_page(
                request, business, service, error="Choose a length from the list.", status=400
            )
        try:
            held = booking_hold(
                service=service,
                duration_minutes=minutes,
                start=start,
                staff=staff,
                seats=seats,
                customer_timezone=zone_name,
                utm_campaign=latest_touch(attribution_read(request, business)).get(
                    "utm_campaign", ""
                ),
            )
        except TillbookError as problem:
            return _service_page(
                request, business, service, error=problem.message, status=problem.status_code
            )
        return redirect("storefront:booking_manage", business.slug, held.secret)


def _linked(business: Business, secret: str) -> tuple[Booking, BookingLink]:
    try:
        return booking_for_link(business_id=business.pk, secret=secret)
    except TillbookError:
        raise Http404(
            "This booking link is not valid. Check the link in your latest email."
        ) from None


def _manage_page(
    request: HttpRequest,
    business: Business,
    booking: Booking,
    link: BookingLink,
    secret: str,
    *,
    error: str = "",
    status: int = 200,
    field_errors: dict[str, list[str]] | None = None,
) -> HttpResponse:
    zone = ZoneInfo(booking.customer_timezone)
    providers = [p for p in enabled_providers(business=business) if p.is_online]
    latest_payment = None
    if booking.payment_request_id is not None:
        latest_payment = (
            Payment.objects.filter(request_id=booking.payment_request_id)
            .order_by("-created_at", "-id")
            .first()
        )
    now = timezone.now()
    context = {
        "business": business,
        "booking": booking,
        "service": booking.service,
        "secret": secret,
        # Its time is free again though the sweep has not expired it yet; a payment already
        # being confirmed is still waited for (booking_confirm handles it).
        "ran_out": booking.hold_has_run_out(now)
        and not (latest_payment is not None and latest_payment.state == PaymentState.PENDING),
        "link_replaced": link.replaced_at is not None,
        "local_start": booking.start.astimezone(zone),
        "local_end": booking.end.astimezone(zone),
        "questions": list(booking.service.questions.all()),
        "providers": providers,
        "latest_payment": latest_payment,
        "error": error,
        "field_errors": field_errors or {},
        "posted": request.POST,
        "can_change": booking.state in (BookingState.CONFIRMED, BookingState.AWAITING_PAYMENT)
        and link.replaced_at is None
        and booking.start > now,
        "quote": (
            cancellation_quote(booking, by_business=False)
            if booking.state == BookingState.CONFIRMED
            else None
        ),
    }
    return render(request, "storefront/booking/manage.html", context, status=status)


@xframe_options_exempt
@require_GET
def booking_manage(request: HttpRequest, business_slug: str, secret: str) -> HttpResponse:
    business = _business(business_slug)
    with business_scope(business):
        booking, link = _linked(business, secret)
        return _manage_page(request, business, booking, link, secret)


def _coordinate(text: str) -> float | None:
    """A coordinate the browser filled in; its range is checked by the booking service."""
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise location_unreadable() from None


@csrf_exempt
@xframe_options_exempt
@require_POST
def booking_details(request: HttpRequest, business_slug: str, secret: str) -> HttpResponse:
    business = _business(business_slug)
    with business_scope(business):
        booking, link = _linked(business, secret)
        post = request.POST
        answers = {
            question.pk: post.get(f"question_{question.pk}", "")
            for question in booking.service.questions.all()
        }
        try:
            details = CustomerDetails(
                name=post.get("name", "")[:200],
                email=post.get("email", "")[:254],
                phone=post.get("phone", "")[:40],
                answers=answers,
                address=post.get("address", "")[:250],
                postal_code=post.get("postal_code", "")[:20],
                latitude=_coordinate(post.get("latitude", "")),
                longitude=_coordinate(post.get("longitude", "")),
                marketing_consent=post.get("marketing_consent") == "on",
            )
            if not details.name.strip():
                raise InvalidInput("Please give your name.", field_errors={"name": ["Required."]})
            booking_submit_details(
                booking=booking, details=details, attribution=attribution_read(request, business)
            )
        except TillbookError as problem:
            booking.refresh_from_db()
            return _manage_page(
                request,
                business,
                booking,
                link,
                secret,
                error=problem.message,
                status=problem.status_code,
                field_errors=problem.field_errors,
            )
        return redirect("storefront:booking_manage", business.slug, secret)


@csrf_exempt
@xframe_options_exempt
@require_POST
def booking_pay(request: HttpRequest, business_slug: str, secret: str) -> HttpResponse:
    business = _business(business_slug)
    with business_scope(business):
        booking, link = _linked(business, secret)
        if booking.state != BookingState.AWAITING_PAYMENT or booking.payment_request is None:
            return _manage_page(
                request, business, booking, link, secret,
                error="This booking is not waiting for a payment.", status=409,
            )  # fmt: skip
        back = absolute_url(reverse("storefront:booking_manage", args=[business.slug, secret]))
        try:
            started = payment_start(
                request=booking.payment_request,
                provider=request.POST.get("provider", ""),
                return_url=back,
                cancel_url=back,
                customer_email=booking.customer.email if booking.customer else "",
            )
        except TillbookError as problem:
            return _manage_page(
                request, business, booking, link, secret,
                error=problem.message, status=problem.status_code,
            )  # fmt: skip
        return redirect(started.redirect_url)


@csrf_exempt
@xframe_options_exempt
@require_http_methods(["GET", "POST"])
def booking_reschedule_view(request: HttpRequest, business_slug: str, secret: str) -> HttpResponse:
    business = _business(business_slug)
    with business_scope(business):
        booking, link = _linked(business, secret)
        error, status = "", 200
        if request.method == "POST":
            start = _start_of(request.POST.get("start", ""))
            if start is None:
                error, status = "Pick a new time from the list.", 400
            else:
                try:
                    moved = booking_reschedule(booking=booking, start=start, link=link)
                except TillbookError as problem:
                    error, status = problem.message, problem.status_code
                    booking.refresh_from_db()
                else:
                    return redirect("storefront:booking_manage", business.slug, moved.secret)
        if link.replaced_at is not None and not error:
            error, status = (
                "This link was already used to reschedule, so it no longer changes the "
                "booking. Use the link in your latest confirmation email.",
                410,
            )
        refusal = reschedule_refusal(booking, now=timezone.now(), by_business=False)
        if refusal is not None and not error:
            # Cancelled, its unpaid hold ran out, or too close to its start: no time to offer.
            error, status = refusal.message, refusal.status_code
        zone = ZoneInfo(booking.customer_timezone)
        window_start = timezone.now()
        slots: list[Slot] = []
        if (not error or status != 410) and refusal is None:
            slots = slots_for_customer(
                service=booking.service,
                duration_minutes=booking.duration_minutes,
                window=Interval(window_start, window_start + timedelta(days=21)),
                staff_id=booking.staff_id,
                seats=booking.seats,
                # As booking_reschedule checks: the booking's own time does not hide its
                # neighbours (half an hour later overlaps only itself).
                ignore_booking_id=booking.pk,
            )
        days: dict[date, list[tuple[Slot, datetime]]] = {}
        for slot in slots:
            if slot.start != booking.start:
                local = slot.start.astimezone(zone)
                days.setdefault(local.date(), []).append((slot, local))
        return render(
            request,
            "storefront/booking/reschedule.html",
            {
                "business": business,
                "booking": booking,
                "secret": secret,
                "local_start": booking.start.astimezone(zone),
                "days": sorted(days.items()),
                "error": error,
                "spent": link.replaced_at is not None,
                "refused": refusal is not None,
            },
            status=status,
        )


@csrf_exempt
@xframe_options_exempt
@require_POST
def booking_cancel_view(request: HttpRequest, business_slug: str, secret: str) -> HttpResponse:
    business = _business(business_slug)
    with business_scope(business):
        booking, link = _linked(business, secret)
        try:
            booking_cancel(booking=booking, link=link, reason=request.POST.get("reason", ""))
        except TillbookError as problem:
            booking.refresh_from_db()
            return _manage_page(
                request, business, booking, link, secret,
                error=problem.message, status=problem.status_code,
            )  # fmt: skip
        return redirect("storefront:booking_manage", business.slug, secret)


@require_GET
def booking_calendar_file(request: HttpRequest, business_slug: str, secret: str) -> HttpResponse:
    business = _business(business_slug)
    with business_scope(business):
        booking, link = _linked(business, secret)
        # As the emails: a booking waiting for its payment is no event yet (nothing would take
        # it out of the calendar when the hold runs out).
        if booking.state in (
            BookingState.HELD,
            BookingState.AWAITING_PAYMENT,
            BookingState.EXPIRED,
        ):
            return HttpResponse(
                "This booking is not confirmed, so there is no calendar file for it.",
                status=409,
                content_type="text/plain; charset=utf-8",
            )
        # A link spent on a reschedule changes nothing any more: the file does not offer it.
        manage = (
            absolute_url(reverse("storefront:booking_manage", args=[business.slug, secret]))
            if link.replaced_at is None
            else ""
        )
        response = HttpResponse(
            booking_invitation(booking, manage_url=manage), content_type="text/calendar"
        )
        response["Content-Disposition"] = 'attachment; filename="booking.ics"'
        return response


@require_GET
def staff_calendar_feed(request: HttpRequest, secret: str) -> HttpResponse:
    """A staff member's private feed (subscribe from Google, Apple or Outlook calendars)."""
    from tillbook.core.scoping import unscoped
    from tillbook.core.tokens import hash_secret
    from tillbook.scheduling.calendar_files import staff_feed
    from tillbook.scheduling.models import StaffMember

    with unscoped():
        member = (
            StaffMember.objects.filter(feed_token_hash=hash_secret(secret), is_active=True)
            .exclude(feed_token_hash="")
            .select_related("business")
            .first()
        )
    if member is None:
        raise Http404("No calendar feed at this address.")
    with business_scope(member.business):
        since = timezone.now() - timedelta(days=30)
        bookings = (
            Booking.objects.filter(
                business=member.business,
                staff=member,
                end__gte=since,
                state__in=(BookingState.CONFIRMED, BookingState.COMPLETED, BookingState.CANCELLED),
            )
            .select_related("service", "customer", "business")
            .order_by("start")
        )
        body = staff_feed(bookings, name=f"{member.name} · {member.business.name}")
    return HttpResponse(body, content_type="text/calendar; charset=utf-8")
