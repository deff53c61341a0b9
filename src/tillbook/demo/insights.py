"""The demo's money and marketing history, brought in through the real importers.

Four months of a Stripe itemized balance report and a PayPal activity download, and daily
reports of three ad campaigns that tell a story on the dashboard: the Google search campaign
for the spring retreat pays for itself several times over, the Meta webinar campaign roughly
breaks even after fees, and the Microsoft retargeting campaign costs more than it brings.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from tillbook.core.models import Business, User
from tillbook.imports.services import import_run_create, import_run_execute
from tillbook.imports.source import ImportSource
from tillbook.marketing.models import AdCampaign
from tillbook.marketing.services import campaign_mapping_set

DAYS = 120
OFFERINGS = [("Coaching session", 15000), ("Workshop seat", 8000), ("Leadership package", 120000)]
# (utm_campaign in links, sales per day, ad platform, campaign name, spend per day in cents)
CAMPAIGNS = [
    ("retreat-search", 0.9, "google", "Spring Retreat – Search", 4000),
    ("Leadership Webinar Leads", 0.3, "meta", "Leadership Webinar Leads", 3000),
    ("Workshop Retargeting", 0.04, "microsoft", "Workshop Retargeting", 2500),
]


def _csv(header: list[str], rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _sale(rng: random.Random) -> tuple[str, int]:
    name, price = rng.choices(OFFERINGS, weights=(6, 3, 1))[0]
    return name, price


def _fee(amount: int) -> int:
    return amount * 29 // 1000 + 30


def _stripe(rng: random.Random, days: list[date], emails: list[str]) -> bytes:
    rows: list[list[object]] = []
    number = 0
    for day in days:
        payout = f"po_demo_{day.isocalendar().week}"
        effective = day + timedelta(days=7 - day.weekday())
        utms = [c[0] for c in CAMPAIGNS if rng.random() < c[1]]
        for index in range(rng.randint(1, 4) + len(utms)):
            number += 1
            name, price = _sale(rng)
            moment = datetime.combine(day, time(14 + index % 8, rng.randint(0, 59)))
            utm = utms[index] if index < len(utms) else ""
            email = rng.choice(emails)
            rows.append(
                [payout, f"{effective} 00:00:00", f"txn_demo_{number}", f"{moment}",
                 f"{day + timedelta(days=2)} 00:00:00", "usd", f"{price / 100:.2f}",
                 f"{_fee(price) / 100:.2f}", f"{(price - _fee(price)) / 100:.2f}", "charge",
                 f"ch_demo_{number}", name, email, f"ch_demo_{number}", utm]
            )  # fmt: skip
            if rng.random() < 0.03:
                number += 1
                rows.append(
                    [payout, f"{effective} 00:00:00", f"txn_demo_{number}",
                     f"{moment + timedelta(hours=20)}", f"{day + timedelta(days=1)} 00:00:00",
                     "usd", f"{-price / 100:.2f}", "0.00", f"{-price / 100:.2f}", "refund",
                     f"re_demo_{number}", "Refund", email, f"ch_demo_{number - 1}", ""]
                )  # fmt: skip
    header = [
        "automatic_payout_id", "automatic_payout_effective_at_utc", "balance_transaction_id",
        "created_utc", "available_on_utc", "currency", "gross", "fee", "net",
        "reporting_category", "source_id", "description", "customer_email", "charge_id",
        "payment_metadata[utm_campaign]",
    ]  # fmt: skip
    return _csv(header, rows)


def _paypal(rng: random.Random, days: list[date], emails: list[str]) -> bytes:
    rows: list[list[object]] = []
    number = 0
    for day in days:
        for _ in range(rng.choice((0, 0, 1, 1, 2))):
            number += 1
            name, price = _sale(rng)
            fee = price * 349 // 10000 + 49
            reference = f"9DEMO{number:012d}"
            rows.append(
                [day.strftime("%m/%d/%Y"), "16:20:00", "CDT", "Express Checkout Payment",
                 "Completed", "USD", f"{price / 100:,.2f}", f"{-fee / 100:.2f}",
                 f"{(price - fee) / 100:,.2f}", rng.choice(emails), reference, "", name]
            )  # fmt: skip
        if day.weekday() == 4 and rows:
            number += 1
            rows.append(
                [day.strftime("%m/%d/%Y"), "09:00:00", "CDT", "General Withdrawal", "Completed",
                 "USD", "-500.00", "0.00", "-500.00", "", f"9DEMOW{number:011d}", "", "Bank"]
            )  # fmt: skip
    # A mid-month date above 12 tells the reader the file is month-first.
    header = [
        "Date", "Time", "TimeZone", "Type", "Status", "Currency", "Gross", "Fee", "Net",
        "From Email Address", "Transaction ID", "Reference Txn ID", "Subject",
    ]  # fmt: skip
    return _csv(header, rows)


def _ads(rng: random.Random, days: list[date]) -> dict[str, bytes]:
    google: list[list[object]] = []
    meta: list[list[object]] = []
    microsoft: list[list[object]] = []
    for day in days:
        for _, _, platform, name, spend in CAMPAIGNS:
            cost = spend + rng.randint(-spend // 5, spend // 5)
            clicks = cost // rng.randint(80, 140)
            impressions = clicks * rng.randint(12, 30)
            if platform == "google":
                google.append([day.isoformat(), "Enabled", name, "Search", f"{impressions:,}",
                               f"{clicks:,}", "USD", f"{cost / 100:.2f}", "--"])  # fmt: skip
            elif platform == "meta":
                meta.append([day.isoformat(), day.isoformat(), name, rng.randint(0, 3),
                             impressions, f"{cost / 100:.2f}", clicks])  # fmt: skip
            else:
                microsoft.append([day.isoformat(), name, "804555", impressions, clicks,
                                  f"{cost / 100:.2f}", 0, "USD"])  # fmt: skip
    first, last = days[0], days[-1]
    google_file = (
        f"Campaign report\n\"{first:%B} {first.day}, {first.year} - {last:%B} {last.day}, "
        f'{last.year}"\n'
    ).encode() + _csv(
        ["Day", "Campaign status", "Campaign", "Campaign type", "Impr.", "Clicks",
         "Currency code", "Cost", "Conversions"],
        google,
    )  # fmt: skip
    meta_file = _csv(
        ["Reporting starts", "Reporting ends", "Campaign name", "Results", "Impressions",
         "Amount spent (USD)", "Link clicks"],
        meta,
    )  # fmt: skip
    microsoft_file = (
        b'"Report Name: Campaign performance"\n"Potential Incomplete Data: false"\n\n'
        + _csv(
            ["TimePeriod", "CampaignName", "CampaignId", "Impressions", "Clicks", "Spend",
             "Conversions", "CurrencyCode"],
            microsoft,
        )
        + b'"\xc2\xa92026 Microsoft Corporation. All rights reserved."\n'
    )  # fmt: skip
    return {
        "google-ads-campaigns.csv": google_file,
        "meta-ads-campaigns.csv": meta_file,
        "microsoft-ads-campaigns.csv": microsoft_file,
    }


def seed_insights(*, business: Business, owner: User, emails: list[str], seed: int) -> None:
    """Import the demo's history; call inside the business's scope."""
    rng = random.Random(seed)
    today = timezone.localtime(timezone.now(), business.zone).date()
    days = [today - timedelta(days=DAYS - n) for n in range(DAYS)]
    files = {
        "stripe-itemized-balance.csv": _stripe(rng, days, emails),
        "paypal-activity.csv": _paypal(rng, days, emails),
        **_ads(rng, days),
    }
    for name, data in files.items():
        run = import_run_create(business=business, actor=owner, file_name=name, enqueue=False)
        run = import_run_execute(run=run, source=ImportSource.from_bytes(data, name))
        if run.state != "done":
            raise RuntimeError(f"The demo's {name} did not import: {run.message} {run.problems}")
    # Links for the retreat say utm_campaign=retreat-search; the owner mapped it once.
    campaign_mapping_set(
        business=business,
        actor=owner,
        utm_campaign="retreat-search",
        campaign=AdCampaign.objects.get(business=business, name="Spring Retreat – Search"),
    )
