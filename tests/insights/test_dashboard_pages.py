"""The dashboard and the reports show the metrics; every table downloads as CSV."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from tillbook.core.models import Business
from tillbook.imports.models import ImportRun

from .test_metrics import september  # noqa: F401 - fixture

RANGE = "from=2026-09-01&to=2026-09-30"


def test_the_dashboard_before_any_sales_invites_an_import(owner_client: Client) -> None:
    page = owner_client.get("/manage/acme/").content.decode()
    assert "No sales in this range yet." in page
    assert "Import your Stripe, Square or PayPal history" in page
    assert "No ad spend in this range." in page


def test_the_dashboard_shows_the_period_against_the_previous_one(
    owner_client: Client,
    september: Business,  # noqa: F811
) -> None:
    page = owner_client.get(f"/manage/acme/?{RANGE}").content.decode()
    assert '<div class="label">Net revenue</div><div class="value">$2,530.49</div>' in page
    assert '<div class="change better">new <span class="muted">vs previous</span>' in page
    assert '<svg class="chart" viewBox="0 0 720 240" role="img"' in page
    assert "Also sold in EUR (kept apart, not in the figures above): €90.00 gross" in page
    assert '<tr><td>Stripe</td><td class="num">1</td><td class="num">$111.60</td>' in page
    assert "Fall Launch – Search" in page
    assert "4.43×" in page
    assert "compared with Aug 1 – Aug 31, 2026" in page


def test_a_range_that_ends_before_it_starts_is_explained(owner_client: Client) -> None:
    response = owner_client.get("/manage/acme/?from=2026-09-30&to=2026-09-01")
    assert response.status_code == 400
    assert "The range ends (2026-09-01) before it starts (2026-09-30)." in response.content.decode()


def test_the_picker_without_javascript_follows_what_was_changed(owner_client: Client) -> None:
    # The form sends the preset, the dates and the range it showed, whatever was touched.
    shown = "shown=2026-09-01/2026-09-30"
    page = owner_client.get(f"/manage/acme/?{RANGE}").content.decode()
    assert '<input type="hidden" name="shown" value="2026-09-01/2026-09-30">' in page
    preset = owner_client.get(f"/manage/acme/?range=7d&{RANGE}&{shown}").content.decode()
    assert '<option value="7d" selected>Last 7 days</option>' in preset
    dates = owner_client.get(
        f"/manage/acme/?range=30d&from=2026-09-01&to=2026-09-15&{shown}"
    ).content.decode()
    assert "compared with Aug 17 – Aug 31, 2026" in dates
    assert '<option value="30d" selected>' not in dates


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("from=9999-12-01&to=9999-12-31", "Pick dates from 1970 to 2099; 9999-12-01 is outside."),
        ("from=0001-01-01&to=0001-01-31", "Pick dates from 1970 to 2099; 0001-01-01 is outside."),
        ("from=2026-09-30&to=2026-09-01", "The range ends (2026-09-01) before it starts"),
        ("from=2026-09-01", "Enter both dates as YYYY-MM-DD."),
        ("from=20260901&to=20260930", "Enter both dates as YYYY-MM-DD."),
        ("from=2010-01-01&to=2026-01-01", "Pick a range of at most 1830 days."),
    ],
)
def test_a_refused_range_is_400_on_every_page_and_download(
    owner_client: Client, query: str, says: str
) -> None:
    for report in ("", "insights/sales/", "insights/marketing/", "insights/customers/"):
        response = owner_client.get(f"/manage/acme/{report}?{query}")
        assert (response.status_code, report) == (400, report)
        assert says in response.content.decode()
    for table in ("revenue", "campaigns", "channels", "unattributed", "cohorts"):
        download = owner_client.get(f"/manage/acme/insights/export/{table}.csv?{query}")
        # Never the default range's rows under the name of the one asked for.
        assert (download.status_code, download["Content-Type"]) == (
            400,
            "text/plain; charset=utf-8",
        )
        assert says in download.content.decode()


@pytest.mark.parametrize(
    ("table", "first_lines"),
    [
        (
            "revenue",
            [
                "day,currency,gross_sales,refunds,fees,net_revenue",
                "2026-09-01,USD,120.00,0.00,3.78,116.22",
            ],
        ),
        (
            "payouts",
            [
                "provider,payout,arrival_date,currency,amount,sales,refunds,fees,other,lines",
                "PayPal,3QR99999ST0000000,2026-09-20,USD,1000.00,,,,,0",
                "Stripe,po_2001,2026-09-08,USD,111.60,200.00,80.00,6.40,-2.00,4",
            ],
        ),
        (
            "campaigns",
            [
                "platform,campaign,currency,spend,clicks,impressions,conversions,"
                "attributed_revenue,orders,new_customers,roas,cac",
                "google,Fall Launch – Search,USD,300.00,2140,9197,12.00,1329.67,2,0,4.43,",
            ],
        ),
        ("unattributed", ["utm_campaign,currency,attributed_revenue,orders,names_several"]),
        (
            "cohorts",
            [
                "cohort_month,currency,customers,orders,revenue,lifetime_value",
                # 1,310.00 paid, less the 60.00 PayPal refunded to one of the two.
                "2026-09,USD,2,2,1250.00,625.00",
            ],
        ),
    ],
)
def test_every_table_downloads_as_csv(
    owner_client: Client,
    september: Business,  # noqa: F811
    table: str,
    first_lines: list[str],
) -> None:
    response = owner_client.get(f"/manage/acme/insights/export/{table}.csv?{RANGE}")
    lines = b"".join(response.streaming_content).decode().lstrip("\ufeff").splitlines()
    assert lines[: len(first_lines)] == first_lines


@pytest.mark.parametrize("report", ["sales", "payments", "bookings", "marketing", "customers"])
def test_every_report_opens(owner_client: Client, september: Business, report: str) -> None:  # noqa: F811
    response = owner_client.get(f"/manage/acme/insights/{report}/?{RANGE}")
    assert response.status_code == 200


def test_an_empty_marketing_report_says_so_once(owner_client: Client) -> None:
    page = owner_client.get(f"/manage/acme/insights/marketing/?{RANGE}").content.decode()
    assert page.count("No ad spend in this range.") == 1
    assert "No channels yet: they sum the campaigns above." in page
    assert "No sales with a UTM campaign in this range." in page
    assert "Every UTM campaign with sales belongs to an ad campaign." not in page


def test_the_owner_maps_a_utm_campaign_and_the_report_follows(
    owner_client: Client,
    run_import: Callable[..., ImportRun],
    business: Business,
) -> None:
    run_import("stripe_balance.csv")
    run_import("google_ads_campaign.csv")
    before = owner_client.get(f"/manage/acme/insights/marketing/?{RANGE}").content.decode()
    assert "<code>fall-launch</code>" in before
    from tillbook.core.scoping import business_scope
    from tillbook.marketing.models import AdCampaign

    with business_scope(business):
        campaign = AdCampaign.objects.get(name="Fall Launch – Search")
    response = owner_client.post(
        "/manage/acme/marketing/campaign-mappings/",
        {"utm_campaign": "fall-launch", "campaign": campaign.pk},
    )
    assert response.status_code == 302
    after = owner_client.get(f"/manage/acme/insights/marketing/?{RANGE}").content.decode()
    assert "Every UTM campaign with sales belongs to an ad campaign." in after
    assert "4.43×" in after


def test_spend_only_in_another_currency_is_listed_without_the_empty_state(
    owner_client: Client, business: Business
) -> None:
    from datetime import date

    from tillbook.core.scoping import business_scope
    from tillbook.marketing.models import AdCampaign, AdSpendDay

    with business_scope(business):
        euro = AdCampaign(business=business, platform="meta", name="Retreat EU", external_id="9")
        euro.save()
        AdSpendDay(
            business=business, campaign=euro, day=date(2026, 9, 3), currency="EUR", spend=25000
        ).save()
    page = owner_client.get(f"/manage/acme/?{RANGE}").content.decode()
    assert "Retreat EU, €250.00, 0 clicks." in page
    assert "No ad spend in this range." not in page
    report = owner_client.get(f"/manage/acme/insights/marketing/?{RANGE}").content.decode()
    assert report.count("Retreat EU, €250.00") == 1  # under the campaigns, not the channels
    assert "No ad spend in this range." not in report


def test_a_csv_download_has_the_payments_made_since_the_page_was_drawn(
    owner_client: Client,
    september: Business,  # noqa: F811
) -> None:
    from datetime import UTC, datetime

    from tillbook.core.scoping import business_scope
    from tillbook.payments.models import Payment

    owner_client.get(f"/manage/acme/?{RANGE}")  # the page brings the figures up to date
    with business_scope(september):
        moment = datetime(2026, 9, 1, 18, tzinfo=UTC)
        Payment.objects.create(
            business=september,
            provider="sandbox",
            state="succeeded",
            currency="USD",
            amount=5000,
            fee_amount=0,
            created_at=moment,
            succeeded_at=moment,
        )
    response = owner_client.get(f"/manage/acme/insights/export/revenue.csv?{RANGE}")
    lines = b"".join(response.streaming_content).decode().lstrip("\ufeff").splitlines()
    assert lines[1] == "2026-09-01,USD,170.00,0.00,3.78,166.22"  # 120.00 imported + 50.00 now


def test_a_figure_falling_from_nothing_below_zero_is_not_shown_as_better() -> None:
    """Net revenue of −50.00 (a refund of an older sale) after a period without sales is
    new and worse; refunds appearing from nothing are new and worse too."""
    from tillbook.backoffice.views.dashboard import _change

    assert _change(-5000, 0, higher_is_better=True) == ("new", False)
    assert _change(5000, 0, higher_is_better=True) == ("new", True)
    assert _change(5000, 0, higher_is_better=False) == ("new", False)
    assert _change(0, 0, higher_is_better=True) == ("", None)


def test_the_marketing_report_reads_attribution_once_per_period(
    owner_client: Client,
    september: Business,  # noqa: F811
    django_assert_num_queries,
) -> None:
    """The campaigns and the UTM campaigns without an ad campaign come from one reading of the
    period's sales per UTM campaign (and one for the previous period), not one per table."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    owner_client.get(f"/manage/acme/insights/marketing/?{RANGE}")  # the rollups are up to date
    # Session, user, membership (twice), the rollups' refresh with nothing new (on PostgreSQL
    # four more for the ledger's lock), and the page's own figures (the PayPal payout without
    # lines is summed, and nothing written).
    with (
        django_assert_num_queries(48 if connection.vendor == "sqlite" else 52),
        CaptureQueriesContext(connection) as captured,
    ):
        page = owner_client.get(f"/manage/acme/insights/marketing/?{RANGE}").content.decode()
    assert "4.43×" in page  # fall-launch is mapped to Fall Launch – Search
    sqls = [query["sql"] for query in captured.captured_queries]
    by_utm = [sql for sql in sqls if '"insights_dailyledger"."utm_campaign" AS' in sql]
    mappings = [sql for sql in sqls if 'FROM "marketing_campaignmapping"' in sql]
    firsts = [sql for sql in sqls if '"insights_customerfirstpayment"."first_utm"' in sql]
    # This period and the one before; August has no UTM sales, so no mapping is looked up.
    assert (len(by_utm), len(mappings), len(firsts)) == (2, 1, 2)


def test_a_payout_without_lines_shows_only_its_amount(
    owner_client: Client,
    september: Business,  # noqa: F811
) -> None:
    """PayPal's activity download lists the withdrawal but not what it carried: its contents
    are unknown, not zero (0 − 0 − 0 + 0 is not $1,000.00)."""
    dashboard = owner_client.get(f"/manage/acme/?{RANGE}").content.decode()
    assert (
        '<tr><td>PayPal</td><td class="num">1 <span class="muted">(1 without lines)</span></td>'
        '<td class="num">$1,000.00</td><td class="num">–</td><td class="num">–</td>'
        '<td class="num">–</td><td class="num">–</td></tr>'
    ) in dashboard
    assert (
        '<tr><td>Stripe</td><td class="num">1</td><td class="num">$111.60</td>'
        '<td class="num">$200.00</td><td class="num">$80.00</td><td class="num">$6.40</td>'
        '<td class="num">-$2.00</td></tr>'
    ) in dashboard
    report = owner_client.get(f"/manage/acme/insights/payments/?{RANGE}").content.decode()
    assert (
        '<td class="num">$1,000.00</td><td class="num">–</td><td class="num">–</td>'
        '<td class="num">–</td><td class="num">–</td><td class="num">0</td></tr>'
    ) in report
    response = owner_client.get(f"/manage/acme/insights/export/payouts.csv?{RANGE}")
    lines = b"".join(response.streaming_content).decode().lstrip("\ufeff").splitlines()
    assert lines == [
        "provider,payout,arrival_date,currency,amount,sales,refunds,fees,other,lines",
        "PayPal,3QR99999ST0000000,2026-09-20,USD,1000.00,,,,,0",
        "Stripe,po_2001,2026-09-08,USD,111.60,200.00,80.00,6.40,-2.00,4",
    ]
