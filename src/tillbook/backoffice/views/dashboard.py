"""The back-office home: this period's numbers against the previous one, revenue over time,
payouts with what they carried, and what the ad campaigns brought in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone

from tillbook.backoffice.access import business_of, business_view, page
from tillbook.backoffice.charts import Series, legend, line_chart
from tillbook.backoffice.views.helpers import csv_response
from tillbook.backoffice.views.ranges import RangeChoice, selected_range
from tillbook.catalog.models import OfferingKind
from tillbook.core.models import Business
from tillbook.core.money import Money
from tillbook.insights.bookings import bookings_by_service, upcoming_bookings
from tillbook.insights.campaigns import (
    CampaignResult,
    campaign_results,
    campaigns_with_apart,
    channel_results,
    unattributed_utms,
)
from tillbook.insights.customers import lifetime_value_by_cohort
from tillbook.insights.ledger import PayoutSummary, payouts_by_processor, revenue_by_day
from tillbook.insights.offerings import OfferingResult, top_offerings
from tillbook.insights.periods import Period
from tillbook.insights.rollups import rollups_refresh
from tillbook.insights.selectors import Metrics, business_metrics


@dataclass(frozen=True)
class Kpi:
    label: str
    value: str
    change: str  # "+12%" / "−5%" / "" when there is nothing to compare with
    is_better: bool | None  # colours the change; None when neutral
    help: str = ""


def _change(now: int, before: int, *, higher_is_better: bool = True) -> tuple[str, bool | None]:
    if before == 0:  # from nothing: better when it moved the good way (net revenue below zero
        # after a period without sales is not)
        return ("new" if now else ""), (None if not now else (now > 0) == higher_is_better)
    percent = (Decimal(now - before) * 100 / abs(Decimal(before))).quantize(Decimal(1))
    if percent == 0:
        return "±0%", None
    sign = "+" if percent > 0 else "−"
    return f"{sign}{abs(percent)}%", (percent > 0) == higher_is_better


def _money(business: Business, amount: int) -> str:
    return Money(amount, business.currency).format(business.locale)


def kpis(business: Business, metrics: Metrics) -> list[Kpi]:
    now, before = metrics.current, metrics.previous
    cards = []
    for label, current, previous, better, help_text in (
        ("Net revenue", now.sales.net, before.sales.net, True, "Gross sales − refunds − fees"),
        ("Gross sales", now.sales.gross, before.sales.gross, True, "What customers paid"),
        ("Refunds", now.sales.refunds, before.sales.refunds, False, "Chargebacks included"),
        ("Processor fees", now.sales.fees, before.sales.fees, False, ""),
        ("Payouts", now.payout_total, before.payout_total, True, "Arrived in your bank"),
        ("Ad spend", now.ad_spend, before.ad_spend, False, ""),
        ("Average order", now.sales.average_order, before.sales.average_order, True, ""),
    ):
        change, good = _change(current, previous, higher_is_better=better)
        cards.append(Kpi(label, _money(business, current), change, good, help_text))
    change, good = _change(now.sales.orders, before.sales.orders)
    cards.insert(2, Kpi("Orders", str(now.sales.orders), change, good, "Paid in parts counts once"))
    change, good = _change(now.customers.new, before.customers.new)
    returning = f"{now.customers.returning} returning"
    cards.append(Kpi("New customers", str(now.customers.new), change, good, returning))
    roas_now, roas_before = now.roas, before.roas
    bookings_now, bookings_before = now.bookings, before.bookings
    if bookings_now.bookings or bookings_before.bookings or bookings_now.offered_minutes:
        change, good = _change(bookings_now.bookings, bookings_before.bookings)
        used, rate = bookings_now.utilisation, bookings_now.no_show_rate
        detail = f"{used}% of offered hours" if used is not None else "no hours offered"
        cards.append(Kpi("Bookings", str(bookings_now.bookings), change, good, detail))
        missed = f"{bookings_now.no_shows} missed"
        cards.append(Kpi("No-shows", f"{rate}%" if rate is not None else "–", "", None, missed))
    change, good = ("", None)
    if roas_now is not None and roas_before:
        change, good = _change(int(roas_now * 100), int(roas_before * 100))
    cards.append(
        Kpi(
            "ROAS",
            f"{roas_now}×" if roas_now is not None else "–",
            change,
            good,
            "Attributed net revenue ÷ ad spend",
        )
    )
    return cards


def dashboard_context(request: HttpRequest, business: Business) -> dict[str, Any]:
    choice = selected_range(request, business)
    # Live payments since the last sweep join the rollup now (a no-op when nothing is new).
    rollups_refresh(business=business)
    metrics = business_metrics(business=business, period=choice.period)
    days = revenue_by_day(business=business, period=choice.period)
    series = [
        Series("Gross sales", [d.gross for d in days], "gross"),
        Series("Net revenue", [d.net for d in days], "net"),
    ]
    return {
        "range": choice,
        "metrics": metrics,
        "kpis": kpis(business, metrics),
        "chart": line_chart(
            days=[d.day for d in days],
            series=series,
            currency=business.currency,
            title=f"Gross sales and net revenue per day, {choice.period.first:%b %-d} to "
            f"{choice.period.last:%b %-d, %Y}",
        ),
        "legend": legend(series),
        "has_sales": any(d.gross or d.refunds or d.fees for d in days),
        "payouts": payout_display(business, metrics.current.payouts),
        "payout_totals": payout_totals_display(business, metrics.current.payouts),
        "campaigns": campaign_display(business, metrics.current.campaigns),
        "spend_apart": spend_apart_display(business, metrics.current.spend_apart),
        "open_amount": _money(business, metrics.open_requests.amount),
        "other_currencies": other_currency_display(business, metrics),
        "upcoming": upcoming_bookings(business=business),
        "offerings": offering_display(
            business,
            top_offerings(
                business=business,
                period=choice.period,
                services=metrics.current.bookings.by_service,
            ),
        ),
    }


OFFERING_KINDS = dict(OfferingKind.choices)


def offering_display(business: Business, results: list[OfferingResult]) -> list[dict[str, Any]]:
    return [
        {
            "kind": OFFERING_KINDS.get(r.kind, r.kind),
            "title": r.title,
            "sold": r.sold,
            "revenue_text": _money(business, r.net_revenue),
        }
        for r in results
    ]


def payout_totals_display(
    business: Business, summaries: list[PayoutSummary]
) -> list[dict[str, Any]]:
    """One row per processor and currency: how many payouts, and what they carried. What a
    payout without lines carried is not known (not zero): the contents sum the payouts with
    lines, and the row says how many had none (blank contents when none had lines)."""
    rows = []
    for summary in summaries:
        itemised = [payout for payout in summary.payouts if payout["lines"]]
        row: dict[str, Any] = {
            "provider": summary.processor,
            "count": summary.count,
            "without_lines": summary.count - len(itemised),
            "amount": Money(summary.amount, summary.currency).format(business.locale),
        }
        for key in CONTENTS:
            total = sum(int(str(payout[key])) for payout in itemised)
            row[key] = Money(total, summary.currency).format(business.locale) if itemised else ""
        rows.append(row)
    return rows


# What a payout carried, from its lines: amount = sales − refunds − fees + other.
CONTENTS = ("sales", "refunds", "fees", "other")


def payout_display(business: Business, summaries: list[PayoutSummary]) -> list[dict[str, Any]]:
    rows = []
    for summary in summaries:
        for payout in summary.payouts:
            row: dict[str, Any] = {**payout, "provider": summary.processor}
            for key in ("amount", *CONTENTS):
                # A payout without lines: what it carried is not known (not zero).
                known = key == "amount" or payout["lines"]
                money = Money(int(str(payout[key])), summary.currency)
                row[key] = money.format(business.locale) if known else ""
            rows.append(row)
    return rows


def campaign_display(business: Business, results: list[CampaignResult]) -> list[dict[str, Any]]:
    return [
        {
            "platform": r.platform,
            "campaign": r.campaign,
            "spend_text": _money(business, r.spend),
            "clicks": r.clicks,
            "revenue_text": _money(business, r.attributed_revenue),
            "roas": r.roas,
            "cac_text": _money(business, r.cac) if r.cac is not None else "",
        }
        for r in results
    ]


def spend_apart_display(business: Business, results: list[CampaignResult]) -> list[dict[str, Any]]:
    return [
        {
            "platform": r.platform,
            "campaign": r.campaign,
            "currency": r.currency,
            "spend_text": Money(r.spend, r.currency).format(business.locale),
            "clicks": r.clicks,
            "orders": r.orders,
            "revenue_text": _money(business, r.attributed_revenue) if r.orders else "",
        }
        for r in results
    ]


def other_currency_display(business: Business, metrics: Metrics) -> list[dict[str, Any]]:
    return [
        {
            "code": code,
            "gross_text": Money(totals.gross, code).format(business.locale),
            "net_text": Money(totals.net, code).format(business.locale),
            "orders": totals.orders,
        }
        for code, totals in metrics.current.other_currencies.items()
    ]


@business_view()
def dashboard(request: HttpRequest) -> HttpResponse:
    business = business_of(request)
    context = dashboard_context(request, business)
    return page(
        request,
        "backoffice/dashboard.html",
        context,
        section="dashboard",
        status=range_status(context["range"]),
    )


def range_status(choice: RangeChoice) -> int:
    """400 when the dates asked for were refused (the page shows why, and the default range)."""
    return 400 if choice.error else 200


def _m(business: Business, amount: int) -> str:
    return Money(amount, business.currency).major_string()


Rows = list[list[object]]


def _revenue_rows(business: Business, period: Period) -> Rows:
    rows: Rows = [["day", "currency", "gross_sales", "refunds", "fees", "net_revenue"]]
    for d in revenue_by_day(business=business, period=period):
        amounts = [_m(business, value) for value in (d.gross, d.refunds, d.fees, d.net)]
        rows.append([d.day.isoformat(), business.currency, *amounts])
    return rows


def _payout_rows(business: Business, period: Period) -> Rows:
    header: list[object] = ["provider", "payout", "arrival_date", "currency", "amount"]
    rows: Rows = [[*header, "sales", "refunds", "fees", "other", "lines"]]
    for summary in payouts_by_processor(business=business, period=period):
        for payout in summary.payouts:
            amounts = [  # blank contents for a payout without lines: not known, not zero
                Money(int(str(payout[key])), summary.currency).major_string()
                if key == "amount" or payout["lines"]
                else ""
                for key in ("amount", *CONTENTS)
            ]
            # The processor as the page writes it ("PayPal", not "paypal").
            head = [summary.processor, payout["reference"], payout["arrival_date"]]
            head.append(summary.currency)
            rows.append([*head, *amounts, payout["lines"]])
    return rows


def _campaign_rows(
    business: Business, results: list[CampaignResult], apart: Sequence[CampaignResult] = ()
) -> Rows:
    header: list[object] = ["platform", "campaign", "currency", "spend", "clicks", "impressions"]
    rows: Rows = [
        [*header, "conversions", "attributed_revenue", "orders", "new_customers", "roas", "cac"]
    ]
    for r in results:
        rows.append(
            [
                *(r.platform, r.campaign, r.currency, _m(business, r.spend), r.clicks),
                *(r.impressions, r.conversions, _m(business, r.attributed_revenue), r.orders),
                r.new_customers,
                "" if r.roas is None else r.roas,
                "" if r.cac is None else _m(business, r.cac),
            ]
        )
    rows.extend(  # spend in its own currency, revenue in the business's: no ROAS or CAC
        [
            *(r.platform, r.campaign, r.currency, Money(r.spend, r.currency).major_string()),
            *(r.clicks, r.impressions, r.conversions, _m(business, r.attributed_revenue)),
            *(r.orders, r.new_customers, "", ""),
        ]
        for r in apart
    )
    return rows


def _unattributed_rows(business: Business, period: Period) -> Rows:
    rows: Rows = [["utm_campaign", "currency", "attributed_revenue", "orders", "names_several"]]
    for utm, value in sorted(unattributed_utms(business=business, period=period).items()):
        several = "yes" if value.names_several else ""
        rows.append([utm, business.currency, _m(business, value.revenue), value.orders, several])
    return rows


def _cohort_rows(business: Business) -> Rows:
    rows: Rows = [["cohort_month", "currency", "customers", "orders", "revenue", "lifetime_value"]]
    for c in lifetime_value_by_cohort(business=business):
        money = [Money(value, c.currency).major_string() for value in (c.revenue, c.lifetime_value)]
        rows.append([c.month.strftime("%Y-%m"), c.currency, c.customers, c.orders, *money])
    return rows


def _booking_rows(business: Business, period: Period) -> Rows:
    rows: Rows = [
        ["service", "bookings", "completed", "no_shows", "no_show_rate_percent", "cancelled",
         "currency", "revenue"]
    ]  # fmt: skip
    for s in bookings_by_service(business=business, period=period):
        rate = "" if s.no_show_rate is None else str(s.no_show_rate)
        counts = [s.bookings, s.completed, s.no_shows, rate, s.cancelled]
        rows.append([s.name, *counts, business.currency, _m(business, s.revenue)])
    return rows


def _offering_rows(business: Business, period: Period) -> Rows:
    rows: Rows = [["kind", "offering", "currency", "sold", "net_revenue"]]
    for r in top_offerings(business=business, period=period, limit=None):
        kind = OFFERING_KINDS.get(r.kind, r.kind)
        rows.append([kind, r.title, business.currency, r.sold, _m(business, r.net_revenue)])
    return rows


def export_rows(table: str, period: Period, business: Business) -> Rows:
    if table == "revenue":
        return _revenue_rows(business, period)
    if table == "payouts":
        return _payout_rows(business, period)
    if table == "campaigns":
        return _campaign_rows(business, *campaigns_with_apart(business=business, period=period))
    if table == "channels":
        results = campaign_results(business=business, period=period)
        return _campaign_rows(business, channel_results(results))
    if table == "unattributed":
        return _unattributed_rows(business, period)
    if table == "cohorts":
        return _cohort_rows(business)
    if table == "offerings":
        return _offering_rows(business, period)
    if table == "bookings":
        return _booking_rows(business, period)
    raise Http404("No such table.")


EXPORTS = (
    "revenue", "payouts", "campaigns", "channels", "unattributed", "cohorts", "offerings",
    "bookings",
)  # fmt: skip


@business_view()
def dashboard_export(request: HttpRequest, table: str) -> HttpResponseBase:
    business = business_of(request)
    if table not in EXPORTS:
        raise Http404("No such table.")
    choice = selected_range(request, business)
    if choice.error:  # never another range's rows under the name of the one asked for
        return HttpResponse(choice.error, status=400, content_type="text/plain; charset=utf-8")
    rollups_refresh(business=business)  # the same figures as the page it was downloaded from
    rows = export_rows(table, choice.period, business)
    stamp = timezone.localdate().isoformat()
    return csv_response(
        f"{table}-{business.slug}-{stamp}.csv", business=business, rows=lambda: rows
    )
