"""Sales: orders with filters, search and CSV export; an order's detail and timeline; resend the
receipt, record a manual payment, refund; the "paid but no place" list."""

from __future__ import annotations

from datetime import date

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from tillbook.backoffice.access import business_of, business_view, page, user_of
from tillbook.backoffice.payment_forms import FormKeyField
from tillbook.backoffice.views.helpers import csv_response, paginate
from tillbook.catalog.models import OfferingKind
from tillbook.core.errors import TillbookError
from tillbook.core.models import Role
from tillbook.core.money import InvalidAmount, Money
from tillbook.orders import fulfilment
from tillbook.orders.links import order_url
from tillbook.orders.models import Order, OrderEvent, OrderEventKind, OrderState
from tillbook.orders.selectors import orders_csv_rows, orders_search
from tillbook.orders.services import order_cancel


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def _filters(request: HttpRequest) -> dict[str, object]:
    state = request.GET.get("state", "")
    kind = request.GET.get("kind", "")
    return {
        "query": request.GET.get("q", "")[:200],
        "state": state if state in OrderState.values else "",
        "kind": kind if kind in OfferingKind.values else "",
        "since": _date(request.GET.get("since", "")),
        "until": _date(request.GET.get("until", "")),
    }


@business_view()
def order_list(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    filters = _filters(request)
    orders = orders_search(business=business, **filters)  # type: ignore[arg-type]
    return page(
        request,
        "backoffice/sales/list.html",
        {
            "page_obj": paginate(request, orders.prefetch_related("lines")),
            "filters": filters,
            "states": OrderState.choices,
            "kinds": OfferingKind.choices,
            "has_any": Order.objects.filter(business=business).exists(),
            "query_string": request.GET.urlencode(),
            "shortfall_count": orders_search(business=business, shortfall=True)
            .filter(shortfall_resolved_at__isnull=True)
            .count(),
        },
        section="sales",
    )


@business_view()
def order_export(request: HttpRequest) -> HttpResponseBase:
    business = business_of(request)
    filters = _filters(request)

    def rows() -> object:
        orders = orders_search(business=business, **filters).prefetch_related("lines")  # type: ignore[arg-type]
        return orders_csv_rows(orders.iterator(chunk_size=500))

    stamp = timezone.localdate().isoformat()
    return csv_response(f"orders-{business.slug}-{stamp}.csv", business=business, rows=rows)  # type: ignore[arg-type]


@business_view()
def orders_shortfall(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    orders = orders_search(business=business, shortfall=True).prefetch_related("lines")
    return page(request, "backoffice/sales/shortfall.html", {"orders": orders}, section="sales")


def _order(request: HttpRequest, order_id: int) -> Order:
    order = Order.objects.filter(business=business_of(request), pk=order_id).first()
    if order is None:
        raise Http404("No such order.")
    return order


class RefundForm(forms.Form):
    amount = forms.CharField(max_length=20, help_text="In the order's currency, e.g. 25.00")
    reason = forms.CharField(max_length=300, required=False)
    releases_capacity = forms.BooleanField(
        required=False, label="Give the places (tickets, stock) back so others can buy them"
    )
    key = FormKeyField()


class ManualPaymentForm(forms.Form):
    amount = forms.CharField(max_length=20)
    method = forms.ChoiceField(
        choices=[
            ("cash", "Cash"),
            ("bank_transfer", "Bank transfer"),
            ("check", "Check"),
            ("other", "Other"),
        ]
    )
    note = forms.CharField(max_length=300, required=False)
    key = FormKeyField()


def _detail_page(request: HttpRequest, order: Order, *, status: int = 200) -> HttpResponse:
    from tillbook.payments.models import Payment

    payments = []
    if order.payment_request_id is not None:
        payments = list(
            Payment.objects.filter(request_id=order.payment_request_id)
            .prefetch_related("refunds")
            .order_by("created_at")
        )
    paid = order.payment_request.amount_paid if order.payment_request else 0
    due = max(order.total - paid, 0)
    left = Money(order.total - order.refunded_total, order.currency).major_string()
    context = {
        "order": order,
        "lines": order.lines.all(),
        "events": [
            OrderEvent(
                order=order,
                kind=OrderEventKind.CREATED,
                created_at=order.created_at,
                message=f"Order {order.number} placed by {order.email}"
                + (f" via {order.source}" if order.source != "storefront" else ""),
            ),
            *order.events.all(),
        ],
        "tickets": order.tickets.select_related("event"),
        "grants": order.download_grants.select_related("offering"),
        "payments": payments,
        "order_link": order_url(order),
        "refund_form": RefundForm(initial={"amount": left}),
        "payment_form": ManualPaymentForm(
            initial={"amount": Money(due, order.currency).major_string()}
        ),
        "due": due,
    }
    return page(request, "backoffice/sales/detail.html", context, status=status, section="sales")


@business_view()
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    return _detail_page(request, _order(request, order_id))


def _done(request: HttpRequest, order: Order, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect("backoffice:order_detail", business_of(request).slug, order.pk)


def _failed(request: HttpRequest, order: Order, error: str, status: int) -> HttpResponse:
    """Show the order again with the problem on top and the error's status code."""
    messages.error(request, error)
    order.refresh_from_db()
    return _detail_page(request, order, status=status)


@business_view()
@require_POST
def order_resend(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order(request, order_id)
    try:
        fulfilment.order_receipt_resend(order=order, actor=user_of(request))
    except TillbookError as error:
        return _failed(request, order, error.message, error.status_code)
    return _done(request, order, f"Receipt sent again to {order.email}.")


@business_view(Role.MANAGER)
@require_POST
def order_manual_payment(request: HttpRequest, order_id: int) -> HttpResponse:
    from tillbook.payments.services import manual_payment_record

    order = _order(request, order_id)
    form = ManualPaymentForm(request.POST)
    if not form.is_valid() or order.payment_request is None:
        return _failed(request, order, "Enter the amount and method received.", 400)
    try:
        amount = Money.from_typed(
            form.cleaned_data["amount"], order.currency, order.business.locale
        )
        manual_payment_record(
            request=order.payment_request,
            amount=amount,
            method=form.cleaned_data["method"],
            note=form.cleaned_data["note"],
            actor=user_of(request),
            client_key=form.cleaned_data["key"],
        )
    except InvalidAmount as error:
        return _failed(request, order, f"The amount is not valid: {error}", 400)
    except TillbookError as error:
        return _failed(request, order, error.message, error.status_code)
    return _done(request, order, f"Recorded {amount.format(order.business.locale)}.")


@business_view(Role.MANAGER)
@require_POST
def order_refund_view(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order(request, order_id)
    form = RefundForm(request.POST)
    if not form.is_valid():
        return _failed(request, order, "Enter the amount to refund.", 400)
    try:
        amount = Money.from_typed(
            form.cleaned_data["amount"], order.currency, order.business.locale
        )
        refund = fulfilment.order_refund(
            order=order,
            amount=amount,
            reason=form.cleaned_data["reason"],
            actor=user_of(request),
            releases_capacity=form.cleaned_data["releases_capacity"],
            client_key=form.cleaned_data["key"],
        )
    except InvalidAmount as error:
        return _failed(request, order, f"The amount is not valid: {error}", 400)
    except TillbookError as error:
        return _failed(request, order, error.message, error.status_code)
    if refund.state != "succeeded":
        return _failed(request, order, f"The refund failed: {refund.failure_reason}", 502)
    return _done(request, order, f"Refunded {amount.format(order.business.locale)}.")


@business_view(Role.MANAGER)
@require_POST
def order_cancel_view(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order(request, order_id)
    try:
        order_cancel(order=order, actor=user_of(request))
    except TillbookError as error:
        return _failed(request, order, error.message, error.status_code)
    return _done(request, order, "Cancelled; its places were released.")


@business_view()
@require_POST
def order_fulfil_view(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order(request, order_id)
    try:
        fulfilment.order_mark_fulfilled(order=order, actor=user_of(request))
    except TillbookError as error:
        return _failed(request, order, error.message, error.status_code)
    return _done(request, order, "Marked as shipped.")


@business_view(Role.MANAGER)
@require_POST
def order_shortfall_accept_view(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order(request, order_id)
    try:
        fulfilment.order_shortfall_accept(order=order, actor=user_of(request))
    except TillbookError as error:
        return _failed(request, order, error.message, error.status_code)
    return _done(request, order, "Honoured beyond capacity; tickets and files were issued.")
