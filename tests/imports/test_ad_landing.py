"""Ad reports become daily spend per platform, campaign and ad group; the days add up."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Sum

from tillbook.core.models import Business
from tillbook.imports.models import ImportRun, RunState
from tillbook.imports.source import ImportSource
from tillbook.marketing.models import AdCampaign, AdSpendDay

Importer = Callable[..., ImportRun]


def spend_of(name: str) -> dict[str, object]:
    days = AdSpendDay.objects.filter(campaign__name=name)
    totals = days.aggregate(spend=Sum("spend"), clicks=Sum("clicks"), conv=Sum("conversions"))
    return {"days": days.count(), **totals}


def test_a_summary_is_spread_over_its_window_to_the_cent(
    run_import: Importer, scoped: Business
) -> None:
    run = run_import("google_ads_campaign.csv")
    assert (run.rows_read, run.imported, run.skipped) == (5, 3, {"total row": 2})
    assert spend_of("Brand") == {"days": 30, "spend": 2002, "clicks": 95, "conv": Decimal(0)}
    brand = AdSpendDay.objects.filter(campaign__name="Brand").order_by("day")
    # 20.02 over 30 days: 22 days of 0.67 and 8 of 0.66, the extra cents going first.
    assert [row.spend for row in brand[:3]] == [67, 67, 67]
    assert sorted({row.spend for row in brand}) == [66, 67]
    fall = spend_of("Fall Launch – Search")
    assert fall == {"days": 30, "spend": 30000, "clicks": 2140, "conv": Decimal("12.00")}


def test_the_same_days_imported_again_replace_rather_than_add(
    run_import: Importer, scoped: Business
) -> None:
    run_import("google_ads_campaign.csv")
    again = run_import("google_ads_campaign.csv")
    assert (again.imported, again.duplicates) == (0, 3)
    daily = run_import("google_ads_daily.csv")
    assert (daily.imported, daily.duplicates) == (3, 0)
    # Three days now hold the daily figures; the other 27 keep their share of the summary.
    assert spend_of("Fall Launch – Search") == {
        "days": 30,
        "spend": 30000 - 3 * 1000 + 9960 + 10000 + 10040,
        "clicks": 2140 - 3 * 72 + 120 + 101 + 99,  # 2,140 / 30: the first ten days got 72
        "conv": Decimal("12.00") - Decimal("1.20") + Decimal("3.50"),
    }
    campaign = AdCampaign.objects.get(name="Fall Launch – Search")
    assert (campaign.platform, campaign.external_id) == ("google", "20123456789")


def test_microsoft_daily_then_summary_and_meta_campaigns_by_name(
    run_import: Importer, scoped: Business
) -> None:
    run = run_import("microsoft_ads.csv")
    assert run.warnings[0].startswith("Microsoft marks this report “Potential Incomplete Data”")
    assert spend_of("Spring Promo") == {"days": 4, "spend": 11095, "clicks": 124, "conv": 3}
    run_import("microsoft_ads_summary.csv")
    assert spend_of("Spring Promo") == {"days": 30, "spend": 10000, "clicks": 300, "conv": 6}
    run_import("meta_ads_campaign.csv")
    assert sorted(
        AdCampaign.objects.filter(platform="meta").values_list("name", "external_id")
    ) == [
        ("Retreat Leads", ""),
        ("Workshop Retargeting", ""),
    ]
    assert spend_of("Retreat Leads")["spend"] == 21000


def test_ad_set_rows_replace_the_campaign_row_of_the_same_day(
    run_import: Importer, scoped: Business
) -> None:
    run = run_import("meta_ads_adset_de.csv")
    assert run.imported == 3
    rows = AdSpendDay.objects.order_by("day", "ad_group")
    assert [(r.day, r.ad_group, r.currency, r.spend) for r in rows] == [
        (date(2026, 9, 1), "Frauen 30-45", "EUR", 1245),
        (date(2026, 9, 1), "Männer 30-45", "EUR", 780),
        (date(2026, 9, 2), "Frauen 30-45", "EUR", 1200),
    ]


GOOGLE_DAILY_HEAD = (
    'Campaign report\n"September 1, 2026 - September 2, 2026"\n'
    "Day,Campaign,Campaign ID,Impr.,Clicks,Currency code,Cost\n"
)


def _campaigns() -> list[tuple[str, str, int]]:
    """(id, name, spend) of every campaign."""
    return sorted(
        AdCampaign.objects.annotate(spend=Sum("days__spend")).values_list(
            "external_id", "name", "spend"
        )
    )


def test_two_campaigns_that_swap_names_keep_their_ids_and_spend(
    run_import: Importer, scoped: Business
) -> None:
    """A rename to a name another campaign held (here: two campaigns swapping names) crashed
    the import on the name's uniqueness; campaigns known by an id are matched by it alone."""
    from tillbook.imports.source import ImportSource

    first = GOOGLE_DAILY_HEAD + "2026-09-01,A,1,10,1,USD,1.00\n2026-09-01,B,2,10,1,USD,2.00\n"
    # Its range is the second day alone: a report of both days would say nothing was spent
    # on the first (it has no row for it).
    second_day = GOOGLE_DAILY_HEAD.replace("September 1, 2026", "September 2, 2026")
    second = second_day + "2026-09-02,B,1,10,1,USD,3.00\n2026-09-02,A,2,10,1,USD,4.00\n"
    assert run_import(ImportSource.from_bytes(first.encode(), "g1.csv")).state == "done"
    run = run_import(ImportSource.from_bytes(second.encode(), "g2.csv"))
    assert (run.state, run.imported) == ("done", 2)
    assert _campaigns() == [("1", "B", 100 + 300), ("2", "A", 200 + 400)]


def test_a_new_campaign_given_a_renamed_campaigns_old_name_is_a_campaign_of_its_own(
    run_import: Importer, scoped: Business
) -> None:
    """August: campaign 201 is "Spring". September: 201 is renamed "Spring 2025" and a new
    campaign 203 is called "Spring". 203's spend went to 201 (matched by name)."""
    from tillbook.imports.source import ImportSource

    august = GOOGLE_DAILY_HEAD + "2026-08-01,Spring,201,10,1,USD,50.00\n"
    september = (
        GOOGLE_DAILY_HEAD
        + "2026-09-01,Spring,203,10,1,USD,70.00\n2026-09-01,Spring 2025,201,10,1,USD,10.00\n"
    )
    run_import(ImportSource.from_bytes(august.encode(), "aug.csv"))
    run_import(ImportSource.from_bytes(september.encode(), "sep.csv"))
    assert _campaigns() == [("201", "Spring 2025", 5000 + 1000), ("203", "Spring", 7000)]


def test_a_campaign_first_known_by_name_takes_its_id_when_a_file_gives_it(
    run_import: Importer, scoped: Business
) -> None:
    from tillbook.imports.ad_landing import ad_land_batch
    from tillbook.imports.records import AdRecord

    def record(campaign_id: str, spend: int, day: date) -> AdRecord:
        return AdRecord(
            line=1, platform="meta", campaign_name="Retreat", campaign_id=campaign_id,
            ad_group="", first_day=day, last_day=day, currency="USD", spend=spend, clicks=0,
            impressions=0, conversions=Decimal(0),
        )  # fmt: skip

    ad_land_batch(
        business=scoped, records=[record("", 500, date(2026, 9, 1))], run_id=None, cache={}
    )
    ad_land_batch(
        business=scoped, records=[record("238", 700, date(2026, 9, 2))], run_id=None, cache={}
    )
    assert _campaigns() == [("238", "Retreat", 1200)]


def test_a_meta_id_excel_rounded_to_fifteen_digits_finds_its_campaign_by_name(
    run_import: Importer, scoped: Business
) -> None:
    """The same September report twice: once with the campaign's id, once after Excel saved
    the id as a number (its last three digits zeros). One campaign, its spend replaced, not a
    second campaign with the spend again."""
    from tillbook.imports.source import ImportSource

    head = (
        '"Reporting starts","Reporting ends","Campaign name","Campaign ID","Impressions",'
        '"Amount spent (USD)","Link clicks"\n'
    )
    for campaign_id in ("120210000000000123", "120210000000000000"):
        row = f'"2026-09-01","2026-09-01","Retreat","{campaign_id}","900","5.00","30"\n'
        run = run_import(ImportSource.from_bytes((head + row).encode(), "meta.csv"))
        assert run.state == "done", run.message
    assert _campaigns() == [("120210000000000123", "Retreat", 500)]


def _ads(text: str, name: str = "ads.csv") -> ImportSource:
    return ImportSource.from_bytes(text.encode(), name)


def test_a_daily_report_after_a_summary_of_the_same_range_counts_its_days_once(
    run_import: Importer, scoped: Business
) -> None:
    """The summary spread 300.00 over September; the daily report of September has rows for
    the three days with spend only (Google leaves the others out). Its other 27 days kept
    the summary's shares: 570.00 for 300.00."""
    summary = (
        'Campaign report\n"1 September 2026 - 30 September 2026"\n'
        "Campaign,Campaign ID,Impr.,Clicks,Currency code,Cost\n"
        "Brand,1,300,30,USD,300.00\n"
    )
    daily = (
        'Campaign report\n"1 September 2026 - 30 September 2026"\n'
        "Day,Campaign,Campaign ID,Impr.,Clicks,Currency code,Cost\n"
        "2026-09-01,Brand,1,100,10,USD,100.00\n"
        "2026-09-02,Brand,1,100,10,USD,100.00\n"
        "2026-09-03,Brand,1,100,10,USD,100.00\n"
    )
    assert run_import(_ads(summary, "summary.csv")).state == RunState.DONE
    assert AdSpendDay.objects.aggregate(total=Sum("spend"))["total"] == 30000
    assert run_import(_ads(daily, "daily.csv")).state == RunState.DONE
    assert AdSpendDay.objects.aggregate(total=Sum("spend"))["total"] == 30000
    assert sorted(AdSpendDay.objects.values_list("day", "spend")) == [
        (date(2026, 9, 1), 10000),
        (date(2026, 9, 2), 10000),
        (date(2026, 9, 3), 10000),
    ]


def test_a_microsoft_daily_report_replaces_the_summary_on_the_days_it_covers(
    run_import: Importer, scoped: Business
) -> None:
    """The summary: 100.00 over 1–30 September. The daily report covers 1–13 September, with
    rows for four days (110.95): those 13 days are its, the other 17 keep the summary's."""
    run_import("microsoft_ads_summary.csv")
    run_import("microsoft_ads.csv")
    days = AdSpendDay.objects
    covered = days.filter(day__range=(date(2026, 9, 1), date(2026, 9, 13)))
    assert covered.aggregate(total=Sum("spend"))["total"] == 11095
    rest = days.filter(day__range=(date(2026, 9, 14), date(2026, 9, 30)))
    assert (rest.count(), rest.aggregate(total=Sum("spend"))["total"]) == (17, 17 * 333)


def test_a_campaign_name_longer_than_kept_can_be_imported_again(
    run_import: Importer, scoped: Business
) -> None:
    """Kept to 300 characters, looked up whole: the second import made the campaign again
    and failed on the name's uniqueness."""
    name = "Brand " + "x" * 300
    text = (
        'Campaign report\n"1 September 2026 - 30 September 2026"\n'
        f"Campaign,Impr.,Clicks,Currency code,Cost\n{name},10,1,USD,30.00\n"
    )
    assert run_import(_ads(text)).state == RunState.DONE
    again = run_import(_ads(text))
    assert (again.state, again.imported, again.duplicates) == (RunState.DONE, 0, 1)
    assert list(AdCampaign.objects.values_list("name", flat=True)) == [name[:300]]


@pytest.mark.parametrize(
    ("cells", "problem"),
    [
        ("-5,-3,USD,1.00,1", "Clicks: “-3” is below zero; a count cannot be"),
        (
            '10,1,USD,10.00,"1,000,000,000,000,000"',
            "Conversions: “1,000,000,000,000,000” is too large to be a count",
        ),
    ],
)
def test_counts_below_zero_or_beyond_what_is_kept_are_problems_on_their_line(
    run_import: Importer, scoped: Business, cells: str, problem: str
) -> None:
    text = (
        'Campaign report\n"1 September 2026 - 30 September 2026"\n'
        f"Campaign,Impr.,Clicks,Currency code,Cost,Conversions\nBrand,{cells}\n"
    )
    run = run_import(_ads(text))
    assert (run.state, run.problems) == (RunState.FAILED, [[4, problem]])
    assert (AdCampaign.objects.count(), AdSpendDay.objects.count()) == (0, 0)


def test_a_backwards_date_range_is_reported_on_its_line(
    run_import: Importer, scoped: Business
) -> None:
    text = (
        'Campaign report\n"30 September 2026 - 1 September 2026"\n'
        "Campaign,Impr.,Clicks,Currency code,Cost\nBrand,10,1,USD,10.00\n"
    )
    run = run_import(_ads(text))
    assert (run.state, run.problems) == (
        RunState.FAILED,
        [[2, "the date range “30 September 2026 - 1 September 2026” ends before it starts"]],
    )
    assert (AdCampaign.objects.count(), AdSpendDay.objects.count()) == (0, 0)


@pytest.mark.parametrize(
    ("window", "first", "last"),
    [
        ("1 janv. 2026 - 31 janv. 2026", date(2026, 1, 1), date(2026, 1, 31)),
        ("1 déc. 2026 - 31 déc. 2026", date(2026, 12, 1), date(2026, 12, 31)),
    ],
)
def test_french_january_and_december_windows_are_read(
    run_import: Importer, scoped: Business, window: str, first: date, last: date
) -> None:
    text = (
        f'Campaign report\n"{window}"\n'
        "Campaign,Impr.,Clicks,Currency code,Cost\nBrand,10,1,USD,31.00\n"
    )
    assert run_import(_ads(text)).state == RunState.DONE
    days = AdSpendDay.objects.order_by("day").values_list("day", flat=True)
    assert (days.first(), days.last(), days.count()) == (first, last, 31)


def test_one_campaign_name_in_two_currencies_is_refused_not_added_up(
    run_import: Importer, scoped: Business
) -> None:
    """A manager account's report without ids: "Brand" of the US account (USD) and of the
    German one (EUR) were one campaign, their days 10.00 USD + 10.00 EUR = 20.00 USD."""
    text = (
        'Campaign report\n"September 1, 2026 - September 1, 2026"\n'
        "Day,Campaign,Impr.,Clicks,Currency code,Cost\n"
        "2026-09-01,Brand,10,1,USD,10.00\n"
        "2026-09-01,Brand,10,1,EUR,10.00\n"
    )
    run = run_import(_ads(text))
    assert (run.state, run.problems) == (
        RunState.FAILED,
        [
            [
                5,
                "campaign “Brand” is in EUR here and in USD on line 4: campaigns of two "
                "accounts with one name? Download the report with the Campaign ID column, or "
                "one account at a time",
            ]
        ],
    )
    assert (AdCampaign.objects.count(), AdSpendDay.objects.count()) == (0, 0)


def test_a_weekly_or_monthly_google_report_puts_each_row_on_its_own_days(
    run_import: Importer, scoped: Business
) -> None:
    """Split by Week (or Month), a row was spread over the whole range: the first week's 70.00
    half in the second week, which spent nothing. The first week begins before the range and
    the last month ends after it: each row keeps to the range's days."""
    weekly = (
        'Campaign report\n"9 September 2026 - 17 September 2026"\n'
        "Week,Campaign,Impr.,Clicks,Currency code,Cost\n"
        "2026-09-07,Brand,700,70,USD,70.00\n"
        "2026-09-14,Brand,40,4,USD,4.00\n"
    )
    assert run_import(_ads(weekly, "weekly.csv")).state == RunState.DONE
    days = dict(AdSpendDay.objects.values_list("day", "spend"))
    assert len(days) == 9
    assert [days[date(2026, 9, n)] for n in range(9, 14)] == [1400] * 5  # 70.00 over five days
    assert days[date(2026, 9, 14)] == days[date(2026, 9, 17)] == 100  # 4.00 over four days
    monthly = (
        'Campaign report\n"1 October 2026 - 10 November 2026"\n'
        "Month,Campaign,Impr.,Clicks,Currency code,Cost\n"
        "2026-10-01,Search,310,31,USD,310.00\n"
        "2026-11-01,Search,10,1,USD,10.00\n"
    )
    assert run_import(_ads(monthly, "monthly.csv")).state == RunState.DONE
    search = AdSpendDay.objects.filter(campaign__name="Search")
    assert search.count() == 41
    assert search.filter(day__month=10).aggregate(total=Sum("spend"))["total"] == 31000
    assert search.get(day=date(2026, 11, 10)).spend == 100


def test_a_meta_daily_breakdown_after_a_summary_speaks_for_every_day_between_its_rows(
    run_import: Importer, scoped: Business
) -> None:
    """The summary spread 300.00 over September. The daily breakdown of September has rows for
    the days with delivery only (1, 2 and 30 September): Meta leaves the others out, and
    their shares of the summary stayed (570.00 for 300.00). Meta's file states no range of
    its own: a daily file speaks for its first to its last day."""
    head = (
        '"Reporting starts","Reporting ends","Campaign name","Campaign ID","Impressions",'
        '"Amount spent (USD)","Link clicks"\n'
    )
    summary = head + '"2026-09-01","2026-09-30","Retreat","120000000001","3000","300.00","30"\n'
    daily = head + "".join(
        f'"2026-09-{day:02d}","2026-09-{day:02d}","Retreat","120000000001","1000","100.00","10"\n'
        for day in (1, 2, 30)
    )
    assert run_import(_ads(summary, "summary.csv")).state == RunState.DONE
    assert spend_of("Retreat") == {"days": 30, "spend": 30000, "clicks": 30, "conv": Decimal(0)}
    run = run_import(_ads(daily, "daily.csv"))
    assert (run.state, run.imported, run.duplicates) == (RunState.DONE, 3, 0)
    assert sorted(AdSpendDay.objects.values_list("day", "spend")) == [
        (date(2026, 9, 1), 10000),
        (date(2026, 9, 2), 10000),
        (date(2026, 9, 30), 10000),
    ]
    # A summary imported again after it is a summary again.
    assert run_import(_ads(summary, "summary.csv")).state == RunState.DONE
    assert spend_of("Retreat") == {"days": 30, "spend": 30000, "clicks": 30, "conv": Decimal(0)}


def test_a_daily_ad_report_does_not_speak_for_other_campaigns_or_days_outside_it(
    run_import: Importer, scoped: Business
) -> None:
    """Only the campaigns a daily file lists, and only from its first to its last day, lose
    the days it has no row for."""
    head = (
        '"Reporting starts","Reporting ends","Campaign name","Campaign ID","Impressions",'
        '"Amount spent (USD)","Link clicks"\n'
    )
    summary = head + (
        '"2026-09-01","2026-09-30","Retreat","120000000001","3000","300.00","30"\n'
        '"2026-09-01","2026-09-30","Workshop","120000000002","3000","60.00","30"\n'
    )
    daily = head + (
        '"2026-09-10","2026-09-10","Retreat","120000000001","1000","100.00","10"\n'
        '"2026-09-12","2026-09-12","Retreat","120000000001","1000","50.00","10"\n'
    )
    run_import(_ads(summary, "summary.csv"))
    assert run_import(_ads(daily, "daily.csv")).state == RunState.DONE
    # Retreat: 27 days outside 10–12 September keep 10.00 each; the 11th spent nothing.
    assert spend_of("Retreat") == {
        "days": 29,
        "spend": 27 * 1000 + 15000,
        "clicks": 47,
        "conv": Decimal(0),
    }
    assert spend_of("Workshop") == {"days": 30, "spend": 6000, "clicks": 30, "conv": Decimal(0)}


def test_a_day_first_daily_report_covers_the_days_it_names_not_months_more(
    run_import: Importer, scoped: Business
) -> None:
    """Until the file shows itself day-first (13/09), 02/09/2026 reads as 9 February: the
    first day of the daily report must not be taken from that reading, or March's spend,
    between 9 February and 13 September, goes with it."""
    head = (
        '"Reporting starts","Reporting ends","Campaign name","Campaign ID","Impressions",'
        '"Amount spent (USD)","Link clicks"\n'
    )
    march = head + '"2026-03-01","2026-03-31","Retreat","120000000001","3100","310.00","31"\n'
    daily = head + (
        '"02/09/2026","02/09/2026","Retreat","120000000001","1000","100.00","10"\n'
        '"13/09/2026","13/09/2026","Retreat","120000000001","1000","50.00","10"\n'
    )
    assert run_import(_ads(march, "march.csv")).state == RunState.DONE
    run = run_import(_ads(daily, "daily.csv"))
    assert (run.state, run.imported, run.date_order) == (RunState.DONE, 2, "dmy")
    assert AdSpendDay.objects.filter(day__month=3).aggregate(total=Sum("spend")) == {"total": 31000}
    assert sorted(AdSpendDay.objects.filter(day__month=9).values_list("day", "spend")) == [
        (date(2026, 9, 2), 10000),
        (date(2026, 9, 13), 5000),
    ]
    assert spend_of("Retreat") == {"days": 33, "spend": 46000, "clicks": 51, "conv": Decimal(0)}


def test_a_daily_ad_set_report_after_a_campaign_summary_counts_the_month_once(
    run_import: Importer, scoped: Business
) -> None:
    """The campaign's summary spread 300.00 over September; the daily report of its ad sets
    has rows for 1, 2 and 30 September. The summary's shares of the other 27 days stayed
    beside the ad sets' days (570.00 for 300.00): they are the campaign's, at another level."""
    head = (
        '"Reporting starts","Reporting ends","Campaign name","Campaign ID","Ad set name",'
        '"Impressions","Amount spent (USD)","Link clicks"\n'
    )
    summary = (
        '"Reporting starts","Reporting ends","Campaign name","Campaign ID","Impressions",'
        '"Amount spent (USD)","Link clicks"\n'
        '"2026-09-01","2026-09-30","Retreat","120000000001","3000","300.00","30"\n'
    )
    daily = head + "".join(
        f'"2026-09-{day:02d}","2026-09-{day:02d}","Retreat","120000000001","Warm",'
        '"1000","100.00","10"\n'
        for day in (1, 2, 30)
    )
    assert run_import(_ads(summary, "summary.csv")).state == RunState.DONE
    run = run_import(_ads(daily, "daily.csv"))
    assert (run.state, run.imported, run.duplicates) == (RunState.DONE, 3, 0)
    assert sorted(AdSpendDay.objects.values_list("day", "ad_group", "spend")) == [
        (date(2026, 9, 1), "Warm", 10000),
        (date(2026, 9, 2), "Warm", 10000),
        (date(2026, 9, 30), "Warm", 10000),
    ]
    # The campaign's summary imported again is the month's figure again, at its own level.
    assert run_import(_ads(summary, "summary.csv")).state == RunState.DONE
    assert spend_of("Retreat") == {"days": 30, "spend": 30000, "clicks": 30, "conv": Decimal(0)}
    assert AdSpendDay.objects.exclude(ad_group="").count() == 0
