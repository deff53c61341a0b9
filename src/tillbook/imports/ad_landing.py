"""Landing ad-report rows as daily spend per platform, campaign and ad group.

A row covering several days (a summary report) is spread evenly over them with
Money.allocate, so the days add up to the report exactly, to the cent and the click. The same
day imported again replaces what was there: platforms revise recent days. A report that states
its date range speaks for every day of it, for each campaign it lists: a daily report leaves
out days without spend, and those days of an earlier report are replaced by nothing.
Campaign-level and ad-set-level rows of one campaign and day would count the same money twice,
so landing one level removes the other for those days.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import chain

from django.db import connection
from django.db.models.functions import Length

from tillbook.core.hooks import pause_point
from tillbook.core.models import Business
from tillbook.core.money import Money
from tillbook.imports.records import AdRecord
from tillbook.marketing.models import AdCampaign, AdSpendDay

MAX_SPREAD_DAYS = 3660
# The first half of the advisory lock key of a business's ad landings (the ledger's is
# payments/ledger_lock.py's, one below); the second half is the business.
_LOCK_SPACE = 1_414_284_621
_BUSINESS_KEYS = 2**31


def ad_landing_lock(*, business_id: int) -> None:
    """One ad report of a business lands at a time: hold its lock until the transaction ends.

    Two imports of one report (the same file uploaded twice, a worker and the command line)
    would both find a campaign-day missing and both insert it: the second would fail on the
    unique index. On PostgreSQL the second waits at each commit for the first's (a report
    lands in commits of 50,000 rows: it waits for the whole of any ordinary report). SQLite has
    one writer at a time.
    """
    if connection.vendor != "postgresql":
        return
    if not connection.in_atomic_block:
        raise RuntimeError("ad_landing_lock must run inside transaction.atomic().")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_SPACE, business_id % _BUSINESS_KEYS]
        )


@dataclass
class AdCounts:
    imported: int = 0
    duplicates: int = 0


def _spread(total: int, days: int, currency: str) -> list[int]:
    return [part.amount for part in Money(total, currency).allocate([1] * days)]


def _spread_conversions(total: Decimal, days: int, currency: str) -> list[Decimal]:
    hundredths = int((total * 100).to_integral_value())
    return [Decimal(part) / 100 for part in _spread(hundredths, days, currency)]


def ad_days(record: AdRecord) -> list[tuple[date, int, int, int, Decimal]]:
    """(day, spend, clicks, impressions, conversions) for each day the record covers."""
    days = (record.last_day - record.first_day).days + 1
    if days > MAX_SPREAD_DAYS:
        days = MAX_SPREAD_DAYS
    spends = _spread(record.spend, days, record.currency)
    clicks = _spread(record.clicks, days, record.currency)
    impressions = _spread(record.impressions, days, record.currency)
    conversions = _spread_conversions(record.conversions, days, record.currency)
    return [
        (record.first_day + timedelta(days=n), spends[n], clicks[n], impressions[n], conversions[n])
        for n in range(days)
    ]


def _campaign(business: Business, record: AdRecord, cache: dict) -> AdCampaign:
    key = (record.platform, record.campaign_id or record.campaign_name)
    campaign = cache.get(key)
    if campaign is not None:
        return campaign
    found = None
    same_platform = AdCampaign.objects.filter(business=business, platform=record.platform)
    if record.campaign_id:
        found = same_platform.filter(external_id=record.campaign_id).first()
    if found is None:
        # By name: a campaign known by another id is another campaign that had (or has) the
        # same name; one known by no id yet is this one, from a file that gave no ids. With
        # no id in the record, a campaign with no id is the likeliest, then the newest.
        named = same_platform.filter(name=record.campaign_name[:300])  # as it is kept
        if record.campaign_id:
            named = named.filter(external_id="")
        found = named.order_by(Length("external_id"), "-pk").first()
    if found is None:
        found = AdCampaign(
            business=business,
            platform=record.platform,
            external_id=record.campaign_id,
            name=record.campaign_name[:300],
        )
        found.save()
    else:
        changed = False
        if record.campaign_id and not found.external_id:
            found.external_id, changed = record.campaign_id, True
        if found.name != record.campaign_name[:300] and record.campaign_id:
            found.name, changed = record.campaign_name[:300], True  # renamed on the platform
        if changed:
            found.save(update_fields=["external_id", "name"])
    cache[key] = found
    return found


def ad_land_batch(
    *, business: Business, records: Iterable[AdRecord], run_id: int | None, cache: dict
) -> AdCounts:
    """Land one batch of a run's records. Counts are of records (the file's rows): one is a
    duplicate when every campaign-day it adds to was already there with the same figures."""
    counts = AdCounts()
    rows: dict[tuple[int, str, date], AdSpendDay] = {}
    keys_of: list[set[tuple[int, str, date]]] = []  # the campaign-days each record adds to
    # Per campaign and ad group, the date ranges the file speaks for as a whole.
    covered: dict[tuple[int, str], set[tuple[date, date]]] = {}
    # Per campaign and level (True for campaign rows, False for ad sets), the same ranges: the
    # other level's rows of those days are counted by this file's rows.
    covered_level: dict[tuple[int, bool], set[tuple[date, date]]] = {}
    for record in records:
        campaign = _campaign(business, record, cache)
        if record.covers is not None:
            covered.setdefault((campaign.pk, record.ad_group[:300]), set()).add(record.covers)
            level = (campaign.pk, record.ad_group == "")
            covered_level.setdefault(level, set()).add(record.covers)
        keys = set()
        for day, spend, clicks, impressions, conversions in ad_days(record):
            key = (campaign.pk, record.ad_group[:300], day)
            keys.add(key)
            row = rows.get(key)
            if row is not None:  # two rows of one file for the same day add up
                row.spend += spend
                row.clicks += clicks
                row.impressions += impressions
                row.conversions += conversions
                continue
            rows[key] = AdSpendDay(
                business=business,
                campaign=campaign,
                ad_group=record.ad_group[:300],
                day=day,
                currency=record.currency,
                spend=spend,
                clicks=clicks,
                impressions=impressions,
                conversions=conversions,
                import_run_id=run_id,
                raw=record.raw,
            )
        keys_of.append(keys)
    if not rows:
        return counts
    pause_point("ad_land.checked")  # campaigns found or made; their days not yet read
    days = [day for _, _, day in rows]
    days += [edge for ranges in covered.values() for window in ranges for edge in window]
    candidates = AdSpendDay.objects.filter(
        business=business,
        campaign_id__in={campaign_id for campaign_id, _, _ in rows},
        day__range=(min(days), max(days)),
    )
    # Levels present in the file per campaign-day: True for campaign rows, False for ad sets.
    levels = {(campaign_id, day, ad_group == "") for campaign_id, ad_group, day in rows}
    replaced = []
    unchanged = set()
    for old in candidates:
        key = (old.campaign_id, old.ad_group, old.day)
        if key in rows:
            new = rows[key]
            if run_id is not None and old.import_run_id == run_id:
                # An earlier batch of this file had rows of the same campaign-day (a report by
                # device or network): they add up, as they do within a batch.
                new.spend += old.spend
                new.clicks += old.clicks
                new.impressions += old.impressions
                new.conversions += old.conversions
            elif (old.spend, old.clicks, old.impressions, old.conversions, old.currency) == (
                new.spend,
                new.clicks,
                new.impressions,
                new.conversions,
                new.currency,
            ):
                unchanged.add(key)
            replaced.append(old.pk)
        elif (old.campaign_id, old.day, old.ad_group != "") in levels:
            replaced.append(old.pk)  # the other level of a campaign-day this file covers
        elif (run_id is None or old.import_run_id != run_id) and any(
            first <= old.day <= last
            for first, last in chain(
                covered.get((old.campaign_id, old.ad_group), ()),
                covered_level.get((old.campaign_id, old.ad_group != ""), ()),
            )
        ):
            # A day of the file's range it has no row for: nothing was spent that day (an
            # earlier summary's share of it, spread evenly, would count twice), at this level
            # or the other (a campaign's summary under a daily report of its ad sets).
            replaced.append(old.pk)
    counts.duplicates = sum(1 for keys in keys_of if keys <= unchanged)
    counts.imported = len(keys_of) - counts.duplicates
    AdSpendDay.objects.filter(business=business, pk__in=replaced).delete()
    AdSpendDay.objects.bulk_create(rows.values())
    return counts
