"""Microsoft Advertising: a campaign performance report, plain or zipped.

A quoted metadata block comes first (`"Report Name: …"`, `"Report Time: 9/1/2026 -
9/30/2026"`, `"Time Zone: …"`, `"Potential Incomplete Data: true"`, `"Rows: N"`), then a header
of API column names in the order the user asked for, the data, and a copyright footer. A report
flagged as possibly incomplete is imported with a warning: its last days may still change, and
importing a later download replaces them.
"""

from __future__ import annotations

from datetime import date

from tillbook.imports.base import Column, ReadContext, Reader, Row
from tillbook.imports.cells import CellError, parse_id
from tillbook.imports.readers import cells
from tillbook.imports.readers.ads import is_total, window
from tillbook.imports.records import AdRecord, Record, Skipped

INCOMPLETE_WARNING = (
    "Microsoft marks this report “Potential Incomplete Data”: its most recent days may still "
    "change. Import a later download to replace them."
)


class MicrosoftAdsReader(Reader):
    kind = "microsoft_ads"
    label = "Microsoft Advertising campaign performance report"
    family = "ads"
    columns = (
        Column("day", ("timeperiod", "time period", "gregoriandate", "day")),
        Column("campaign", ("campaignname", "campaign name", "campaign"), required=True),
        Column("campaign_id", ("campaignid", "campaign id")),
        Column("ad_group", ("adgroupname", "ad group")),
        Column("impressions", ("impressions", "impr."), required=True),
        Column("clicks", ("clicks",), required=True),
        Column("spend", ("spend",), required=True),
        Column("conversions", ("conversions", "conv.")),
        Column("currency", ("currencycode", "currency code", "currency")),
    )

    range: tuple[date, date] | None = None

    def window(self, row: Row) -> tuple[date, date]:
        if self.range is None:  # start() refused such a file already
            raise CellError("the row has no date")
        return self.range

    def start(self, context: ReadContext) -> None:
        self.range = None
        for line, values in enumerate(context.preamble, start=1):
            text = " ".join(values).strip()
            name, _, value = text.partition(":")
            name = name.strip().lower()
            if name == "report time":
                self.range = window(value, context, line)
            elif name == "potential incomplete data" and value.strip().lower() == "true":
                context.warnings.append(INCOMPLETE_WARNING)
        if self.range is None and "day" not in context.header.index:
            raise CellError(
                "the report has no TimePeriod column and its “Report Time” is not a date "
                "range, so its days are unknown"
            )

    def read(self, row: Row, context: ReadContext) -> Record | Skipped:
        first_cell = row.values[0].strip()
        if first_cell.startswith("©") or "all rights reserved" in first_cell.lower():
            return Skipped(row.line, "copyright footer")
        if is_total(first_cell, row.get("campaign")):
            return Skipped(row.line, "total row")
        currency = cells.currency(row, "currency", fallback=context.currency)
        if row.has("day"):
            first = last = cells.day(row, "day", context)
        else:
            first, last = self.window(row)
        campaign_id, trusted = parse_id(row.get("campaign_id"))
        return AdRecord(
            line=row.line,
            platform="microsoft",
            campaign_name=cells.required(row, "campaign"),
            campaign_id=campaign_id if trusted else "",
            ad_group=row.get("ad_group"),
            first_day=first,
            last_day=last,
            currency=currency,
            spend=cells.minor(row, "spend", currency, context),
            clicks=cells.count(row, "clicks"),
            impressions=cells.count(row, "impressions"),
            conversions=cells.quantity(row, "conversions", context),
            raw=row.raw(),
            covers=self.range,
        )
