"""Ad spend joined to the revenue it brought: ROAS and CAC per campaign and per channel.

A payment is attributed to the UTM campaign kept with it at purchase time: its order's
(orders.Order.utm_campaign), else the `utm_campaign` in its metadata, which Stripe imports
fill from the `utm_campaign (metadata)` column (insights.attribution). Bookings join the same
way once they are paid through orders or carry the campaign on their payment.
A UTM campaign belongs to an ad campaign through the owner's mapping, or else when it equals
the campaign's name or id exactly (UTM values are case-sensitive).

Attributed revenue is what those payments brought net of processor fees and of their refunds:
the true return, not the ad platform's own conversion value.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from django.db.models import Count, F, Q, Sum

from tillbook.core.models import Business
from tillbook.insights.models import CustomerFirstPayment, DailyLedger
from tillbook.insights.periods import Period
from tillbook.marketing.models import AdCampaign, AdPlatform, AdSpendDay, CampaignMapping

UTM_KEY = "utm_campaign"


def ratio(numerator: int, denominator: int) -> Decimal | None:
    """A ratio to two decimals (ROAS), None when there is nothing to divide by."""
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_EVEN
    )


@dataclass
class CampaignResult:
    platform: str
    campaign: str
    campaign_id: int | None
    currency: str
    spend: int = 0
    clicks: int = 0
    impressions: int = 0
    conversions: Decimal = Decimal(0)
    attributed_revenue: int = 0
    orders: int = 0
    new_customers: int = 0

    @property
    def roas(self) -> Decimal | None:
        return ratio(self.attributed_revenue, self.spend)

    @property
    def cac(self) -> int | None:
        """Spend per new customer; none without spend in the business's currency (as ROAS):
        a campaign paid for in another currency did not bring customers for nothing."""
        return self.spend // self.new_customers if self.spend and self.new_customers else None


@dataclass
class Attribution:
    revenue: int = 0
    orders: int = 0
    new_customers: int = 0


def attributed_by_utm(*, business: Business, period: Period) -> dict[str, Attribution]:
    """Net revenue, orders and new customers per UTM campaign, in the business's currency."""
    found: dict[str, Attribution] = defaultdict(Attribution)
    for row in (
        DailyLedger.objects.filter(
            business=business,
            currency=business.currency,
            day__gte=period.first,
            day__lte=period.last,
        )
        .exclude(utm_campaign="")
        .values("utm_campaign")
        .annotate(revenue=Sum(F("gross") - F("fees") - F("refunds_of_sales")), orders=Sum("orders"))
        .order_by()
    ):
        found[row["utm_campaign"]].revenue += row["revenue"]
        found[row["utm_campaign"]].orders += row["orders"]
    # A campaign acquired the customers whose first payment ever came through it.
    for row in (
        CustomerFirstPayment.objects.filter(
            business=business, first_at__gte=period.start, first_at__lt=period.end
        )
        .exclude(first_utm="")
        .values("first_utm")
        .annotate(customers=Count("id"))
        .order_by()
    ):
        found[row["first_utm"]].new_customers += row["customers"]
    return dict(found)


def _spend(business: Business, period: Period, *, own_currency: bool) -> list[CampaignResult]:
    """Spend, clicks, impressions and conversions per campaign and currency in the period:
    those in the business's currency, or (own_currency=False) those in any other."""
    days = AdSpendDay.objects.filter(business=business, day__gte=period.first, day__lte=period.last)
    if own_currency:
        days = days.filter(currency=business.currency)
    else:
        days = days.exclude(currency=business.currency)
    return [
        CampaignResult(
            platform=row["campaign__platform"],
            campaign=row["campaign__name"],
            campaign_id=row["campaign"],
            currency=row["currency"],
            spend=row["spend"],
            clicks=row["clicks"],
            impressions=row["impressions"],
            conversions=Decimal(row["conversions"]).quantize(Decimal("0.01")),
        )
        for row in days.values("campaign", "campaign__platform", "campaign__name", "currency")
        .annotate(
            spend=Sum("spend"),
            clicks=Sum("clicks"),
            impressions=Sum("impressions"),
            conversions=Sum("conversions"),
        )
        .order_by("currency", "-spend", "campaign__name")
    ]


def spend_apart(*, business: Business, period: Period) -> list[CampaignResult]:
    """Campaigns billed in another currency than the business's: shown apart, never added into
    its ad spend or ROAS (no exchange rate is guessed)."""
    return _spend(business, period, own_currency=False)


def campaign_results(*, business: Business, period: Period) -> list[CampaignResult]:
    """Every campaign with spend or attributed revenue in the period, biggest spend first.
    Spend in another currency is never mixed into ROAS: see `spend_apart`."""
    results = {
        result.campaign_id: result
        for result in _spend(business, period, own_currency=True)
        if result.campaign_id is not None
    }
    attributed = attributed_by_utm(business=business, period=period)
    if attributed:
        target = _utm_targets(business, set(attributed))
        for utm, value in attributed.items():
            campaign = target.get(utm)
            if campaign is None:
                continue
            result = results.get(campaign.pk)
            if result is None:
                result = results[campaign.pk] = CampaignResult(
                    platform=campaign.platform,
                    campaign=campaign.name,
                    campaign_id=campaign.pk,
                    currency=business.currency,
                )
            result.attributed_revenue += value.revenue
            result.orders += value.orders
            result.new_customers += value.new_customers
    return sorted(results.values(), key=lambda r: (-r.spend, -r.attributed_revenue, r.campaign))


def _utm_targets(business: Business, utms: set[str]) -> dict[str, AdCampaign]:
    mapped = {
        mapping.utm_campaign: mapping.campaign
        for mapping in CampaignMapping.objects.filter(
            business=business, utm_campaign__in=utms
        ).select_related("campaign")
    }
    rest = utms - set(mapped)
    if rest:
        for campaign in AdCampaign.objects.filter(
            Q(name__in=rest) | Q(external_id__in=rest), business=business
        ).order_by("pk"):
            for key in (campaign.name, campaign.external_id):
                if key in rest:
                    mapped.setdefault(key, campaign)
    return mapped


def unattributed_utms(*, business: Business, period: Period) -> dict[str, Attribution]:
    """UTM campaigns with sales but no ad campaign: newsletters, social posts, or a mapping
    the owner still has to make."""
    attributed = attributed_by_utm(business=business, period=period)
    targets = _utm_targets(business, set(attributed)) if attributed else {}
    return {utm: value for utm, value in attributed.items() if utm not in targets}


def channel_results(results: list[CampaignResult]) -> list[CampaignResult]:
    """The campaigns summed per platform (a channel), each named as the platform calls itself."""
    names = dict(AdPlatform.choices)
    channels: dict[str, CampaignResult] = {}
    for result in results:
        channel = channels.setdefault(
            result.platform,
            CampaignResult(
                result.platform,
                names.get(result.platform, result.platform),
                None,
                result.currency,
            ),
        )
        channel.spend += result.spend
        channel.clicks += result.clicks
        channel.impressions += result.impressions
        channel.conversions += result.conversions
        channel.attributed_revenue += result.attributed_revenue
        channel.orders += result.orders
        channel.new_customers += result.new_customers
    return sorted(channels.values(), key=lambda c: c.platform)
