"""Reports per area (sales, payments, bookings, marketing, customers) with the dashboard's
range picker, and the owner's mapping of UTM campaigns to ad campaigns."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from tillbook.backoffice.access import business_of, business_view, page, user_of
from tillbook.backoffice.views.dashboard import (
    campaign_display,
    dashboard_context,
    payout_display,
    range_status,
)
from tillbook.backoffice.views.helpers import apply_error
from tillbook.core.errors import TillbookError
from tillbook.core.models import Role
from tillbook.core.money import Money
from tillbook.insights.campaigns import channel_results, unlinked_refunds
from tillbook.insights.customers import lifetime_value_by_cohort
from tillbook.insights.ledger import revenue_by_day
from tillbook.marketing.models import AdCampaign, CampaignMapping
from tillbook.marketing.services import campaign_mapping_delete, campaign_mapping_set

REPORTS = {
    "sales": ("Sales", "Gross sales, refunds, fees and net revenue, day by day."),
    "payments": ("Payments", "Payouts per processor and what each one carried."),
    "bookings": ("Bookings", "Bookings, utilisation of your hours and no-shows."),
    "marketing": ("Marketing", "Ad spend, attributed revenue, ROAS and CAC per campaign."),
    "customers": ("Customers", "New and returning customers, and lifetime value by cohort."),
}


@business_view()
def insights_home(request: HttpRequest) -> HttpResponse:
    return page(
        request,
        "backoffice/insights/home.html",
        {"reports": REPORTS, "query": request.GET.urlencode()},
        section="insights",
    )


@business_view()
def insights_report(request: HttpRequest, report: str) -> HttpResponse:
    if report not in REPORTS:
        raise Http404("No such report.")
    business = business_of(request)
    context: dict[str, Any] = dashboard_context(request, business)
    title, text = REPORTS[report]
    context.update(report=report, title=title, text=text)
    period = context["range"].period
    metrics = context["metrics"]
    money = business.currency

    def fmt(amount: int) -> str:
        return Money(amount, money).format(business.locale)

    if report == "sales":
        context["days"] = [
            {"day": d.day, **{k: fmt(getattr(d, k)) for k in ("gross", "refunds", "fees", "net")}}
            for d in revenue_by_day(business=business, period=period)
        ]
    elif report == "payments":
        context["payouts"] = payout_display(business, metrics.current.payouts)
    elif report == "marketing":
        context["channels"] = campaign_display(business, channel_results(metrics.current.campaigns))
        current = metrics.current
        context["utm_sales"] = any(c.orders for c in [*current.campaigns, *current.spend_apart])
        unlinked = unlinked_refunds(business=business, period=period)
        context["unlinked_refunds"] = fmt(unlinked.refunds) if unlinked.refunds else ""
        context["chargebacks"] = fmt(unlinked.chargebacks) if unlinked.chargebacks > 0 else ""
        # More came back than was taken (a won dispute, a refund the bank could not take).
        context["came_back"] = fmt(-unlinked.chargebacks) if unlinked.chargebacks < 0 else ""
        context["unattributed"] = [
            (utm, fmt(value.revenue), value.orders, value.names_several)
            for utm, value in sorted(current.unattributed.items())
        ]
    elif report == "customers":
        cohorts = lifetime_value_by_cohort(business=business)
        context["cohorts"] = [
            {
                "month": c.month,
                "customers": c.customers,
                "orders": c.orders,
                "revenue": fmt(c.revenue),
                "ltv": fmt(c.lifetime_value),
            }
            for c in cohorts
            if c.currency == money
        ]
        context["cohorts_apart"] = [
            {
                "month": c.month,
                "currency": c.currency,
                "customers": c.customers,
                "revenue": Money(c.revenue, c.currency).format(business.locale),
            }
            for c in cohorts
            if c.currency != money
        ]
    elif report == "bookings":
        context["services"] = [
            {
                "name": s.name,
                "bookings": s.bookings,
                "completed": s.completed,
                "no_shows": s.no_shows,
                "no_show_rate": s.no_show_rate,
                "cancelled": s.cancelled,
                "revenue": fmt(s.revenue),
            }
            for s in metrics.current.bookings.services  # read with the period's bookings
        ]
    return page(
        request,
        "backoffice/insights/report.html",
        context,
        section="insights",
        status=range_status(context["range"]),
    )


class MappingForm(forms.Form):
    utm_campaign = forms.CharField(
        max_length=300,
        label="UTM campaign",
        help_text=(
            "As in your links (utm_campaign=…), with a space where the link has + or %20; "
            "capitals matter."
        ),
    )
    # The real, scoped choices are set per request; the class must not query at import.
    campaign = forms.ModelChoiceField(queryset=AdCampaign._base_manager.none(), label="Ad campaign")


@business_view(Role.MANAGER)
@require_http_methods(["GET", "POST"])
def campaign_mappings(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    form = MappingForm(request.POST or None)
    form.fields["campaign"].queryset = AdCampaign.objects.filter(business=business)  # type: ignore[attr-defined]
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                campaign_mapping_set(
                    business=business,
                    actor=user_of(request),
                    utm_campaign=form.cleaned_data["utm_campaign"],
                    campaign=form.cleaned_data["campaign"],
                )
            except TillbookError as error:
                apply_error(form, error)
                status = error.status_code
            else:
                messages.success(request, "Saved.")
                return redirect("backoffice:campaign_mappings", business.slug)
    return page(
        request,
        "backoffice/insights/mappings.html",
        {
            "form": form,
            "mappings": CampaignMapping.objects.filter(business=business)
            .select_related("campaign")
            .order_by("utm_campaign"),
        },
        status=status,
        section="marketing",
    )


@business_view(Role.MANAGER)
@require_POST
def campaign_mapping_remove(request: HttpRequest, mapping_id: int) -> HttpResponse:
    business = business_of(request)
    mapping = CampaignMapping.objects.filter(business=business, pk=mapping_id).first()
    if mapping is None:
        raise Http404("No such mapping.")
    campaign_mapping_delete(mapping=mapping, actor=user_of(request))
    messages.success(request, f"“{mapping.utm_campaign}” is no longer mapped.")
    return redirect("backoffice:campaign_mappings", business.slug)
