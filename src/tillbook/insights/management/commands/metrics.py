"""`tillbook metrics --business SLUG --from YYYY-MM-DD --to YYYY-MM-DD [--json]`."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tillbook.core.errors import TillbookError
from tillbook.core.models import Business
from tillbook.core.money import Money, currency_precision
from tillbook.core.scoping import business_scope, unscoped
from tillbook.insights.ledger import PROCESSOR_NAMES
from tillbook.insights.periods import iso_day, period_between
from tillbook.insights.rollups import rollups_refresh
from tillbook.insights.selectors import business_metrics, metrics_json


def _day(value: str) -> date:
    try:
        return iso_day(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date; use YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = "Print a business's metrics for a date range (inclusive, in the business's zone)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--business", required=True)
        parser.add_argument("--from", dest="first", required=True, help="YYYY-MM-DD")
        parser.add_argument("--to", dest="last", required=True, help="YYYY-MM-DD")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        with unscoped():
            business = Business.objects.filter(slug=options["business"]).first()
        if business is None:
            raise CommandError(f"No business with the address {options['business']!r}.")
        try:
            period = period_between(_day(options["first"]), _day(options["last"]), business.zone)
        except TillbookError as error:
            raise CommandError(error.message) from None
        with business_scope(business):
            rollups_refresh(business=business)
            metrics = business_metrics(business=business, period=period)
            data = metrics_json(metrics, business=business)
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False))
            return
        self._table(data, business)

    def _table(self, data: dict[str, Any], business: Business) -> None:
        previous = data["previous"]
        write = self.stdout.write
        write(f"{business.name}: {data['from']} to {data['to']} ({data['currency']})")
        write(f"{'':22}{'this period':>14}{'previous':>14}")
        for key, label in (
            ("gross_sales", "Gross sales"),
            ("refunds", "Refunds"),
            ("fees", "Processor fees"),
            ("net_revenue", "Net revenue"),
            ("tips", "Tips"),
            ("tax", "Tax"),
            ("orders", "Orders"),
            ("average_order_value", "Average order"),
            ("payouts", "Payouts"),
            ("new_customers", "New customers"),
            ("returning_customers", "Returning customers"),
            ("ad_spend", "Ad spend"),
            ("attributed_revenue", "Attributed revenue"),
            ("roas", "ROAS"),
        ):
            now, before = ("–" if value is None else value for value in (data[key], previous[key]))
            write(f"{label:22}{now:>14}{before:>14}")
        if data["by_campaign"]:
            write("")
            write(f"{'Campaign':34}{'spend':>11}{'clicks':>8}{'revenue':>11}{'ROAS':>7}")
            for row in data["by_campaign"]:
                name = f"{row['platform']}: {row['campaign']}"[:33]
                write(
                    f"{name:34}{row['spend']:>11}{row['clicks']:>8}"
                    f"{row['attributed_revenue']:>11}{row['roas'] or '–':>7}"  # None: no spend
                )
        for row in data["ad_spend_other_currencies"]:
            brought = (
                f"; brought {row['attributed_revenue']} {data['currency']} in "
                f"{row['orders']} orders (no ROAS without an exchange rate)"
                if row["orders"]
                else ""
            )
            write(
                f"Also spent in {row['currency']} (not in the totals above): {row['platform']}: "
                f"{row['campaign']} {row['spend']} {row['currency']}, {row['clicks']} clicks"
                f"{brought}"
            )
        for code, totals in data["other_currencies"].items():
            gross = _formatted(totals["gross_sales"], code, business)
            write(f"Also in {code} (not in the totals above): gross sales {gross}")
        for row in data["payouts_by_processor"]:
            code = row["currency"]
            if code == data["currency"]:
                continue
            processor = PROCESSOR_NAMES.get(row["provider"], row["provider"].title())
            count = f"{row['count']} payout{'s' if row['count'] != 1 else ''}"
            write(
                f"Also paid out in {code} (not in the totals above): "
                f"{processor} {_formatted(row['amount'], code, business)} in {count}"
            )


def _formatted(major: str, currency: str, business: Business) -> str:
    # A ledger's total is not input: built from minor units, so no input limit applies.
    minor = int(Decimal(major).scaleb(currency_precision(currency)))
    return Money(minor, currency).format(business.locale)
