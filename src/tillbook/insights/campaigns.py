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
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from django.db.models import Count, F, Max, Q, Sum

from tillbook.core.models import Business
from tillbook.core.money import per_each
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
    # Spend in `currency`, another than the business's, in which its revenue is counted.
    billed_apart: bool = False

    @property
    def roas(self) -> Decimal | None:
        if self.billed_apart:  # no exchange rate is guessed
            return None
        return ratio(self.attributed_revenue, self.spend)

    @property
    def cac(self) -> int | None:
        """Spend per new customer, to the nearest minor unit; none without spend in the
        business's currency (as ROAS): a campaign paid for in another currency did not bring
        customers for nothing."""
        if self.billed_apart or not self.spend or not self.new_customers:
            return None
        return per_each(self.spend, self.new_customers)


@dataclass
class Attribution:
    revenue: int = 0
    orders: int = 0
    new_customers: int = 0
    names_several: bool = False  # the UTM value names several campaigns: it must be mapped


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
        # Sales recorded before UTM values were trimmed where they are captured fold in.
        utm = row["utm_campaign"].strip()
        if not utm:
            continue
        found[utm].revenue += row["revenue"]
        found[utm].orders += row["orders"]
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
        if row["first_utm"].strip():
            found[row["first_utm"].strip()].new_customers += row["customers"]
    return dict(found)


@dataclass
class Unlinked:
    refunds: int  # refund lines that do not say which sale they were for
    chargebacks: int  # chargebacks and other adjustments, less what won disputes gave back


def unlinked_refunds(*, business: Business, period: Period) -> Unlinked:
    """Money taken back in the period (business currency) that is in the refunds, yet taken
    off no campaign's attributed revenue: refunds known only as processor balance lines that
    do not say which sale they were for (Stripe's balance history), and chargebacks."""
    totals = DailyLedger.objects.filter(
        business=business,
        currency=business.currency,
        day__gte=period.first,
        day__lte=period.last,
    ).aggregate(refunds=Sum("unlinked_refunds"), chargebacks=Sum("adjustments"))
    return Unlinked(int(totals["refunds"] or 0), int(totals["chargebacks"] or 0))


def _spend(business: Business, period: Period) -> tuple[list[CampaignResult], list[CampaignResult]]:
    """Spend, clicks, impressions and conversions per campaign and currency in the period (one
    grouped query): those in the business's currency, and apart those in any other."""
    days = AdSpendDay.objects.filter(business=business, day__gte=period.first, day__lte=period.last)
    own: list[CampaignResult] = []
    apart: list[CampaignResult] = []
    for row in (
        days.values("campaign", "campaign__platform", "campaign__name", "currency")
        .annotate(
            spend=Sum("spend"),
            clicks=Sum("clicks"),
            impressions=Sum("impressions"),
            conversions=Sum("conversions"),
        )
        .order_by("currency", "-spend", "campaign__name")
    ):
        billed_apart = row["currency"] != business.currency
        (apart if billed_apart else own).append(
            CampaignResult(
                platform=row["campaign__platform"],
                campaign=row["campaign__name"],
                campaign_id=row["campaign"],
                currency=row["currency"],
                spend=row["spend"],
                clicks=row["clicks"],
                impressions=row["impressions"],
                conversions=Decimal(row["conversions"]).quantize(Decimal("0.01")),
                billed_apart=billed_apart,
            )
        )
    return own, apart


def _attributed_campaigns(
    business: Business, period: Period
) -> tuple[dict[int, tuple[AdCampaign, Attribution]], dict[str, Attribution]]:
    """The period's attributed revenue, orders and new customers per ad campaign, and the UTM
    campaigns with sales that belong to none (see `unattributed_utms`), from one reading."""
    attributed = attributed_by_utm(business=business, period=period)
    targets = _utm_targets(business, set(attributed), period) if attributed else Targets({}, set())
    found: dict[int, tuple[AdCampaign, Attribution]] = {}
    unattributed: dict[str, Attribution] = {}
    for utm, value in attributed.items():
        campaign = targets.found.get(utm)
        if campaign is None:
            value.names_several = utm in targets.ambiguous
            unattributed[utm] = value
            continue
        total = found.setdefault(campaign.pk, (campaign, Attribution()))[1]
        total.revenue += value.revenue
        total.orders += value.orders
        total.new_customers += value.new_customers
    return found, unattributed


def campaign_results(*, business: Business, period: Period) -> list[CampaignResult]:
    """Every campaign with spend in the business's currency or attributed revenue in the
    period, biggest spend first (see `campaigns_with_apart`)."""
    return campaigns_with_apart(business=business, period=period)[0]


def spend_apart(*, business: Business, period: Period) -> list[CampaignResult]:
    """Campaigns billed in another currency than the business's (see `campaigns_with_apart`)."""
    return campaigns_with_apart(business=business, period=period)[1]


def campaigns_with_apart(
    *, business: Business, period: Period
) -> tuple[list[CampaignResult], list[CampaignResult]]:
    """The campaigns of the period, and apart from them those billed in another currency than
    the business's (see `campaign_breakdown`)."""
    breakdown = campaign_breakdown(business=business, period=period)
    return breakdown.campaigns, breakdown.apart


@dataclass
class CampaignBreakdown:
    campaigns: list[CampaignResult]
    apart: list[CampaignResult]  # billed in another currency than the business's
    unattributed: dict[str, Attribution]  # UTM campaigns with sales but no ad campaign


def campaign_breakdown(*, business: Business, period: Period) -> CampaignBreakdown:
    """The campaigns of the period, apart from them those billed in another currency than the
    business's, and the UTM campaigns whose sales belong to no ad campaign: one reading of the
    period's sales per UTM campaign serves all three.

    The first list holds every campaign with spend in the business's currency or attributed
    revenue, biggest spend first. The second holds spend in other currencies, never added into
    the business's ad spend or ROAS (no exchange rate is guessed). A campaign billed only in
    another currency in the period (or, with no spend in the period, last billed in one) is in
    the second list alone, its revenue with it (in the business's currency, on its first row,
    with no ROAS or CAC): its sales never enter a ROAS or a CAC against spend it did not
    cost."""
    own, apart = _spend(business, period)
    results = {result.campaign_id: result for result in own if result.campaign_id is not None}
    billed_apart = {result.campaign_id: result for result in reversed(apart)}  # the first row
    attributed, unattributed = _attributed_campaigns(business, period)
    # A campaign with sales but no spend in the period is billed as it last was.
    unspent = [pk for pk in attributed if pk not in results and pk not in billed_apart]
    for pk, currency in _billing_currencies(business, unspent).items():
        if currency != business.currency:
            campaign = attributed[pk][0]
            billed_apart[pk] = CampaignResult(
                campaign.platform, campaign.name, pk, currency, billed_apart=True
            )
            apart.append(billed_apart[pk])
    for pk, (campaign, value) in attributed.items():
        result = results.get(pk) or billed_apart.get(pk)
        if result is None:
            result = results[pk] = CampaignResult(
                platform=campaign.platform,
                campaign=campaign.name,
                campaign_id=campaign.pk,
                currency=business.currency,
            )
        result.attributed_revenue += value.revenue
        result.orders += value.orders
        result.new_customers += value.new_customers
    ranked = sorted(results.values(), key=lambda r: (-r.spend, -r.attributed_revenue, r.campaign))
    return CampaignBreakdown(ranked, apart, unattributed)


def _billing_currencies(business: Business, campaigns: list[int]) -> dict[int, str]:
    """The currency each campaign's latest spend was billed in (none: never billed)."""
    latest: dict[int, tuple[date, str]] = {}
    if campaigns:
        for pk, currency, day in (
            AdSpendDay.objects.filter(business=business, campaign__in=campaigns)
            .values("campaign", "currency")
            .annotate(last=Max("day"))
            .values_list("campaign", "currency", "last")
            .order_by()
        ):
            if pk not in latest or day > latest[pk][0]:
                latest[pk] = (day, currency)
    return {pk: currency for pk, (_, currency) in latest.items()}


@dataclass
class Targets:
    found: dict[str, AdCampaign]
    ambiguous: set[str]  # UTM values that name more than one campaign and are not mapped


def _utm_targets(business: Business, utms: set[str], period: Period) -> Targets:
    """The campaign each UTM value belongs to: the owner's mapping, else the one campaign whose
    name or id it equals. When it equals several (the same name on two platforms, as
    Microsoft's import from Google Ads copies them; a name given again to a new campaign;
    one campaign's name and another's id), the one of them with spend in the period; when
    that is still not one, nobody's until the owner maps it: guessing would give one all the
    revenue."""
    mapped = {
        mapping.utm_campaign: mapping.campaign
        for mapping in CampaignMapping.objects.filter(
            business=business, utm_campaign__in=utms
        ).select_related("campaign")
    }
    rest = utms - set(mapped)
    candidates: dict[str, dict[int, AdCampaign]] = defaultdict(dict)
    if rest:
        for campaign in AdCampaign.objects.filter(
            Q(name__in=rest) | Q(external_id__in=rest), business=business
        ):
            for key in (campaign.name, campaign.external_id):
                if key in rest:
                    candidates[key][campaign.pk] = campaign
    several = {utm: found for utm, found in candidates.items() if len(found) > 1}
    if several:
        spent = set(
            AdSpendDay.objects.filter(
                business=business,
                campaign__in={pk for found in several.values() for pk in found},
                day__gte=period.first,
                day__lte=period.last,
            )
            .values_list("campaign", flat=True)
            .distinct()
            .order_by()
        )
        for utm, found in several.items():
            active = [pk for pk in found if pk in spent]
            if len(active) == 1:
                candidates[utm] = {active[0]: found[active[0]]}
    ambiguous = set()
    for utm, found in candidates.items():
        if len(found) == 1:
            mapped[utm] = next(iter(found.values()))
        else:
            ambiguous.add(utm)
    return Targets(mapped, ambiguous)


def unattributed_utms(*, business: Business, period: Period) -> dict[str, Attribution]:
    """UTM campaigns with sales but no ad campaign: newsletters, social posts, a mapping the
    owner still has to make, or a value that names several campaigns (`names_several`)."""
    return _attributed_campaigns(business, period)[1]


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
