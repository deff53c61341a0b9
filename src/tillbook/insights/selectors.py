"""The metrics of one business for one period, with the previous period alongside.

Everything is computed with grouped SQL (a dozen queries whatever the data's size); Python
only combines the handful of rows that come back. Sales in another currency than the
business's are reported apart under `other_currencies` and never added into its totals.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tillbook.core.models import Business
from tillbook.core.money import Money
from tillbook.insights.bookings import BookingMetrics, booking_metrics
from tillbook.insights.campaigns import (
    Attribution,
    CampaignResult,
    campaign_breakdown,
    channel_results,
    ratio,
)
from tillbook.insights.customers import (
    CustomerCounts,
    OpenRequests,
    customers_new_and_returning,
    open_payment_requests,
)
from tillbook.insights.ledger import (
    PayoutSummary,
    SalesTotals,
    payouts_by_processor,
    sales_totals,
)
from tillbook.insights.periods import Period


@dataclass
class PeriodMetrics:
    period: Period
    currency: str
    sales: SalesTotals
    other_currencies: dict[str, SalesTotals]
    payouts: list[PayoutSummary]
    customers: CustomerCounts
    campaigns: list[CampaignResult]
    bookings: BookingMetrics
    spend_apart: list[CampaignResult]  # campaigns billed in another currency
    # UTM campaigns with sales but no ad campaign, read with the campaigns.
    unattributed: dict[str, Attribution]

    @property
    def payout_total(self) -> int:
        return sum(p.amount for p in self.payouts if p.currency == self.currency)

    @property
    def ad_spend(self) -> int:
        return sum(c.spend for c in self.campaigns)

    @property
    def ad_clicks(self) -> int:
        return sum(c.clicks for c in self.campaigns)

    @property
    def attributed_revenue(self) -> int:
        return sum(c.attributed_revenue for c in self.campaigns)

    @property
    def roas(self) -> Decimal | None:
        return ratio(self.attributed_revenue, self.ad_spend)

    @property
    def channels(self) -> list[CampaignResult]:
        return channel_results(self.campaigns)


def period_metrics(*, business: Business, period: Period) -> PeriodMetrics:
    totals = sales_totals(business=business, period=period)
    own = totals.pop(business.currency, SalesTotals(business.currency))
    breakdown = campaign_breakdown(business=business, period=period)
    return PeriodMetrics(
        period=period,
        currency=business.currency,
        sales=own,
        other_currencies=dict(sorted(totals.items())),
        payouts=payouts_by_processor(business=business, period=period),
        customers=customers_new_and_returning(business=business, period=period),
        campaigns=breakdown.campaigns,
        bookings=booking_metrics(business=business, period=period),
        spend_apart=breakdown.apart,
        unattributed=breakdown.unattributed,
    )


@dataclass
class Metrics:
    current: PeriodMetrics
    previous: PeriodMetrics
    open_requests: OpenRequests


def business_metrics(*, business: Business, period: Period) -> Metrics:
    return Metrics(
        current=period_metrics(business=business, period=period),
        previous=period_metrics(business=business, period=period.previous()),
        open_requests=open_payment_requests(business=business),
    )


# JSON (`tillbook metrics --json`, the API) ----------------------------------------------------


def _money(amount: int, currency: str) -> str:
    return Money(amount, currency).major_string()


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _totals_json(sales: SalesTotals) -> dict[str, Any]:
    c = sales.currency
    return {
        "gross_sales": _money(sales.gross, c),
        "refunds": _money(sales.refunds, c),
        "fees": _money(sales.fees, c),
        "net_revenue": _money(sales.net, c),
        "tips": _money(sales.tips, c),
        "tax": _money(sales.tax, c),
        "orders": sales.orders,
        "average_order_value": _money(sales.average_order, c),
    }


def _campaign_json(result: CampaignResult, currency: str) -> dict[str, Any]:
    return {
        "platform": result.platform,
        "campaign": result.campaign,
        "spend": _money(result.spend, currency),
        "clicks": result.clicks,
        "impressions": result.impressions,
        "conversions": f"{result.conversions:.2f}",
        "attributed_revenue": _money(result.attributed_revenue, currency),
        "orders": result.orders,
        "new_customers": result.new_customers,
        "roas": _decimal(result.roas),
        "cac": None if result.cac is None else _money(result.cac, currency),
    }


def period_json(metrics: PeriodMetrics) -> dict[str, Any]:
    c = metrics.currency
    return {
        "from": metrics.period.first.isoformat(),
        "to": metrics.period.last.isoformat(),
        "currency": c,
        **_totals_json(metrics.sales),
        "payouts": _money(metrics.payout_total, c),
        "payouts_by_processor": [
            {
                "provider": p.provider,
                "currency": p.currency,
                "amount": _money(p.amount, p.currency),
                "count": p.count,
            }
            for p in metrics.payouts
        ],
        "new_customers": metrics.customers.new,
        "returning_customers": metrics.customers.returning,
        "ad_spend": _money(metrics.ad_spend, c),
        "ad_clicks": metrics.ad_clicks,
        "attributed_revenue": _money(metrics.attributed_revenue, c),
        "roas": _decimal(metrics.roas),
        "by_campaign": [_campaign_json(r, c) for r in metrics.campaigns],
        "by_channel": [_campaign_json(r, c) for r in metrics.channels],
        "other_currencies": {
            code: _totals_json(totals) for code, totals in metrics.other_currencies.items()
        },
        "ad_spend_other_currencies": [
            {
                "platform": r.platform,
                "campaign": r.campaign,
                "currency": r.currency,
                "spend": _money(r.spend, r.currency),
                "clicks": r.clicks,
                "impressions": r.impressions,
                "conversions": f"{r.conversions:.2f}",
                # In the business's currency; no ROAS is set against spend in another.
                "attributed_revenue": _money(r.attributed_revenue, metrics.currency),
                "orders": r.orders,
                "new_customers": r.new_customers,
            }
            for r in metrics.spend_apart
        ],
        "bookings": metrics.bookings.as_json(),
    }


def metrics_json(metrics: Metrics, *, business: Business) -> dict[str, Any]:
    current = period_json(metrics.current)
    previous = period_json(metrics.previous)
    for key in ("by_campaign", "by_channel", "currency"):
        previous.pop(key)
    requests = metrics.open_requests
    unattributed = sorted(metrics.current.unattributed.items())
    return {
        **current,
        "previous": previous,
        "open_payment_requests": {
            "count": requests.count,
            "amount": _money(requests.amount, business.currency),
            "oldest_days": requests.oldest_days,
            "older_than_a_week": requests.older_than_week,
        },
        "unattributed_utm_campaigns": {
            utm: _money(value.revenue, business.currency) for utm, value in unattributed
        },
        # Of those, the values that name several ad campaigns: the owner must map them.
        "ambiguous_utm_campaigns": [utm for utm, value in unattributed if value.names_several],
    }
