"""Metrics on a small fixed data set, against values computed by hand.

The data: September 2026 of a Chicago business in USD — the Stripe balance history, the PayPal
activity download (with a EUR sale), the Google Ads summary and the Meta campaign export. The
owner maps the UTM campaign "fall-launch" to Google's "Fall Launch – Search".
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from tillbook.core.models import Business, User
from tillbook.core.scoping import business_scope
from tillbook.imports.models import ImportRun
from tillbook.imports.source import ImportSource
from tillbook.insights.ledger import revenue_by_day, sales_totals
from tillbook.insights.models import DailyLedger, RollupWatermark
from tillbook.insights.periods import Period
from tillbook.marketing.models import AdCampaign, CampaignMapping
from tillbook.payments.models import Payment

SEPTEMBER = (date(2026, 9, 1), date(2026, 9, 30))


@pytest.fixture
def september(run_import: Callable[..., ImportRun], business: Business) -> Business:
    for name in (
        "stripe_balance.csv",
        "paypal_activity.csv",
        "google_ads_campaign.csv",
        "meta_ads_campaign.csv",
    ):
        assert run_import(name).state == "done"
    with business_scope(business):
        CampaignMapping(
            business=business,
            utm_campaign="fall-launch",
            campaign=AdCampaign.objects.get(name="Fall Launch – Search"),
        ).save()
    return business


def metrics(*args: str) -> dict:
    out = io.StringIO()
    call_command("metrics", "--business", "acme", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_september_metrics_match_the_hand_computed_figures(september: Business) -> None:
    data = metrics("--from", "2026-09-01", "--to", "2026-09-30")
    # Gross: Stripe 120 + 80 + 1,250 and PayPal 1,250 + 60 (USD only).
    # Refunds: Stripe's unlinked 80 and PayPal's 60.
    # Fees: 3.78 + 2.62 + 36.55 + 43.97 + 2.39, Stripe's 2.00 Radar fee, PayPal's 1.80 back.
    assert {key: data[key] for key in list(data)[:11]} == {
        "from": "2026-09-01",
        "to": "2026-09-30",
        "currency": "USD",
        "gross_sales": "2760.00",
        "refunds": "140.00",
        "fees": "89.51",
        "net_revenue": "2530.49",
        "tips": "0.00",
        "tax": "0.00",
        "orders": 5,
        "average_order_value": "552.00",
    }
    assert data["payouts"] == "1111.60"
    assert data["payouts_by_processor"] == [
        {"provider": "paypal", "currency": "USD", "amount": "1000.00", "count": 1},
        {"provider": "stripe", "currency": "USD", "amount": "111.60", "count": 1},
    ]
    assert (data["new_customers"], data["returning_customers"]) == (3, 0)
    # Spend: Google 300 + 20.02 + 0, Meta 210 + 90. Attributed to fall-launch: the two Stripe
    # payments net of their fees, (120 − 3.78) + (1,250 − 36.55).
    assert (data["ad_spend"], data["ad_clicks"], data["attributed_revenue"], data["roas"]) == (
        "620.02",
        2645,
        "1329.67",
        "2.14",
    )
    assert [
        (c["platform"], c["campaign"], c["spend"], c["clicks"], c["attributed_revenue"], c["roas"])
        for c in data["by_campaign"]
    ] == [
        ("google", "Fall Launch – Search", "300.00", 2140, "1329.67", "4.43"),
        ("meta", "Retreat Leads", "210.00", 300, "0.00", "0.00"),
        ("meta", "Workshop Retargeting", "90.00", 110, "0.00", "0.00"),
        ("google", "Brand", "20.02", 95, "0.00", "0.00"),
        ("google", "Old Display", "0.00", 0, "0.00", None),
    ]
    assert [(c["platform"], c["campaign"], c["spend"], c["roas"]) for c in data["by_channel"]] == [
        ("google", "Google Ads", "320.02", "4.15"),
        ("meta", "Meta Ads", "300.00", "0.00"),
    ]
    # The EUR sale is kept in EUR and never added into the USD totals.
    assert data["other_currencies"] == {
        "EUR": {
            "gross_sales": "90.00",
            "refunds": "0.00",
            "fees": "3.49",
            "net_revenue": "86.51",
            "tips": "0.00",
            "tax": "0.00",
            "orders": 1,
            "average_order_value": "90.00",
        }
    }
    assert data["previous"]["from"] == "2026-08-01"  # September against August
    assert data["previous"]["to"] == "2026-08-31"
    assert (data["previous"]["gross_sales"], data["previous"]["roas"]) == ("0.00", None)
    assert data["open_payment_requests"] == {
        "count": 0,
        "amount": "0.00",
        "oldest_days": None,
        "older_than_a_week": 0,
    }
    assert data["bookings"] == {
        "count": 0,
        "completed": 0,
        "no_shows": 0,
        "cancelled": 0,
        "booked_hours": "0.0",
        "offered_hours": "0.0",
        "utilisation_percent": None,
        "no_show_rate_percent": None,
    }


def test_without_a_mapping_the_utm_campaign_matches_no_ad_campaign(september: Business) -> None:
    with business_scope(september):
        CampaignMapping.objects.all().delete()
    data = metrics("--from", "2026-09-01", "--to", "2026-09-30")
    assert (data["attributed_revenue"], data["roas"]) == ("0.00", "0.00")
    assert data["unattributed_utm_campaigns"] == {"fall-launch": "1329.67"}


def test_the_range_is_inclusive_and_in_the_business_zone(september: Business) -> None:
    # ch_1001 was paid at 15:04 UTC on 1 September: 10:04 in Chicago, so on the 1st.
    assert metrics("--from", "2026-09-01", "--to", "2026-09-01")["gross_sales"] == "120.00"
    assert metrics("--from", "2026-09-02", "--to", "2026-09-07")["gross_sales"] == "80.00"


def test_days_add_up_to_the_total_and_net_is_gross_less_refunds_and_fees(
    september: Business,
) -> None:
    period = Period(*SEPTEMBER, september.zone)
    with business_scope(september):
        days = revenue_by_day(business=september, period=period)
        total = sales_totals(business=september, period=period)["USD"]
    assert len(days) == 30
    assert sum(d.gross for d in days) == total.gross == 276000
    assert sum(d.refunds for d in days) == total.refunds == 14000
    assert sum(d.fees for d in days) == total.fees == 8951
    assert sum(d.net for d in days) == total.net == total.gross - total.refunds - total.fees


def test_the_readable_table(september: Business) -> None:
    out = io.StringIO()
    call_command(
        "metrics", "--business", "acme", "--from", "2026-09-01", "--to", "2026-09-30", stdout=out
    )
    text = out.getvalue()
    assert text.splitlines()[0] == "Acme Coaching: 2026-09-01 to 2026-09-30 (USD)"
    assert "Net revenue                  2530.49          0.00" in text
    assert "Also in EUR (not in the totals above): gross sales €90.00" in text


def test_the_readable_table_shows_a_large_total_in_another_currency(september: Business) -> None:
    # Sums over a ledger may exceed the largest amount accepted as input (10**15 minor units).
    with business_scope(september):
        assert Payment.objects.filter(currency="EUR").update(amount=4 * 10**15) == 1
        # The rollups are rebuilt from scratch (as after a change of time zone).
        RollupWatermark.objects.filter(business=september).update(zone="")
    out = io.StringIO()
    call_command(
        "metrics", "--business", "acme", "--from", "2026-09-01", "--to", "2026-09-30", stdout=out
    )
    assert "Also in EUR (not in the totals above): gross sales €40,000,000,000,000.00" in (
        out.getvalue()
    )


def test_ad_spend_billed_in_another_currency_is_shown_apart_never_added(
    september: Business, owner_client: Client
) -> None:
    from decimal import Decimal

    from tillbook.marketing.models import AdSpendDay

    with business_scope(september):
        euro = AdCampaign(business=september, platform="meta", name="Retreat EU", external_id="9")
        euro.save()
        AdSpendDay(
            business=september,
            campaign=euro,
            day=date(2026, 9, 3),
            currency="EUR",
            spend=25000,
            clicks=500,
            impressions=12000,
            conversions=Decimal(7),
        ).save()
    before = metrics("--from", "2026-09-01", "--to", "2026-09-30")
    assert before["ad_spend_other_currencies"] == [
        {
            "platform": "meta",
            "campaign": "Retreat EU",
            "currency": "EUR",
            "spend": "250.00",
            "clicks": 500,
            "impressions": 12000,
            "conversions": "7.00",
            "attributed_revenue": "0.00",  # no sale came from it
            "orders": 0,
            "new_customers": 0,
        }
    ]
    # The USD figures are those of the hand-computed test: nothing of the euros is in them.
    assert (before["ad_spend"], before["ad_clicks"]) == ("620.02", 2645)
    assert "Retreat EU" not in [c["campaign"] for c in before["by_campaign"]]
    out = io.StringIO()
    call_command(
        "metrics", "--business", "acme", "--from", "2026-09-01", "--to", "2026-09-30", stdout=out
    )
    assert (
        "Also spent in EUR (not in the totals above): meta: Retreat EU 250.00 EUR, 500 clicks"
        in out.getvalue()
    )
    september_range = {"from": "2026-09-01", "to": "2026-09-30"}
    page = owner_client.get("/manage/acme/", september_range)
    assert (
        "Also spent in EUR (kept apart, not in the spend or ROAS above): "
        '<span class="tag">meta</span> Retreat EU, €250.00, 500 clicks.'
    ) in page.content.decode()
    export = owner_client.get("/manage/acme/insights/export/campaigns.csv", september_range)
    assert export.status_code == 200
    lines = b"".join(export.streaming_content).decode().lstrip("\ufeff").splitlines()
    assert lines[-1] == "meta,Retreat EU,EUR,250.00,500,12000,7.00,0.00,0,0,,"


@pytest.mark.parametrize(
    ("first", "last", "says"),
    [
        ("20260901", "2026-09-30", "'20260901' is not a date; use YYYY-MM-DD."),
        ("2026-09-01", "9999-12-31", "Pick dates from 1970 to 2099; 9999-12-31 is outside."),
    ],
)
def test_metrics_refuses_dates_it_cannot_mean(
    september: Business, first: str, last: str, says: str
) -> None:
    with pytest.raises(CommandError) as refused:
        call_command("metrics", "--business", "acme", "--from", first, "--to", last)
    assert str(refused.value) == says


def test_acquisition_cost_needs_spend_in_the_business_currency() -> None:
    from tillbook.insights.campaigns import CampaignResult

    def result(spend: int, new_customers: int) -> CampaignResult:
        return CampaignResult("meta", "Retreat", 1, "USD", spend=spend, new_customers=new_customers)

    # Paid for in euros only (shown apart): no figure, as for ROAS; not "free customers".
    assert (result(0, 2).cac, result(0, 2).roas) == (None, None)
    assert result(9000, 0).cac is None
    assert result(9000, 4).cac == 2250


def paid_at(
    business: Business, email: str, amount: int, moment: datetime, currency: str, tip: int = 0
) -> Payment:
    """A succeeded payment of `email` at `moment`, as a checkout leaves it."""
    return Payment.objects.create(
        business=business,
        provider="sandbox",
        state="succeeded",
        currency=currency,
        amount=amount,
        tip_amount=tip,
        customer_email=email,
        created_at=moment,
        succeeded_at=moment,
    )


def test_lifetime_value_is_what_customers_paid_less_what_was_refunded(scoped: Business) -> None:
    from datetime import UTC

    from tillbook.insights.customers import lifetime_value_by_cohort
    from tillbook.payments.models import Refund

    def paid(email: str, amount: int, day: int, currency: str = "USD", tip: int = 0) -> Payment:
        moment = datetime(2026, 9, day, 15, tzinfo=UTC)
        return paid_at(scoped, email, amount, moment, currency=currency, tip=tip)

    def refund(payment: Payment, amount: int, state: str = "succeeded") -> None:
        Refund.objects.create(
            business=scoped,
            payment=payment,
            state=state,
            currency=payment.currency,
            amount=amount,
            idempotency_key=f"test-{payment.pk}-{amount}-{state}",
        )

    first = paid("ann@example.com", 10000, 2, tip=500)
    paid("ANN@example.com", 5000, 20)
    paid("bo@example.com", 4000, 25)
    paid("eu@example.com", 9000, 3, currency="EUR")  # another currency: a row of its own
    refund(first, 1000)
    refund(first, 2000)
    refund(first, 700, state="failed")  # money that never went back
    cohorts = lifetime_value_by_cohort(business=scoped)
    # Ann: 100.00 + 5.00 tip + 50.00 less 30.00 refunded; Bo: 40.00.
    assert [
        (c.month, c.currency, c.customers, c.orders, c.revenue, c.lifetime_value) for c in cohorts
    ] == [
        (date(2026, 9, 1), "USD", 2, 3, 12500 + 4000, 8250),
        (date(2026, 9, 1), "EUR", 1, 1, 9000, 9000),
    ]


def test_a_customer_joins_the_cohort_of_their_first_payment_in_any_currency(
    scoped: Business, owner_client: Client
) -> None:
    """The month "new customers" counts a customer in is the month of their cohort, whatever
    currency they first paid in; each currency's money stays in its own row."""
    from datetime import UTC

    from tillbook.insights.customers import customers_new_and_returning, lifetime_value_by_cohort
    from tillbook.insights.periods import period_between
    from tillbook.insights.rollups import rollups_refresh

    def paid(email: str, amount: int, moment: datetime, currency: str = "USD") -> None:
        paid_at(scoped, email, amount, moment, currency=currency)

    # Eve first pays in euros on 31 August in Chicago (1 September in UTC), then in dollars.
    paid("eve@example.com", 8000, datetime(2026, 9, 1, 3, tzinfo=UTC), currency="EUR")
    paid("Eve@example.com", 6000, datetime(2026, 10, 5, 15, tzinfo=UTC))
    paid("eve@example.com", 4000, datetime(2026, 11, 2, 15, tzinfo=UTC))
    paid("max@example.com", 3000, datetime(2026, 9, 10, 15, tzinfo=UTC))
    rollups_refresh(business=scoped)
    august = period_between(date(2026, 8, 1), date(2026, 8, 31), scoped.zone)
    assert customers_new_and_returning(business=scoped, period=august).new == 1
    cohorts = lifetime_value_by_cohort(business=scoped)
    assert [(c.month, c.currency, c.customers, c.orders, c.revenue) for c in cohorts] == [
        (date(2026, 8, 1), "USD", 1, 2, 10000),  # Eve's dollars, in her August cohort
        (date(2026, 9, 1), "USD", 1, 1, 3000),
        (date(2026, 8, 1), "EUR", 1, 1, 8000),
    ]
    page = owner_client.get("/manage/acme/insights/customers/").content.decode()
    assert "Also paid in EUR (kept apart): €80.00 from 1 customer of August 2026." in page
    export = owner_client.get("/manage/acme/insights/export/cohorts.csv")
    lines = b"".join(export.streaming_content).decode().lstrip("\ufeff").splitlines()
    assert lines == [
        "cohort_month,currency,customers,orders,revenue,lifetime_value",
        "2026-08,USD,1,2,100.00,100.00",
        "2026-09,USD,1,1,30.00,30.00",
        "2026-08,EUR,1,1,80.00,80.00",
    ]


CHARGEBACKS = "\n".join(
    [
        "id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Available On (UTC),Description,"
        "Transfer",
        "txn_c1,charge,ch_c1,100.00,3.20,96.80,usd,2026-09-02 15:00,2026-09-04,Coaching,po_c1",
        "txn_c2,charge,ch_c2,200.00,6.10,193.90,usd,2026-09-03 15:00,2026-09-05,Retreat,po_c1",
        "txn_d1,adjustment,dp_1,-100.00,15.00,-115.00,usd,2026-09-10 16:00,2026-09-10,"
        "Chargeback withdrawal for ch_c1,po_c1",
        "txn_p1,payout,po_c1,-175.70,0.00,-175.70,usd,2026-09-14 00:00,2026-09-16,STRIPE PAYOUT,"
        "po_c1",
        "txn_d2,adjustment,dp_1,100.00,-15.00,115.00,usd,2026-10-20 16:00,2026-10-20,"
        "Chargeback reversal for ch_c1,",
    ]
)


def test_a_chargeback_is_taken_back_with_its_fee_and_a_won_dispute_gives_it_back(
    run_import: Callable[..., ImportRun], business: Business, owner_client: Client
) -> None:
    """A customer disputed the 100.00 sale: Stripe took the 100.00 back and charged a 15.00
    dispute fee (an `adjustment` line), and paid out 175.70. The net revenue ignored the line
    and said 290.70. The dispute was won in October: the money and the fee came back."""
    source = ImportSource.from_bytes(CHARGEBACKS.encode(), "balance_history.csv")
    assert run_import(source).state == "done"
    september = metrics("--from", "2026-09-01", "--to", "2026-09-30")
    # Refunds: the 100.00 taken back. Fees: 3.20 + 6.10 and the 15.00 dispute fee.
    assert (
        september["gross_sales"],
        september["refunds"],
        september["fees"],
        september["net_revenue"],
        september["payouts"],
    ) == ("300.00", "100.00", "24.30", "175.70", "175.70")
    october = metrics("--from", "2026-10-01", "--to", "2026-10-31")
    assert (october["refunds"], october["fees"], october["net_revenue"]) == (
        "-100.00",
        "-15.00",
        "115.00",
    )
    with business_scope(business):
        period = Period(date(2026, 9, 1), date(2026, 9, 30), business.zone)
        tenth = next(d for d in revenue_by_day(business=business, period=period) if d.day.day == 10)
    assert (tenth.gross, tenth.refunds, tenth.fees, tenth.net) == (0, 10000, 1500, -11500)
    page = owner_client.get(
        "/manage/acme/insights/marketing/", {"from": "2026-09-01", "to": "2026-09-30"}
    ).content.decode()
    assert "$100.00 was taken back by chargebacks (disputes)" in page
    assert "of refunds in this range came from Stripe's balance history" not in page


FAILED_REFUND = "\n".join(
    [
        "id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Available On (UTC),Description,"
        "Transfer",
        "txn_f1,charge,ch_f1,100.00,3.20,96.80,usd,2026-09-02 15:00,2026-09-04,Coaching,",
        "txn_f2,stripe_fx_fee,,-1.50,0.00,-1.50,usd,2026-09-02 15:00,2026-09-04,"
        "Currency conversion fee,",
        "txn_f3,refund,re_f1,-40.00,0.00,-40.00,usd,2026-09-05 10:00,2026-09-05,"
        "REFUND FOR CHARGE (Coaching),",
        "txn_f4,refund_failure,re_f1,40.00,0.00,40.00,usd,2026-09-12 10:00,2026-09-12,"
        "REFUND FAILURE,",
    ]
)


def test_a_refund_the_bank_could_not_take_and_a_conversion_fee_count(
    run_import: Callable[..., ImportRun], business: Business, owner_client: Client
) -> None:
    """Stripe refunded 40.00 on the 5th; on the 12th the customer's bank could not take it and
    Stripe put it back in the balance (`refund_failure`), and the sale cost a 1.50 currency
    conversion fee (`stripe_fx_fee`). Both were read as lines of no kind: the refunds said
    40.00, the fees 3.20 and the net revenue 56.80."""
    source = ImportSource.from_bytes(FAILED_REFUND.encode(), "balance_history.csv")
    assert run_import(source).state == "done"
    september = metrics("--from", "2026-09-01", "--to", "2026-09-30")
    assert (
        september["gross_sales"],
        september["refunds"],
        september["fees"],
        september["net_revenue"],
    ) == ("100.00", "0.00", "4.70", "95.30")
    with business_scope(business):
        period = Period(date(2026, 9, 1), date(2026, 9, 30), business.zone)
        days = {d.day.day: d for d in revenue_by_day(business=business, period=period)}
    assert (days[2].fees, days[5].refunds, days[12].refunds, days[12].net) == (
        470,
        4000,
        -4000,
        4000,
    )
    page = owner_client.get(
        "/manage/acme/insights/marketing/", {"from": "2026-09-12", "to": "2026-09-30"}
    ).content.decode()
    assert "$40.00 came back from your processor in this range" in page
    assert "was taken back by chargebacks" not in page


def test_the_upgrade_counts_the_refund_failures_and_conversion_fees_already_imported(
    run_import: Callable[..., ImportRun], business: Business
) -> None:
    """Lines landed without a kind before these types were known, and days already summed
    without them, are counted after the upgrade's mending (payments/0008)."""
    from django.apps import apps

    from tillbook.payments.models import BalanceTransaction
    from tillbook.payments.repairs import stripe_other_lines_mend

    source = ImportSource.from_bytes(FAILED_REFUND.encode(), "balance_history.csv")
    assert run_import(source).state == "done"
    with business_scope(business):  # the lines and days as the code before left them
        BalanceTransaction.objects.filter(
            business=business, provider_reference__in=["txn_f2", "txn_f4"]
        ).update(kind="other")
        DailyLedger.objects.filter(business=business).delete()
        RollupWatermark.objects.filter(business=business).delete()
    before = metrics("--from", "2026-09-01", "--to", "2026-09-30")
    assert (before["refunds"], before["fees"], before["net_revenue"]) == ("40.00", "3.20", "56.80")
    assert stripe_other_lines_mend(apps) == 2
    after = metrics("--from", "2026-09-01", "--to", "2026-09-30")
    assert (after["refunds"], after["fees"], after["net_revenue"]) == ("0.00", "4.70", "95.30")


def test_the_upgrade_sums_the_chargebacks_already_imported(
    run_import: Callable[..., ImportRun], business: Business
) -> None:
    """Days rolled up before chargebacks were counted are summed again after the upgrade."""
    import importlib
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection

    source = ImportSource.from_bytes(CHARGEBACKS.encode(), "balance_history.csv")
    assert run_import(source).state == "done"
    assert metrics("--from", "2026-09-01", "--to", "2026-09-30")["net_revenue"] == "175.70"
    with business_scope(business):  # the rows as the code before summed them
        DailyLedger.objects.filter(business=business).update(adjustments=0)
        DailyLedger.objects.filter(business=business, day__in=[date(2026, 9, 10)]).update(
            fee_lines=0
        )
    assert metrics("--from", "2026-09-01", "--to", "2026-09-30")["net_revenue"] == "290.70"
    migration = importlib.import_module(
        "tillbook.insights.migrations.0005_daily_ledger_adjustments"
    )
    migration.read_adjustments_again(apps, SimpleNamespace(connection=connection))
    assert metrics("--from", "2026-09-01", "--to", "2026-09-30")["net_revenue"] == "175.70"
    assert metrics("--from", "2026-10-01", "--to", "2026-10-31")["net_revenue"] == "115.00"


def _paid(business: Business, amount: int, moment: datetime, email: str) -> Payment:
    return Payment.objects.create(
        business=business,
        provider="sandbox",
        state="succeeded",
        currency=business.currency,
        amount=amount,
        fee_amount=0,
        customer_email=email,
        created_at=moment,
        succeeded_at=moment,
    )


def test_averages_round_to_the_nearest_minor_unit(scoped: Business) -> None:
    """20.00 over three orders and three new customers: 6.67 each, not the 6.66 that floor
    division gave (CAC already rounded half-even)."""
    from datetime import UTC

    from tillbook.insights.customers import lifetime_value_by_cohort

    for day, amount, email in (
        (2, 700, "a@example.com"),
        (3, 700, "b@example.com"),
        (4, 600, "c@example.com"),
    ):
        _paid(scoped, amount, datetime(2026, 9, day, 15, tzinfo=UTC), email)
    data = metrics("--from", "2026-09-01", "--to", "2026-09-30")
    assert (data["gross_sales"], data["orders"], data["average_order_value"]) == (
        "20.00",
        3,
        "6.67",
    )
    [cohort] = lifetime_value_by_cohort(business=scoped)
    assert (cohort.customers, cohort.revenue, cohort.lifetime_value) == (3, 2000, 667)


def test_open_requests_count_what_is_still_due_and_not_lapsed_checkouts(
    scoped: Business, owner: User
) -> None:
    """A 100.00 request paid 40.00 in cash waits for 60.00, not 100.00; a checkout whose time
    ran out is no longer waiting for anything."""
    from datetime import timedelta

    from django.utils import timezone

    from tests.orders.shop import build_shop
    from tillbook.core.money import Money
    from tillbook.insights.customers import open_payment_requests
    from tillbook.orders.models import Order
    from tillbook.orders.services import order_place, orders_expire_due
    from tillbook.payments.models import PaymentRequest
    from tillbook.payments.services import manual_payment_record, payment_link_create

    link = payment_link_create(
        business=scoped, actor=owner, title="Coaching package", amount=Money(10000, "USD")
    )
    manual_payment_record(
        request=link, amount=Money(4000, "USD"), method="cash", note="first half", actor=owner
    )
    link.refresh_from_db()
    assert (link.state, link.amount_paid) == ("open", 4000)
    shop = build_shop(scoped)
    order_place(business=scoped, items=[shop.book()], email="a@example.com", name="A")
    found = open_payment_requests(business=scoped)
    assert (found.count, found.amount) == (2, 6000 + 1900)
    # The checkout's time runs out (its request expires with its reservation).
    lapsed = timezone.now() - timedelta(minutes=1)
    Order.objects.update(reserved_until=lapsed)
    PaymentRequest.objects.filter(purpose="order").update(expires_at=lapsed)
    assert orders_expire_due(now=timezone.now()) == 1
    found = open_payment_requests(business=scoped)
    assert (found.count, found.amount) == (1, 6000)


def test_a_payout_still_on_its_way_is_not_counted_before_it_arrives(scoped: Business) -> None:
    """Payouts are "arrived in your bank": one in transit and due tomorrow is not yet, in a
    range that takes in tomorrow ("this month"); a paid one is, and so is one whose day came."""
    from datetime import timedelta

    from django.utils import timezone

    from tillbook.insights.ledger import payouts_by_processor
    from tillbook.payments.models import Payout, PayoutState

    today = timezone.localdate(timezone=scoped.zone)
    for reference, state, day, amount in (
        ("po_transit", PayoutState.IN_TRANSIT, today + timedelta(days=1), 1000),
        ("po_paid", PayoutState.PAID, today + timedelta(days=1), 2000),
        ("po_due", PayoutState.IN_TRANSIT, today, 4000),
    ):
        Payout.objects.create(
            business=scoped,
            provider="stripe",
            provider_reference=reference,
            state=state,
            currency="USD",
            amount=amount,
            arrival_date=day,
        )
    period = Period(today - timedelta(days=3), today + timedelta(days=3), scoped.zone)
    (stripe,) = payouts_by_processor(business=scoped, period=period)
    assert (stripe.amount, stripe.count) == (6000, 2)


def test_the_readable_table_shows_payouts_in_another_currency_apart(
    september: Business,
) -> None:
    """A payout in EUR is not in the USD "Payouts" line, and the table says it arrived."""
    from tillbook.payments.models import Payout, PayoutState

    with business_scope(september):
        for reference, amount in (("po_eu_1", 8000), ("po_eu_2", 1250)):
            Payout.objects.create(
                business=september,
                provider="paypal",
                provider_reference=reference,
                state=PayoutState.PAID,
                currency="EUR",
                amount=amount,
                arrival_date=date(2026, 9, 20),
            )
    out = io.StringIO()
    call_command(
        "metrics", "--business", "acme", "--from", "2026-09-01", "--to", "2026-09-30", stdout=out
    )
    text = out.getvalue()
    assert "Payouts                      1111.60          0.00" in text.splitlines()
    assert "Also paid out in EUR (not in the totals above): PayPal €92.50 in 2 payouts" in text


def _paid_in_parts(business: Business, owner: User) -> None:
    """September: a booking paid by deposit and balance, a request paid in two parts, a
    reusable link paid twice and an imported payment; 250.00 in five orders."""
    from datetime import UTC

    from tillbook.core.money import Money
    from tillbook.payments.models import PaymentRequest
    from tillbook.payments.services import payment_link_create

    def paid(amount: int, day: int, request: PaymentRequest | None = None) -> None:
        payment = _paid(business, amount, datetime(2026, 9, day, 15, tzinfo=UTC), "a@example.com")
        payment.request = request
        payment.save(update_fields=["request"])

    def request(purpose: str) -> PaymentRequest:
        return PaymentRequest.objects.create(
            business=business,
            token=f"tok-{purpose}",
            purpose=purpose,
            purpose_id="1",
            title=purpose,
            currency="USD",
            amount=10000,
        )

    paid(3000, 2, request("booking"))  # the deposit confirms the booking: the order
    paid(7000, 9, request("booking_charge"))  # its balance, a week later
    in_parts = request("link")
    paid(4000, 3, in_parts)
    paid(6000, 10, in_parts)  # the second half of the same request
    reusable = payment_link_create(
        business=business, actor=owner, title="Drop-in", amount=Money(1500, "USD"), is_reusable=True
    )
    paid(1500, 4, reusable)
    paid(1500, 11, reusable)
    paid(2000, 5)  # imported from a processor, no request


def test_an_order_paid_in_parts_counts_once(scoped: Business, owner: User) -> None:
    """Orders are what customers ordered, not payments: a booking's deposit and its balance are
    one order, so is a request paid in two cash parts; each payment on a reusable link is an
    order of its own, and so is a payment made outside Tillbook (an import)."""
    from tillbook.insights.customers import lifetime_value_by_cohort

    _paid_in_parts(scoped, owner)
    data = metrics("--from", "2026-09-01", "--to", "2026-09-30")
    assert (data["gross_sales"], data["orders"], data["average_order_value"]) == (
        "250.00",
        5,
        "50.00",
    )
    second_week = metrics("--from", "2026-09-08", "--to", "2026-09-14")
    assert (second_week["gross_sales"], second_week["orders"]) == ("145.00", 1)
    [cohort] = lifetime_value_by_cohort(business=scoped)
    assert (cohort.customers, cohort.orders, cohort.revenue) == (1, 5, 25000)


def test_the_upgrade_counts_orders_paid_in_parts_again(scoped: Business, owner: User) -> None:
    """Rollups summed when every payment was an order are summed again after the upgrade."""
    import importlib
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection
    from django.db.models import F

    from tillbook.insights.customers import lifetime_value_by_cohort
    from tillbook.insights.models import CustomerValue

    _paid_in_parts(scoped, owner)
    assert metrics("--from", "2026-09-01", "--to", "2026-09-30")["orders"] == 5
    assert lifetime_value_by_cohort(business=scoped)[0].orders == 5
    # The rows as the code before counted them: the balance and the second part were orders.
    DailyLedger.objects.filter(day__in=[date(2026, 9, 9), date(2026, 9, 10)]).update(
        orders=F("orders") + 1
    )
    CustomerValue.objects.update(orders=7)
    assert metrics("--from", "2026-09-01", "--to", "2026-09-30")["orders"] == 7
    migration = importlib.import_module("tillbook.insights.migrations.0006_orders_counted_once")
    migration.count_orders_again(apps, SimpleNamespace(connection=connection))
    assert metrics("--from", "2026-09-01", "--to", "2026-09-30")["orders"] == 5
    assert lifetime_value_by_cohort(business=scoped)[0].orders == 5


def test_a_booking_paid_only_at_the_venue_is_one_order(scoped: Business, owner: User) -> None:
    """A pay-later booking (or one staff booked for a customer) has no deposit: staff record
    the money in the calendar (booking_mark_paid), a "booking_charge" request. That payment is
    the booking's only one, so it is its order; a balance after a deposit is still not."""
    from datetime import UTC

    from tillbook.insights.customers import lifetime_value_by_cohort
    from tillbook.payments.models import PaymentRequest

    def paid(amount: int, day: int, purpose: str, booking_id: str) -> None:
        request = PaymentRequest.objects.create(
            business=scoped,
            token=f"tok-{purpose}-{booking_id}",
            purpose=purpose,
            purpose_id=booking_id,
            title=purpose,
            currency="USD",
            amount=amount,
        )
        payment = _paid(scoped, amount, datetime(2026, 9, day, 15, tzinfo=UTC), "a@example.com")
        payment.request = request
        payment.save(update_fields=["request"])

    paid(6000, 2, "booking_charge", "7")  # booking 7, paid in cash after the session
    paid(3000, 3, "booking", "8")  # booking 8's deposit: its order
    paid(7000, 9, "booking_charge", "8")  # booking 8's balance: part of that order
    data = metrics("--from", "2026-09-01", "--to", "2026-09-30")
    assert (data["gross_sales"], data["orders"], data["average_order_value"]) == (
        "160.00",
        2,
        "80.00",
    )
    [cohort] = lifetime_value_by_cohort(business=scoped)
    assert (cohort.customers, cohort.orders, cohort.revenue) == (1, 2, 16000)


def test_a_payout_without_lines_is_summed_for_each_view_without_writing_and_its_lines_count(
    scoped: Business, django_assert_num_queries: Any
) -> None:
    """A payout known without its lines (PayPal's withdrawals) is summed for the view in one
    query, and nothing is written: a view that stored contents raced the import linking the
    payout's lines (it waited for the import's commit, then failed, or kept zeros for good).
    Lines that arrive later count."""
    from tillbook.insights.ledger import payouts_by_processor
    from tillbook.insights.models import PayoutContents
    from tillbook.insights.rollups import rollups_refresh

    from .withdrawals import paypal_sale_line, paypal_withdrawal

    payout = paypal_withdrawal(scoped)
    period = Period(date(2026, 9, 1), date(2026, 9, 30), scoped.zone)

    def shown() -> list[tuple[object, ...]]:
        (paypal,) = payouts_by_processor(business=scoped, period=period)
        (row,) = paypal.payouts
        return [(paypal.amount, row["sales"], row["fees"], row["lines"])]

    with django_assert_num_queries(2):  # the payouts with their contents; its lines summed
        assert shown() == [(10000, 0, 0, 0)]
    assert not PayoutContents.objects.exists()
    paypal_sale_line(scoped, payout)
    assert shown() == [(10000, 10300, 300, 1)]
    rollups_refresh(business=scoped)  # the refresh that reads the line stores the contents
    assert PayoutContents.objects.get(payout=payout).lines == 1
    with django_assert_num_queries(1):
        assert shown() == [(10000, 10300, 300, 1)]
