"""Catalog editing for every kind of offering, plus taxes, shipping, discount codes and the
shop's settings."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from tillbook.backoffice.access import business_of, business_view, page, user_of
from tillbook.backoffice.views.helpers import apply_error, csv_response
from tillbook.catalog import services
from tillbook.catalog.models import (
    DiscountCode,
    DiscountKind,
    Lesson,
    Offering,
    OfferingKind,
    OfferingState,
    OversoldPolicy,
    Quota,
    ShippingRate,
    TaxClass,
    TicketType,
    Variant,
)
from tillbook.catalog.selectors import offerings_search
from tillbook.core.errors import InvalidInput, TillbookError
from tillbook.core.models import Business, Role, timezone_choices
from tillbook.core.money import InvalidAmount, Money
from tillbook.core.validation import id_from_text, validate_timezone
from tillbook.orders.capacity import quotas_available
from tillbook.orders.pricing import shop_settings


def _minor(
    text: str,
    business: Business,
    *,
    currency: str = "",
    field: str = "price",
    optional: bool = False,
) -> int | None:
    """An amount typed in `currency` (the business's by default), in minor units, read as the
    business's locale writes amounts (12,50 in de_DE)."""
    text = (text or "").strip()
    if not text:
        if optional:
            return None
        return 0
    try:
        return Money.from_typed(text, currency or business.currency, business.locale).amount
    except InvalidAmount as error:
        raise InvalidInput(
            f"The {field} is not an amount: {error}", field_errors={field: ["Not an amount."]}
        ) from None


MAX_COUNT = 10**9  # a stock, a quota's size, a lesson's position


def _count(text: str, field: str) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    # isdecimal, not isdigit: isdigit also accepts "²", which int() refuses.
    if not text.isdecimal():
        raise InvalidInput(
            f"The {field} is a whole number (empty for unlimited).",
            field_errors={field: ["Whole number."]},
        )
    # Compared as text first: int() of thousands of digits is refused by Python itself.
    if len(text.lstrip("0")) > len(str(MAX_COUNT)) or int(text) > MAX_COUNT:
        raise InvalidInput(
            f"The {field} is at most {MAX_COUNT:,}.", field_errors={field: ["Too large."]}
        )
    return int(text)


class OfferingForm(forms.Form):
    title = forms.CharField(max_length=200)
    state = forms.ChoiceField(choices=OfferingState.choices)
    price = forms.CharField(max_length=20, required=False, help_text="Leave 0 for free.")
    summary = forms.CharField(
        max_length=300, required=False, help_text="Shown in lists and search results."
    )
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        required=False,
        help_text="HTML allowed: paragraphs, lists, links, images; scripts are removed.",
    )
    slug = forms.CharField(
        max_length=80,
        required=False,
        label="Address",
        help_text="The end of the page's address; empty: made from the title.",
    )
    tax_class: forms.ModelChoiceField[TaxClass] = forms.ModelChoiceField(
        queryset=None, required=False
    )
    max_per_order = forms.IntegerField(min_value=1, max_value=10_000, initial=10)
    download_limit = forms.IntegerField(
        min_value=1, max_value=10_000, initial=5, help_text="Downloads per buyer (downloads only)."
    )
    download_days = forms.IntegerField(
        min_value=1,
        max_value=10_000,
        initial=30,
        help_text="Days the download links work (downloads only).",
    )
    # Bounded so an enormous number is a form error, not an overflow in the database.
    position = forms.IntegerField(
        min_value=-1_000_000, max_value=1_000_000, initial=0, required=False
    )

    def __init__(self, *args: Any, business: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tax_class"].queryset = TaxClass.objects.filter(business=business)  # type: ignore[attr-defined]
        if kind != OfferingKind.DOWNLOAD:
            del self.fields["download_limit"], self.fields["download_days"]


@business_view()
def offering_list(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    offerings = offerings_search(
        business=business,
        query=request.GET.get("q", "")[:200],
        kind=request.GET.get("kind", "")[:10],
    )
    return page(
        request,
        "backoffice/catalog/list.html",
        {
            "offerings": offerings,
            "kinds": [k for k in OfferingKind.choices if k[0] != "service"],
            "query": request.GET.get("q", ""),
        },
        section="catalog",
    )


@business_view()
def offering_export(request: HttpRequest) -> HttpResponseBase:
    business = business_of(request)

    def rows() -> list[list[object]]:
        result: list[list[object]] = [
            ["id", "kind", "state", "title", "address", "price", "currency"]
        ]
        for o in offerings_search(business=business):
            result.append(
                [o.pk, o.kind, o.state, o.title, o.slug, o.money.major_string(), o.currency]
            )
        return result

    return csv_response(f"catalog-{business.slug}.csv", business=business, rows=rows)


def _offering(request: HttpRequest, offering_id: int) -> Offering:
    offering = Offering.objects.filter(business=business_of(request), pk=offering_id).first()
    if offering is None:
        raise Http404("No such offering.")
    return offering


def _form_data(form: forms.Form, business: Business) -> dict[str, Any]:
    data = dict(form.cleaned_data)
    data["price"] = _minor(data.get("price") or "", business)
    if data.get("position") is None:
        data["position"] = 0
    return data


@business_view(Role.MANAGER)
@require_http_methods(["GET", "POST"])
def offering_create_view(request: HttpRequest, kind: str) -> HttpResponse:
    business = business_of(request)
    if kind not in OfferingKind.values or kind == OfferingKind.SERVICE:
        raise Http404("Unknown kind of offering.")
    form = OfferingForm(
        request.POST or None,
        business=business,
        kind=kind,
        initial={"state": OfferingState.DRAFT, "price": "0"},
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                data = _form_data(form, business)
                offering = services.offering_create(
                    business=business,
                    actor=user_of(request),
                    kind=kind,
                    **{k: v for k, v in data.items() if k in services.OFFERING_FIELDS},
                )
            except TillbookError as error:
                apply_error(form, error)
                status = error.status_code
            else:
                messages.success(request, f"Added “{offering.title}”.")
                return redirect("backoffice:offering_edit", business.slug, offering.pk)
    return page(
        request,
        "backoffice/catalog/form.html",
        {
            "form": form,
            "offering": None,
            "kind_label": OfferingKind(kind).label,
        },
        status=status,
        section="catalog",
    )


@business_view(Role.MANAGER)
@require_http_methods(["GET", "POST"])
def offering_edit(request: HttpRequest, offering_id: int) -> HttpResponse:
    business = business_of(request)
    offering = _offering(request, offering_id)
    initial = {name: getattr(offering, name) for name in services.OFFERING_FIELDS}
    initial["price"] = offering.money.major_string()
    form = OfferingForm(
        request.POST or None, business=business, kind=offering.kind, initial=initial
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.offering_update(
                    offering=offering,
                    actor=user_of(request),
                    data=_form_data(form, business),
                )
            except TillbookError as error:
                apply_error(form, error)
                status = error.status_code
            else:
                messages.success(request, "Saved.")
                return redirect("backoffice:offering_edit", business.slug, offering.pk)
    quotas = {q.pk: q for q in Quota.objects.filter(offering=offering)}
    available = quotas_available(quotas, now=timezone.now())
    event = getattr(offering, "event", None) if offering.kind == OfferingKind.TICKET else None
    return page(
        request,
        "backoffice/catalog/form.html",
        {
            "form": form,
            "offering": offering,
            "kind_label": offering.get_kind_display(),
            "variants": offering.variants.select_related("quota"),
            "quotas": [
                (q, available.get(q.pk)) for q in quotas.values() if not hasattr(q, "variant")
            ],
            "ticket_types": offering.ticket_types.select_related("quota"),
            "event": event,
            "timezones": timezone_choices(),
            "files": offering.files.filter(lesson__isnull=True),
            "lessons": offering.lessons.prefetch_related("files"),
            "available": available,
        },
        status=status,
        section="catalog",
    )


def _back(request: HttpRequest, offering: Offering, message: str = "Saved.") -> HttpResponse:
    messages.success(request, message)
    return redirect("backoffice:offering_edit", business_of(request).slug, offering.pk)


def _problem(request: HttpRequest, offering: Offering, error: TillbookError) -> HttpResponse:
    messages.error(request, error.message)
    return redirect("backoffice:offering_edit", business_of(request).slug, offering.pk)


def _pick(model: Any, offering: Offering, raw: str) -> Any:
    if not raw:
        return None
    pk = id_from_text(raw)
    found = model.objects.filter(offering=offering, pk=pk).first() if pk is not None else None
    if found is None:
        raise InvalidInput("Unknown item.")
    return found


@business_view(Role.MANAGER)
@require_POST
def variant_save_view(request: HttpRequest, offering_id: int) -> HttpResponse:
    offering = _offering(request, offering_id)
    post = request.POST
    try:
        services.variant_save(
            offering=offering,
            variant=_pick(Variant, offering, post.get("id", "")),
            name=post.get("name", ""),
            sku=post.get("sku", ""),
            price=_minor(
                post.get("price", ""),
                business_of(request),
                currency=offering.currency,
                optional=True,
            ),
            stock=_count(post.get("stock", ""), "stock"),
            is_active=post.get("is_active", "1") == "1",
        )
    except TillbookError as error:
        return _problem(request, offering, error)
    return _back(request, offering)


def _local(text: str, zone: str, field: str) -> datetime | None:
    if not text:
        return None
    try:
        naive = datetime.fromisoformat(text)
        return naive.replace(tzinfo=zoneinfo.ZoneInfo(zone))
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise InvalidInput(
            f"The {field} is not a date and time.", field_errors={field: ["Invalid."]}
        ) from None


@business_view(Role.MANAGER)
@require_POST
def event_save_view(request: HttpRequest, offering_id: int) -> HttpResponse:
    offering = _offering(request, offering_id)
    post = request.POST
    try:
        zone = validate_timezone(post.get("timezone", "") or offering.business.timezone)
        starts_at = _local(post.get("starts_at", ""), zone, "start")
        if starts_at is None:
            raise InvalidInput("Give the date and time the event starts.")
        services.event_save(
            offering=offering,
            starts_at=starts_at,
            ends_at=_local(post.get("ends_at", ""), zone, "end"),
            timezone_name=zone,
            venue_name=post.get("venue_name", ""),
            venue_address=post.get("venue_address", ""),
            online_url=post.get("online_url", "").strip(),
        )
    except TillbookError as error:
        return _problem(request, offering, error)
    return _back(request, offering)


@business_view(Role.MANAGER)
@require_POST
def quota_save_view(request: HttpRequest, offering_id: int) -> HttpResponse:
    offering = _offering(request, offering_id)
    try:
        services.quota_save(
            offering=offering,
            quota=_pick(Quota, offering, request.POST.get("id", "")),
            name=request.POST.get("name", ""),
            size=_count(request.POST.get("size", ""), "size"),
        )
    except TillbookError as error:
        return _problem(request, offering, error)
    return _back(request, offering)


@business_view(Role.MANAGER)
@require_POST
def ticket_type_save_view(request: HttpRequest, offering_id: int) -> HttpResponse:
    offering = _offering(request, offering_id)
    post = request.POST
    try:
        services.ticket_type_save(
            offering=offering,
            ticket_type=_pick(TicketType, offering, post.get("id", "")),
            name=post.get("name", ""),
            price=_minor(
                post.get("price", ""),
                business_of(request),
                currency=offering.currency,
                optional=True,
            ),
            quota=_pick(Quota, offering, post.get("quota", "")),
            is_active=post.get("is_active", "1") == "1",
        )
    except TillbookError as error:
        return _problem(request, offering, error)
    return _back(request, offering)


@business_view(Role.MANAGER)
@require_POST
def lesson_save_view(request: HttpRequest, offering_id: int) -> HttpResponse:
    offering = _offering(request, offering_id)
    post = request.POST
    try:
        lesson = services.lesson_save(
            offering=offering,
            lesson=_pick(Lesson, offering, post.get("id", "")),
            title=post.get("title", ""),
            body=post.get("body", ""),
            video_url=post.get("video_url", "").strip(),
            position=_count(post.get("position", ""), "position") or 0,
        )
        upload = request.FILES.get("file")
        if upload is not None:
            services.file_add(offering=offering, upload=upload, lesson=lesson)
    except TillbookError as error:
        return _problem(request, offering, error)
    return _back(request, offering)


@business_view(Role.MANAGER)
@require_POST
def file_upload_view(request: HttpRequest, offering_id: int) -> HttpResponse:
    offering = _offering(request, offering_id)
    upload = request.FILES.get("file")
    if upload is None:
        return _problem(request, offering, InvalidInput("Choose a file to upload."))
    try:
        services.file_add(offering=offering, upload=upload, name=request.POST.get("name", ""))
    except TillbookError as error:
        return _problem(request, offering, error)
    return _back(request, offering, f"Uploaded {upload.name}.")


class ShopSettingsForm(forms.Form):
    prices_include_tax = forms.BooleanField(required=False, label="Prices I enter include tax")
    reservation_minutes = forms.IntegerField(
        min_value=1, max_value=1440, help_text="How long an unpaid checkout holds tickets or stock."
    )
    oversold_policy = forms.ChoiceField(
        choices=OversoldPolicy.choices,
        label="When a payment arrives after the last place sold",
        help_text="It also appears in Sales → Paid but no place.",
    )
    pickup_instructions = forms.CharField(max_length=300, required=False)


@business_view(Role.MANAGER)
@require_http_methods(["GET", "POST"])
def shop_settings_view(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    current = shop_settings(business)
    initial = {name: getattr(current, name) for name in ShopSettingsForm.base_fields}
    form = ShopSettingsForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.shop_settings_save(
                    business=business, actor=user_of(request), data=form.cleaned_data
                )
            except TillbookError as error:
                apply_error(form, error)
                status = error.status_code
            else:
                messages.success(request, "Saved.")
                return redirect("backoffice:shop_settings", business.slug)
    return page(
        request,
        "backoffice/catalog/settings.html",
        {
            "form": form,
            "tax_classes": TaxClass.objects.filter(business=business),
            "shipping_rates": ShippingRate.objects.filter(business=business),
        },
        status=status,
        section="catalog",
    )


@business_view(Role.MANAGER)
@require_POST
def tax_class_save_view(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    try:
        services.tax_class_save(
            business=business, name=request.POST.get("name", ""), rate=request.POST.get("rate", "")
        )
    except TillbookError as error:
        messages.error(request, error.message)
    return redirect("backoffice:shop_settings", business.slug)


@business_view(Role.MANAGER)
@require_POST
def shipping_rate_save_view(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    try:
        services.shipping_rate_save(
            business=business,
            name=request.POST.get("name", ""),
            amount=_minor(request.POST.get("amount", ""), business, field="amount") or 0,
            countries=request.POST.get("countries", ""),
            is_pickup=request.POST.get("is_pickup") == "1",
        )
    except TillbookError as error:
        messages.error(request, error.message)
    return redirect("backoffice:shop_settings", business.slug)


@business_view(Role.MANAGER)
@require_http_methods(["GET", "POST"])
def discount_list(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    status = 200
    if request.method == "POST":
        post = request.POST
        try:
            kind = post.get("kind", "")
            if kind not in DiscountKind.values:
                raise InvalidInput("Choose percent or fixed amount.")
            value = (
                _count(post.get("value", ""), "value")
                if kind == DiscountKind.PERCENT
                else _minor(post.get("value", ""), business, field="value")
            )
            offering_id = post.get("offering", "")
            offering = None
            if offering_id:
                pk = id_from_text(offering_id)
                if pk is not None:
                    offering = Offering.objects.filter(business=business, pk=pk).first()
                if offering is None:
                    # Not a code for every offering instead of the one that was meant.
                    raise InvalidInput("Choose an offering from the list.")
            expires = post.get("expires_at", "")
            services.discount_code_save(
                business=business,
                code=post.get("code", ""),
                kind=kind,
                value=value or 0,
                offering=offering,
                max_uses=_count(post.get("max_uses", ""), "limit"),
                expires_at=_local(expires, business.timezone, "expiry") if expires else None,
            )
        except TillbookError as error:
            messages.error(request, error.message)
            status = error.status_code
        else:
            messages.success(request, "Discount code added.")
            return redirect("backoffice:discount_list", business.slug)
    return page(
        request,
        "backoffice/catalog/discounts.html",
        {
            "codes": DiscountCode.objects.filter(business=business).select_related("offering"),
            "offerings": offerings_search(business=business),
            "kinds": DiscountKind.choices,
        },
        status=status,
        section="catalog",
    )
