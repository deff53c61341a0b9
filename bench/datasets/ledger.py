"""A large business's two years: payments, refunds, balance lines, payouts, ad spend.

Deterministic for a seed. Sizes follow --rows (the number of payments): customers are a fifth
of that, ad-spend rows a twentieth, refunds about 4% of payments. `--rows 1000000` is the
issue's "large business" (1M payments, 200k customers, 50k ad rows). The same rows are written
as CSV files for DuckDB, so both sides compute over identical data.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

DAYS = 730
PROVIDERS = ("stripe", "square", "paypal")
PLATFORMS = ("google", "microsoft", "meta")


@dataclass(frozen=True)
class LedgerFiles:
    payments: Path
    refunds: Path
    lines: Path
    payouts: Path
    campaigns: Path
    ad_days: Path
    first_day: date
    last_day: date


def write_ledger(folder: Path, *, payments: int, seed: int, today: date) -> LedgerFiles:
    rng = random.Random(seed)
    first = today - timedelta(days=DAYS - 1)
    customers = max(1, payments // 5)
    campaigns = max(3, payments // 20 // DAYS)
    files = LedgerFiles(
        payments=folder / "payments.csv",
        refunds=folder / "refunds.csv",
        lines=folder / "lines.csv",
        payouts=folder / "payouts.csv",
        campaigns=folder / "campaigns.csv",
        ad_days=folder / "ad_days.csv",
        first_day=first,
        last_day=today,
    )
    start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    payout_ids: dict[tuple[str, int], int] = {}
    with (
        files.payments.open("w", newline="") as p_file,
        files.refunds.open("w", newline="") as r_file,
        files.lines.open("w", newline="") as l_file,
    ):
        pay, ref, line = csv.writer(p_file), csv.writer(r_file), csv.writer(l_file)
        pay.writerow(["id", "provider", "currency", "amount", "tip_amount", "tax_amount",
                      "fee_amount", "provider_reference", "customer_email", "metadata",
                      "succeeded_at"])  # fmt: skip
        ref.writerow(["id", "payment_id", "currency", "amount", "provider_reference",
                      "succeeded_at"])  # fmt: skip
        line.writerow(["id", "provider", "provider_reference", "kind", "currency", "gross",
                       "fee", "net", "occurred_at", "payment_id", "payout_id"])  # fmt: skip
        refund_id = 0
        for number in range(1, payments + 1):
            provider = PROVIDERS[number % 3]
            # More sales recently: the business grows over the two years.
            moment = start + timedelta(seconds=int(DAYS * 86400 * rng.random() ** 0.8))
            currency = "EUR" if rng.random() < 0.02 else "USD"
            amount = rng.choice((2500, 4500, 8000, 12000, 25000, 60000)) + rng.randint(0, 99)
            tip = rng.choice((0, 0, 0, 500)) if provider == "square" else 0
            fee = (amount + tip) * 29 // 1000 + 30
            email = f"customer{rng.randint(1, customers)}@example.com"
            utm = f"campaign-{rng.randrange(campaigns)}" if rng.random() < 0.25 else ""
            metadata = json.dumps({"utm_campaign": utm} if utm else {})
            stamp = moment.isoformat()
            pay.writerow([number, provider, currency, amount, tip, 0, fee, f"{provider}_{number}",
                          email, metadata, stamp])  # fmt: skip
            week = (moment - start).days // 7
            payout = payout_ids.setdefault((provider, week), len(payout_ids) + 1)
            gross = amount + tip
            line.writerow([number, provider, f"txn_{number}", "charge", currency, gross, fee,
                           gross - fee, stamp, number, payout])  # fmt: skip
            if rng.random() < 0.04:
                refund_id += 1
                when = (moment + timedelta(days=rng.randint(0, 20))).isoformat()
                ref.writerow([refund_id, number, currency, amount // 2, f"re_{refund_id}", when])
    with files.payouts.open("w", newline="") as o_file:
        out = csv.writer(o_file)
        out.writerow(["id", "provider", "provider_reference", "currency", "amount", "arrival_date"])
        for (provider, week), payout in sorted(payout_ids.items(), key=lambda item: item[1]):
            arrival = first + timedelta(days=week * 7 + 9)
            out.writerow([payout, provider, f"po_{payout}", "USD", 0, arrival.isoformat()])
    with (
        files.campaigns.open("w", newline="") as c_file,
        files.ad_days.open("w", newline="") as a_file,
    ):
        camp, ads = csv.writer(c_file), csv.writer(a_file)
        camp.writerow(["id", "platform", "name"])
        ads.writerow(["campaign_id", "day", "currency", "spend", "clicks", "impressions"])
        for campaign in range(campaigns):
            camp.writerow([campaign + 1, PLATFORMS[campaign % 3], f"campaign-{campaign}"])
            for offset in range(DAYS):
                day = (first + timedelta(days=offset)).isoformat()
                spend, clicks = rng.randint(500, 9000), rng.randint(5, 200)
                ads.writerow([campaign + 1, day, "USD", spend, clicks, rng.randint(100, 9000)])
    return files


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as stream:
        rows = list(csv.reader(stream))
    return rows[1:]
