"""Attributed revenue against spend: only where both are in the business's currency, only to a
campaign the UTM value names alone, and whatever spaces a link left around the value."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

from django.core.management import call_command
from django.test import Client

from tillbook.core.models import Business
from tillbook.core.scoping import business_scope
from tillbook.insights.campaigns import (
    CampaignResult,
    campaign_results,
    spend_apart,
    unattributed_utms,
)
from tillbook.insights.periods import Period
from tillbook.insights.rollups import rollups_refresh
from tillbook.marketing.models import AdCampaign, AdSpendDay, CampaignMapping
from tillbook.payments.models import Payment

SEPTEMBER = (date(2026, 9, 1), date(2026, 9, 30))
RANGE = {"from": "2026-09-01", "to": "2026-09-30"}


def pay(
    business: Business, utm: str, amount: int, email: str, moment: datetime | None = None
) -> Payment:
    moment = moment or datetime(2026, 9, 10, 15, tzinfo=UTC)
    return Payment.objects.create(
        business=business,
        provider="sandbox",
        state="succeeded",
        currency="USD",
        amount=amount,
        fee_amount=0,
        customer_email=email,
        created_at=moment,
        succeeded_at=moment,
        metadata={"utm_campaign": utm},
    )


def campaign(business: Business, platform: str, name: str, external_id: str) -> AdCampaign:
    found = AdCampaign(business=business, platform=platform, name=name, external_id=external_id)
    found.save()
    return found


def spend(business: Business, on: AdCampaign, amount: int, currency: str = "USD") -> None:
    AdSpendDay(
        business=business, campaign=on, day=date(2026, 9, 5), currency=currency, spend=amount
    ).save()


def revenue_of(business: Business, period: Period) -> list[tuple[str, int]]:
    return [
        (r.platform, r.attributed_revenue)
        for r in campaign_results(business=business, period=period)
    ]


def metrics_json() -> dict:
    out = io.StringIO()
    call_command(
        "metrics", "--business", "acme", "--from", "2026-09-01", "--to", "2026-09-30",
        "--json", stdout=out,
    )  # fmt: skip
    return json.loads(out.getvalue())


def test_revenue_of_a_campaign_billed_in_another_currency_stays_out_of_roas(
    business: Business, owner_client: Client
) -> None:
    """$100 of Google spend brought $100; a Meta campaign billed €500 brought $400. ROAS is
    1.00 (it was 5.00: the $400 set against the $100), per channel too; the $400 is shown
    with the euro spend, with no ROAS or CAC."""
    with business_scope(business):
        search = campaign(business, "google", "search", "11")
        us = campaign(business, "meta", "retreat-us", "21")
        eu = campaign(business, "meta", "retreat-eu", "22")
        spend(business, search, 10000)
        spend(business, us, 5000)
        spend(business, eu, 50000, "EUR")
        pay(business, "search", 10000, "ann@example.com")
        pay(business, "retreat-us", 5000, "bo@example.com")
        pay(business, "retreat-eu", 40000, "cy@example.com")
        rollups_refresh(business=business)
        period = Period(*SEPTEMBER, business.zone)
        assert [
            (r.campaign, r.spend, r.attributed_revenue, r.roas)
            for r in campaign_results(business=business, period=period)
        ] == [
            ("search", 10000, 10000, Decimal("1.00")),
            ("retreat-us", 5000, 5000, Decimal("1.00")),
        ]
        [apart] = spend_apart(business=business, period=period)
        assert (apart.campaign, apart.currency, apart.spend, apart.attributed_revenue) == (
            "retreat-eu",
            "EUR",
            50000,
            40000,
        )
        assert (apart.orders, apart.new_customers, apart.roas, apart.cac) == (1, 1, None, None)
    data = metrics_json()
    assert (data["ad_spend"], data["attributed_revenue"], data["roas"]) == (
        "150.00",
        "150.00",
        "1.00",
    )
    assert [(c["campaign"], c["attributed_revenue"], c["roas"]) for c in data["by_channel"]] == [
        ("Google Ads", "100.00", "1.00"),
        ("Meta Ads", "50.00", "1.00"),
    ]
    assert [
        (r["campaign"], r["spend"], r["currency"], r["attributed_revenue"], r["orders"])
        for r in data["ad_spend_other_currencies"]
    ] == [("retreat-eu", "500.00", "EUR", "400.00", 1)]
    assert "retreat-eu" not in data["unattributed_utm_campaigns"]
    page = owner_client.get("/manage/acme/", RANGE).content.decode()
    assert (
        '<span class="tag">meta</span> retreat-eu, €500.00, 0 clicks; it brought $400.00 from '
        "1 order (no ROAS without an exchange rate).</p>"
    ) in page
    report = owner_client.get("/manage/acme/insights/marketing/", RANGE).content.decode()
    assert report.count("<th>Campaign</th>") == report.count("<th>Channel</th>") == 1
    export = owner_client.get("/manage/acme/insights/export/campaigns.csv", RANGE)
    lines = b"".join(export.streaming_content).decode().lstrip("\ufeff").splitlines()
    assert lines[-1] == "meta,retreat-eu,EUR,500.00,0,0,0.00,400.00,1,1,,"


def test_a_utm_value_naming_campaigns_on_two_platforms_is_left_to_the_owner(
    business: Business, owner_client: Client
) -> None:
    """Microsoft's import from Google Ads copies names: "Brand" is a campaign on both. The
    campaign created first took all the revenue; now neither does until the owner maps it."""
    with business_scope(business):
        google = campaign(business, "google", "Brand", "101")
        microsoft = campaign(business, "microsoft", "Brand", "202")
        spend(business, google, 10000)
        spend(business, microsoft, 10000)
        pay(business, "Brand", 30000, "ann@example.com")
        rollups_refresh(business=business)
        period = Period(*SEPTEMBER, business.zone)
        assert revenue_of(business, period) == [("google", 0), ("microsoft", 0)]
        [(utm, value)] = unattributed_utms(business=business, period=period).items()
        assert (utm, value.revenue, value.names_several) == ("Brand", 30000, True)
    page = owner_client.get("/manage/acme/insights/marketing/", RANGE).content.decode()
    assert (
        '<code>Brand</code> <span class="muted">names more than one ad campaign: map it to '
        "the right one</span>"
    ) in page
    export = owner_client.get("/manage/acme/insights/export/unattributed.csv", RANGE)
    lines = b"".join(export.streaming_content).decode().lstrip("\ufeff").splitlines()
    assert lines[1:] == ["Brand,USD,300.00,1,yes"]
    data = metrics_json()
    assert (data["unattributed_utm_campaigns"], data["ambiguous_utm_campaigns"]) == (
        {"Brand": "300.00"},
        ["Brand"],
    )
    # The mapping's choices tell the two apart by their platform's ids.
    form = owner_client.get("/manage/acme/marketing/campaign-mappings/").content.decode()
    assert f'<option value="{google.pk}">Google Ads: Brand (id 101)</option>' in form
    assert f'<option value="{microsoft.pk}">Microsoft Advertising: Brand (id 202)</option>' in form
    with business_scope(business):
        CampaignMapping(business=business, utm_campaign="Brand", campaign=microsoft).save()
        assert revenue_of(business, period) == [("microsoft", 30000), ("google", 0)]
        assert unattributed_utms(business=business, period=period) == {}


def test_one_campaigns_name_and_anothers_id_is_ambiguous_too(scoped: Business) -> None:
    named = campaign(scoped, "google", "2024", "555")
    spend(scoped, named, 1000)
    spend(scoped, campaign(scoped, "meta", "Autumn", "2024"), 3000)
    pay(scoped, "2024", 4000, "ann@example.com")
    rollups_refresh(business=scoped)
    period = Period(*SEPTEMBER, scoped.zone)
    assert revenue_of(scoped, period) == [("meta", 0), ("google", 0)]
    assert unattributed_utms(business=scoped, period=period)["2024"].names_several


def test_of_campaigns_sharing_a_name_the_one_with_spend_in_the_range_takes_its_sales(
    scoped: Business,
) -> None:
    """Last year's "black-friday" (id 1, removed) and this year's (id 2) share the name: the
    UTM value is this year's, the only one with spend in the range."""
    last_year = campaign(scoped, "google", "black-friday", "1")
    this_year = campaign(scoped, "google", "black-friday", "2")
    AdSpendDay(
        business=scoped, campaign=last_year, day=date(2025, 11, 28), currency="USD", spend=9000
    ).save()
    spend(scoped, this_year, 10000)
    pay(scoped, "black-friday", 30000, "ann@example.com")
    rollups_refresh(business=scoped)
    period = Period(*SEPTEMBER, scoped.zone)
    assert [
        (r.campaign_id, r.spend, r.attributed_revenue)
        for r in campaign_results(business=scoped, period=period)
    ] == [(this_year.pk, 10000, 30000)]
    assert unattributed_utms(business=scoped, period=period) == {}
    # In a range where neither spent, the sales are nobody's until mapped.
    pay(scoped, "black-friday", 5000, "bo@example.com", datetime(2026, 10, 3, 15, tzinfo=UTC))
    rollups_refresh(business=scoped)
    october = Period(date(2026, 10, 1), date(2026, 10, 31), scoped.zone)
    assert campaign_results(business=scoped, period=october) == []
    [(utm, value)] = unattributed_utms(business=scoped, period=october).items()
    assert (utm, value.revenue, value.names_several) == ("black-friday", 5000, True)


def test_spaces_around_a_utm_value_neither_split_nor_hide_its_sales(
    business: Business, client: Client, owner_client: Client
) -> None:
    """?utm_campaign=spring%20 is the campaign "spring": the storefront keeps it trimmed, and
    sales recorded untrimmed before count with it (the mapping, trimmed, never matched)."""
    from tillbook.customers.attribution import utm_from
    from tillbook.marketing.services import campaign_mapping_set

    assert utm_from({"utm_campaign": " spring ", "utm_source": "  "}) == {"utm_campaign": "spring"}
    with business_scope(business):
        ads = campaign(business, "google", "Spring – Search", "77")
        spend(business, ads, 10000)
        pay(business, "spring ", 30000, "ann@example.com")  # as kept before
        pay(business, "spring", 12000, "bo@example.com")
        rollups_refresh(business=business)
        campaign_mapping_set(business=business, actor=None, utm_campaign="spring ", campaign=ads)
        period = Period(*SEPTEMBER, business.zone)
        [result] = campaign_results(business=business, period=period)
        assert (result.attributed_revenue, result.orders, result.new_customers) == (42000, 2, 2)
        assert unattributed_utms(business=business, period=period) == {}


def test_acquisition_cost_is_rounded_to_the_nearest_cent() -> None:
    # $20.00 for three new customers: $6.666… is $6.67 (it was cut to $6.66).
    assert CampaignResult("meta", "x", 1, "USD", spend=2000, new_customers=3).cac == 667
    assert CampaignResult("meta", "x", 1, "USD", spend=2001, new_customers=2).cac == 1000
    assert CampaignResult("meta", "x", 1, "USD", spend=2003, new_customers=2).cac == 1002


def test_the_marketing_report_says_when_refunds_could_not_be_taken_off_a_campaign(
    run_import, business: Business, owner_client: Client
) -> None:
    """Stripe's balance history names a refund (80.00 on 5 September) but not its sale: it is
    in the refunds, and no campaign's revenue can lose it. The report says so; PayPal's
    refunds name their sale, and say nothing."""
    says = "of refunds in this range came from Stripe's balance history"
    assert run_import("paypal_activity.csv").state == "done"
    page = owner_client.get("/manage/acme/insights/marketing/", RANGE).content.decode()
    assert says not in page
    assert run_import("stripe_balance.csv").state == "done"
    page = owner_client.get("/manage/acme/insights/marketing/", RANGE).content.decode()
    assert f"$80.00 {says}, which does not say which sale each was for" in page


def test_a_campaign_billed_in_another_currency_stays_apart_in_a_range_it_spent_nothing(
    business: Business, owner_client: Client
) -> None:
    """The euro campaign's spend ended on 31 August; its sale lands in September. It was
    counted as a campaign with no spend in the business's currency, its $400 in the ROAS
    (9.00 for 1.00). It stays with the spend apart, as it was last billed, and the report
    does not say there were no UTM sales."""
    with business_scope(business):
        us = campaign(business, "meta", "retreat-us", "21")
        eu = campaign(business, "meta", "retreat-eu", "22")
        spend(business, us, 5000)
        AdSpendDay(
            business=business, campaign=eu, day=date(2026, 8, 31), currency="EUR", spend=50000
        ).save()
        pay(business, "retreat-us", 5000, "bo@example.com")
        pay(business, "retreat-eu", 40000, "cy@example.com")
        rollups_refresh(business=business)
    data = metrics_json()
    assert (data["ad_spend"], data["attributed_revenue"], data["roas"]) == (
        "50.00",
        "50.00",
        "1.00",
    )
    assert [
        (r["campaign"], r["currency"], r["spend"], r["attributed_revenue"], r["orders"])
        for r in data["ad_spend_other_currencies"]
    ] == [("retreat-eu", "EUR", "0.00", "400.00", 1)]
    # October: a sale from the euro campaign alone.
    with business_scope(business):
        pay(business, "retreat-eu", 7000, "di@example.com", datetime(2026, 10, 2, tzinfo=UTC))
        rollups_refresh(business=business)
        october = Period(date(2026, 10, 1), date(2026, 10, 31), business.zone)
        assert campaign_results(business=business, period=october) == []
        [apart] = spend_apart(business=business, period=october)
        assert (apart.campaign, apart.spend, apart.attributed_revenue) == ("retreat-eu", 0, 7000)
    october_range = {"from": "2026-10-01", "to": "2026-10-31"}
    page = owner_client.get("/manage/acme/insights/marketing/", october_range).content.decode()
    assert "No sales with a UTM campaign in this range." not in page
    assert "Every UTM campaign with sales belongs to an ad campaign." in page
