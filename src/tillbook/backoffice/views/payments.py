"""Payments: every payment with its fee and net, refunds, manual payments, payment links."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from tillbook.backoffice.access import business_of, business_view, membership_of, page, user_of
from tillbook.backoffice.payment_forms import (
    ManualPaymentForm,
    PaymentFilterForm,
    PaymentLinkForm,
    RefundForm,
    SendLinkForm,
)
from tillbook.backoffice.views.helpers import apply_error, csv_response, paginate
from tillbook.core.errors import Conflict, TillbookError
from tillbook.core.models import AuditEntry, Role
from tillbook.core.money import Money
from tillbook.payments.models import (
    Payment,
    PaymentRequest,
    PaymentState,
    Refund,
    RefundState,
    RequestState,
)
from tillbook.payments.notifications import pay_url, payment_link_send
from tillbook.payments.providers import provider_classes
from tillbook.payments.purposes import purpose_for
from tillbook.payments.selectors import payment_links_search, payments_search
from tillbook.payments.services import (
    KeyReused,
    manual_payment_record,
    payment_link_create,
    refund_create,
    refund_send,
    refundable,
    request_is_payable,
)

CSV_COLUMNS: list[object] = [
    "payment",
    "created",
    "paid",
    "state",
    "provider",
    "method",
    "for",
    "email",
    "currency",
    "amount",
    "tip",
    "fee",
    "net",
    "refunded",
    "provider_reference",
]


def _money(amount: int | None, currency: str) -> str:
    return "" if amount is None else Money(amount, currency).major_string()


def _filtered(request: HttpRequest) -> tuple[PaymentFilterForm, dict[str, object]]:
    form = PaymentFilterForm(request.GET or None)
    return form, form.filters() if request.GET else {}


@business_view()
def payment_list(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    form, filters = _filtered(request)
    payments = payments_search(business=business, **filters)  # type: ignore[arg-type]
    context = {
        "filter_form": form,
        "page_obj": paginate(request, payments),
        "has_any": Payment.objects.filter(business=business).exists(),
        "query_string": request.GET.urlencode(),
        "providers": {name: cls.label for name, cls in provider_classes().items()},
    }
    template = (
        "backoffice/payments/_table.html"
        if request.headers.get("HX-Request")
        else "backoffice/payments/list.html"
    )
    return page(request, template, context, section="payments")


@business_view()
def payment_export(request: HttpRequest) -> HttpResponseBase:
    business = business_of(request)
    _, filters = _filtered(request)

    def rows() -> Iterable[list[object]]:
        yield CSV_COLUMNS
        payments = payments_search(business=business, **filters)  # type: ignore[arg-type]
        for payment in payments.iterator(chunk_size=2000):
            net = payment.net
            yield [
                f"P-{payment.pk}",
                payment.created_at.isoformat(),
                payment.succeeded_at.isoformat() if payment.succeeded_at else "",
                payment.state,
                payment.provider,
                payment.method,
                payment.request.title if payment.request else payment.description,
                payment.customer_email,
                payment.currency,
                _money(payment.amount, payment.currency),
                _money(payment.tip_amount, payment.currency),
                _money(payment.fee_amount, payment.currency),
                net.major_string() if net is not None else "",
                _money(payment.refunded_amount, payment.currency),  # type: ignore[attr-defined]
                payment.provider_reference,
            ]

    stamp = timezone.localdate().isoformat()
    return csv_response(f"payments-{business.slug}-{stamp}.csv", business=business, rows=rows)


def _payment_or_404(request: HttpRequest, payment_id: int) -> Payment:
    payment = (
        Payment.objects.filter(business=business_of(request), pk=payment_id)
        .select_related("request", "customer", "recorded_by")
        .first()
    )
    if payment is None:
        raise Http404("No such payment.")
    return payment


def _detail_page(
    request: HttpRequest, payment: Payment, refund_form: RefundForm | None = None, status: int = 200
) -> HttpResponse:
    available = refundable(payment) if payment.state == PaymentState.SUCCEEDED else None
    provider = provider_classes().get(payment.provider)
    can_refund = (
        available is not None
        and available.amount > 0
        and provider is not None
        and provider.supports_refunds
        and membership_of(request).has_role(Role.MANAGER)
    )
    if refund_form is None and can_refund and available is not None:
        refund_form = RefundForm(
            currency=payment.currency,
            locale=business_of(request).locale,
            initial={"amount": available.major_string()},
        )
    staff_link = ""
    if payment.request is not None:
        try:
            staff_link = purpose_for(payment.request.purpose).link_for_staff(
                request=payment.request
            )
        except LookupError:
            staff_link = ""
    history = AuditEntry.objects.filter(
        business=payment.business, target_type="payments.payment", target_id=str(payment.pk)
    )[:20]
    return page(
        request,
        "backoffice/payments/detail.html",
        {
            "payment": payment,
            "refunds": payment.refunds.order_by("created_at"),
            "available": available,
            "refund_form": refund_form if can_refund else None,
            "provider_label": provider.label if provider else payment.provider,
            "staff_link": staff_link,
            "history": history,
        },
        status=status,
        section="payments",
    )


@business_view()
def payment_detail(request: HttpRequest, payment_id: int) -> HttpResponse:
    return _detail_page(request, _payment_or_404(request, payment_id))


@business_view(Role.MANAGER)
@require_POST
def payment_refund(request: HttpRequest, payment_id: int) -> HttpResponse:
    payment = _payment_or_404(request, payment_id)
    form = RefundForm(request.POST, currency=payment.currency, locale=business_of(request).locale)
    if not form.is_valid() or form.cleaned_data["amount"] is None:
        if form.is_valid():
            form.add_error("amount", "Enter the amount to refund.")
        return _detail_page(request, payment, form, status=400)
    try:
        refund = refund_create(
            payment=payment,
            amount=form.cleaned_data["amount"],
            reason=form.cleaned_data["reason"],
            actor=user_of(request),
            releases_capacity=form.cleaned_data["releases_capacity"],
            client_key=form.cleaned_data["key"],
        )
    except TillbookError as error:
        if isinstance(error, KeyReused):  # said in the API's words; this form was sent before
            error = Conflict(
                "This form was already sent for another refund; reload the page to make a new one."
            )
        apply_error(form, error)
        return _detail_page(request, payment, form, status=error.status_code)
    locale = payment.business.locale
    if refund.state == RefundState.SUCCEEDED:
        messages.success(request, f"Refunded {refund.money.format(locale)}; the buyer is told.")
    elif refund.state == RefundState.PENDING:
        messages.error(
            request,
            f"The refund of {refund.money.format(locale)} is pending: "
            f"{refund.failure_reason or 'the processor settles it later.'}",
        )
    else:
        messages.error(request, f"The refund failed: {refund.failure_reason}")
    return redirect("backoffice:payment_detail", payment.business.slug, payment.pk)


@business_view(Role.MANAGER)
@require_POST
def refund_retry(request: HttpRequest, refund_id: int) -> HttpResponse:
    refund = (
        Refund.objects.filter(business=business_of(request), pk=refund_id)
        .select_related("payment")
        .first()
    )
    if refund is None:
        raise Http404("No such refund.")
    if refund.state != RefundState.PENDING:
        messages.error(request, "Only a pending refund can be sent again.")
    else:
        sent = refund_send(refund=refund, actor=user_of(request))
        if sent.state == RefundState.SUCCEEDED:
            messages.success(request, "The refund went through.")
        else:
            messages.error(request, sent.failure_reason or "The refund is still pending.")
    return redirect("backoffice:payment_detail", refund.business.slug, refund.payment_id)


# Payment requests and links --------------------------------------------------------------


@business_view()
def payment_link_list(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    query = request.GET.get("q", "")[:200]
    state = request.GET.get("state", "")
    state = state if state in RequestState.values else ""
    links = payment_links_search(business=business, query=query, state=state)
    return page(
        request,
        "backoffice/payments/links.html",
        {
            "page_obj": paginate(request, links),
            "has_any": PaymentRequest.objects.filter(business=business, purpose="link").exists(),
            "query": query,
            "state": state,
            "states": RequestState.choices,
            "query_string": request.GET.urlencode(),
        },
        section="payments",
    )


@business_view()
def payment_link_export(request: HttpRequest) -> HttpResponseBase:
    business = business_of(request)
    query = request.GET.get("q", "")[:200]
    state = request.GET.get("state", "")
    state = state if state in RequestState.values else ""

    def rows() -> Iterable[list[object]]:
        header: list[object] = ["title", "created", "state", "amount_type", "currency"]
        yield [*header, "amount", "paid", "url"]
        for link in payment_links_search(business=business, query=query, state=state).iterator(
            chunk_size=2000
        ):
            yield [
                link.title,
                link.created_at.isoformat(),
                link.state,
                link.amount_type,
                link.currency,
                _money(link.amount, link.currency),
                _money(link.amount_paid, link.currency),
                pay_url(link),
            ]

    return csv_response(f"payment-links-{business.slug}.csv", business=business, rows=rows)


@business_view()
@require_http_methods(["GET", "POST"])
def payment_link_create_view(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    form = PaymentLinkForm(request.POST or None, business=business)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                link = payment_link_create(
                    business=business,
                    actor=user_of(request),
                    title=data["title"],
                    amount=data["amount"],
                    amount_type=data["amount_type"],
                    description=data["description"],
                    tip_allowed=data["tip_allowed"],
                    is_reusable=data["is_reusable"],
                    expires_at=form.expires_at(),
                    send_to=data["email"] or "",
                )
            except TillbookError as error:
                apply_error(form, error)
                status = error.status_code
            else:
                sent = f" and sent it to {data['email']}" if data["email"] else ""
                messages.success(request, f"Created the payment link{sent}.")
                return redirect("backoffice:payment_request_detail", business.slug, link.pk)
    return page(
        request,
        "backoffice/payments/link_form.html",
        {"form": form},
        status=status,
        section="payments",
    )


def _request_or_404(request: HttpRequest, request_id: int) -> PaymentRequest:
    found = (
        PaymentRequest.objects.filter(business=business_of(request), pk=request_id)
        .select_related("customer")
        .first()
    )
    if found is None:
        raise Http404("No such payment request.")
    return found


# Recording cash for an order is for owners and managers (as on the order's page); other
# requests (payment links, bookings) are daily work any member may record.
MANAGERS_RECORD = {"order"}
RECORD_REASON = "Recording a payment for an order is for the business's owners and managers."


def _may_record(request: HttpRequest, payment_request: PaymentRequest) -> bool:
    return payment_request.purpose not in MANAGERS_RECORD or membership_of(request).has_role(
        Role.MANAGER
    )


def _request_page(
    request: HttpRequest,
    payment_request: PaymentRequest,
    *,
    manual_form: ManualPaymentForm | None = None,
    send_form: SendLinkForm | None = None,
    status: int = 200,
) -> HttpResponse:
    business = business_of(request)
    try:
        request_is_payable(payment_request)
        is_payable = True
    except TillbookError:
        is_payable = False
    due = None
    if payment_request.amount is not None and payment_request.amount_type == "fixed":
        due = Money(
            max(payment_request.amount - payment_request.amount_paid, 0), payment_request.currency
        )
    if manual_form is None:
        initial = {"amount": due.major_string()} if due is not None and due.amount else {}
        manual_form = ManualPaymentForm(
            currency=business.currency, locale=business.locale, initial=initial
        )
    try:
        purpose_label = purpose_for(payment_request.purpose).label or payment_request.purpose
    except LookupError:
        purpose_label = payment_request.purpose
    return page(
        request,
        "backoffice/payments/request_detail.html",
        {
            "payment_request": payment_request,
            "purpose_label": purpose_label,
            "payments": payment_request.payments.order_by("-created_at"),
            "pay_url": pay_url(payment_request),
            "is_payable": is_payable,
            "may_record": _may_record(request, payment_request),
            "due": due,
            "manual_form": manual_form,
            "send_form": send_form or SendLinkForm(),
        },
        status=status,
        section="payments",
    )


@business_view()
def payment_request_detail(request: HttpRequest, request_id: int) -> HttpResponse:
    return _request_page(request, _request_or_404(request, request_id))


@business_view()
@require_POST
def payment_request_record(request: HttpRequest, request_id: int) -> HttpResponse:
    payment_request = _request_or_404(request, request_id)
    if not _may_record(request, payment_request):
        return page(
            request,
            "backoffice/forbidden.html",
            {"reason": RECORD_REASON},
            status=403,
            section="payments",
        )
    form = ManualPaymentForm(
        request.POST, currency=payment_request.currency, locale=business_of(request).locale
    )
    if not form.is_valid() or form.cleaned_data["amount"] is None:
        if form.is_valid():
            form.add_error("amount", "Enter the amount received.")
        return _request_page(request, payment_request, manual_form=form, status=400)
    try:
        payment = manual_payment_record(
            request=payment_request,
            amount=form.cleaned_data["amount"],
            method=form.cleaned_data["method"],
            note=form.cleaned_data["note"],
            actor=user_of(request),
            client_key=form.cleaned_data["key"],
        )
    except TillbookError as error:
        apply_error(form, error)
        return _request_page(request, payment_request, manual_form=form, status=error.status_code)
    messages.success(request, f"Recorded {payment.total.format(payment_request.business.locale)}.")
    return redirect(
        "backoffice:payment_request_detail", payment_request.business.slug, payment_request.pk
    )


@business_view()
@require_POST
def payment_request_send(request: HttpRequest, request_id: int) -> HttpResponse:
    payment_request = _request_or_404(request, request_id)
    form = SendLinkForm(request.POST)
    if not form.is_valid():
        return _request_page(request, payment_request, send_form=form, status=400)
    try:
        request_is_payable(payment_request)
        payment_link_send(
            request=payment_request,
            to_email=form.cleaned_data["email"],
            message=form.cleaned_data["message"],
            actor=user_of(request),
        )
    except TillbookError as error:
        apply_error(form, error)
        return _request_page(request, payment_request, send_form=form, status=error.status_code)
    messages.success(request, f"Sent the link to {form.cleaned_data['email']}.")
    return redirect(
        "backoffice:payment_request_detail", payment_request.business.slug, payment_request.pk
    )
