"""Event check-in: staff scan a ticket's QR code with any phone camera (it opens the signed URL
below, logged in) or search the attendee list. Checking a ticket in twice says when it was
first checked in; a ticket of another event is refused with its event's name."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from tillbook.backoffice.access import business_of, business_view, page, user_of
from tillbook.backoffice.views.helpers import csv_response
from tillbook.catalog.models import Event
from tillbook.core.errors import TillbookError
from tillbook.core.validation import id_from_text
from tillbook.orders.fulfilment import ticket_check_in
from tillbook.orders.links import ticket_code_matches, token_order_id
from tillbook.orders.models import Ticket
from tillbook.orders.selectors import attendees_search


def _event(request: HttpRequest, offering_id: int) -> Event:
    event = (
        Event.objects.filter(business=business_of(request), offering_id=offering_id)
        .select_related("offering")
        .first()
    )
    if event is None:
        raise Http404("No such event.")
    return event


@business_view()
@require_http_methods(["GET", "POST"])
def attendees(request: HttpRequest, offering_id: int) -> HttpResponse:
    event = _event(request, offering_id)
    result = None
    status = 200
    if request.method == "POST":
        pk = id_from_text(request.POST.get("ticket", ""))
        ticket = (
            Ticket.objects.filter(business=business_of(request), pk=pk)
            .select_related("event__offering")
            .first()
            if pk is not None
            else None
        )
        if ticket is None:
            raise Http404("No such ticket.")
        try:
            result = ticket_check_in(ticket=ticket, event=event, actor=user_of(request))
        except TillbookError as error:
            messages.error(request, error.message)
            status = error.status_code
        else:
            if result.first_time:
                messages.success(request, f"Checked in {result.ticket.attendee_name}.")
            else:
                when = result.ticket.checked_in_at
                messages.warning(
                    request,
                    f"{result.ticket.attendee_name} was already checked in "
                    f"at {when:%H:%M} by {result.ticket.checked_in_by}.",
                )
            return redirect(f"{request.path}?q={request.POST.get('q', '')}")
    query = request.GET.get("q", "")[:200]
    tickets = attendees_search(business=business_of(request), event_id=event.pk, query=query)
    all_tickets = Ticket.objects.filter(business=business_of(request), event=event, is_valid=True)
    return page(
        request,
        "backoffice/catalog/attendees.html",
        {
            "event": event,
            "tickets": tickets[:200],
            "query": query,
            "total": all_tickets.count(),
            "checked_in": all_tickets.filter(checked_in_at__isnull=False).count(),
        },
        status=status,
        section="catalog",
    )


@business_view()
def attendee_export(request: HttpRequest, offering_id: int) -> HttpResponseBase:
    event = _event(request, offering_id)
    business = business_of(request)

    def rows() -> list[list[object]]:
        table: list[list[object]] = [
            ["ticket", "order", "name", "email", "ticket_type", "checked_in_at"]
        ]
        for ticket in attendees_search(business=business, event_id=event.pk):
            table.append(
                [
                    ticket.pk,
                    ticket.order.number,
                    ticket.attendee_name,
                    ticket.attendee_email,
                    ticket.ticket_type_name,
                    ticket.checked_in_at.isoformat() if ticket.checked_in_at else "",
                ]
            )
        return table

    return csv_response(f"attendees-{event.offering.slug}.csv", business=business, rows=rows)


@business_view()
@require_http_methods(["GET", "POST"])
def check_in_ticket(request: HttpRequest, offering_id: int, code: str) -> HttpResponse:
    """What a phone camera opens from the QR code. GET shows the ticket; POST checks it in (a
    link preview or scanner that follows GETs must not check anyone in)."""
    event = _event(request, offering_id)
    ticket_id = token_order_id(code)
    ticket = (
        Ticket.objects.filter(business=business_of(request), pk=ticket_id)
        .select_related("event__offering", "order")
        .first()
        if ticket_id is not None
        else None
    )
    if ticket is None or not ticket_code_matches(ticket, code):
        return page(
            request,
            "backoffice/catalog/check_in.html",
            {"event": event, "error": "This is not a valid ticket code."},
            status=404,
            section="catalog",
        )
    context: dict[str, object] = {"event": event, "ticket": ticket}
    status = 200
    if ticket.event_id != event.pk:
        context["error"] = (
            f"This ticket is for “{ticket.event.offering.title}”, not “{event.offering.title}”."
        )
        status = 409
    elif request.method == "POST":
        try:
            result = ticket_check_in(ticket=ticket, event=event, actor=user_of(request))
        except TillbookError as error:
            context["error"] = error.message
            status = error.status_code
        else:
            context["ticket"] = result.ticket
            context["result"] = "ok" if result.first_time else "twice"
    return page(
        request, "backoffice/catalog/check_in.html", context, status=status, section="catalog"
    )
