from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from tillbook.backoffice.access import business_of, business_view, page, user_of
from tillbook.backoffice.forms import CustomerForm, CustomerImportForm
from tillbook.backoffice.views.helpers import apply_error, csv_response, paginate
from tillbook.core.errors import TillbookError
from tillbook.core.models import AuditEntry
from tillbook.customers.csv_io import EXPORT_COLUMNS, CustomerFileInvalid, customers_csv_rows
from tillbook.customers.models import Customer
from tillbook.customers.selectors import customer_get, customers_search, tags_for_business
from tillbook.customers.services import customer_create, customer_update, customers_import_csv
from tillbook.customers.validation import normalize_tags


def _filters(request: HttpRequest) -> dict[str, object]:
    consent = {"yes": True, "no": False}.get(request.GET.get("consent", ""))
    return {
        "query": request.GET.get("q", "")[:200],
        "tag": request.GET.get("tag", "")[:50],
        "consent": consent,
        "sort": request.GET.get("sort", "name"),
    }


@business_view()
def customer_list(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    filters = _filters(request)
    customers = customers_search(business=business, **filters).prefetch_related("tags")  # type: ignore[arg-type]
    context = {
        "page_obj": paginate(request, customers),
        "tags": tags_for_business(business=business),
        "filters": filters,
        "has_any": Customer.objects.filter(business=business).exists(),
        "query_string": request.GET.urlencode(),
    }
    template = (
        "backoffice/customers/_table.html"
        if request.headers.get("HX-Request")
        else "backoffice/customers/list.html"
    )
    return page(request, template, context, section="customers")


@business_view()
def customer_export(request: HttpRequest) -> HttpResponseBase:
    business = business_of(request)
    filters = _filters(request)

    def rows() -> object:
        customers = customers_search(business=business, **filters).prefetch_related("tags")  # type: ignore[arg-type]
        return customers_csv_rows(customers.iterator(chunk_size=2000))

    stamp = timezone.localdate().isoformat()
    return csv_response(f"customers-{business.slug}-{stamp}.csv", business=business, rows=rows)  # type: ignore[arg-type]


@business_view()
def customer_template(request: HttpRequest) -> HttpResponseBase:
    business = business_of(request)
    sample = [
        list(EXPORT_COLUMNS[:7]),
        ["ann@example.com", "Ann Example", "+14155550123", "vip; newsletter", "", "yes", ""],
    ]
    return csv_response("customers-template.csv", business=business, rows=lambda: sample)


@business_view()
@require_http_methods(["GET", "POST"])
def customer_create_view(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    form = CustomerForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                customer = customer_create(
                    business=business,
                    actor=user_of(request),
                    email=data["email"],
                    name=data["name"],
                    phone=data["phone"],
                    notes=data["notes"],
                    tags=normalize_tags(data["tags"]),
                    marketing_consent=data["marketing_consent"],
                )
            except TillbookError as error:
                apply_error(form, error)
                status = error.status_code
            else:
                messages.success(request, f"Added {customer.display_name}.")
                return redirect("backoffice:customer_detail", business.slug, customer.pk)
    return page(
        request,
        "backoffice/customers/form.html",
        {"form": form, "customer": None},
        status=status,
        section="customers",
    )


def _customer_or_404(request: HttpRequest, customer_id: int) -> Customer:
    customer = customer_get(business=business_of(request), customer_id=customer_id)
    if customer is None:
        raise Http404("No such customer.")
    return customer


@business_view()
def customer_detail(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = _customer_or_404(request, customer_id)
    history = AuditEntry.objects.filter(
        business=business_of(request),
        target_type="customers.customer",
        target_id=str(customer.pk),
    )[:20]
    return page(
        request,
        "backoffice/customers/detail.html",
        {"customer": customer, "tags": customer.tags.all(), "history": history},
        section="customers",
    )


@business_view()
@require_http_methods(["GET", "POST"])
def customer_edit(request: HttpRequest, customer_id: int) -> HttpResponse:
    business = business_of(request)
    customer = _customer_or_404(request, customer_id)
    initial = {
        "email": customer.email,
        "name": customer.name,
        "phone": customer.phone,
        "tags": ", ".join(tag.name for tag in customer.tags.all()),
        "marketing_consent": customer.marketing_consent,
        "notes": customer.notes,
    }
    form = CustomerForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = dict(form.cleaned_data)
            data["tags"] = normalize_tags(data["tags"])
            try:
                customer_update(customer=customer, actor=user_of(request), data=data)
            except TillbookError as error:
                apply_error(form, error)
                status = error.status_code
            else:
                messages.success(request, "Saved.")
                return redirect("backoffice:customer_detail", business.slug, customer.pk)
    return page(
        request,
        "backoffice/customers/form.html",
        {"form": form, "customer": customer},
        status=status,
        section="customers",
    )


@business_view()
@require_http_methods(["GET", "POST"])
def customer_import(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    form = CustomerImportForm(request.POST or None, request.FILES or None)
    context: dict[str, object] = {
        "form": form,
        "max_mb": settings.TILLBOOK_MAX_UPLOAD_BYTES // 2**20,
    }
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > settings.TILLBOOK_MAX_UPLOAD_BYTES:
                form.add_error("file", f"The file is larger than {context['max_mb']} MB.")
            else:
                try:
                    result = customers_import_csv(
                        business=business, actor=user_of(request), stream=upload.file
                    )
                except CustomerFileInvalid as error:
                    context["problems"] = error.problems
                    context["problem_total"] = error.total
                    context["error_message"] = error.message
                except TillbookError as error:
                    context["error_message"] = error.message
                else:
                    context["result"] = result
                    status = 200
    context["form"] = form
    return page(
        request, "backoffice/customers/import.html", context, status=status, section="customers"
    )
