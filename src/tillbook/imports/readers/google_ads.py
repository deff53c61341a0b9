"""Google Ads: a campaign (or ad group) report downloaded as CSV.

Above the header: a title row (`Campaign report`) and the date range
(`"1 September 2026 - 30 September 2026"`). The daily variant starts with a `Day` column, the
weekly and monthly ones with `Week` or `Month` (the first day of each, a row spread over its
days within the range); without any of them each row sums the whole range. `Total: …` rows
close the file. Numbers are written `"2,140"`, `23.27%`, and `--` where a figure does not
apply.
"""

from __future__ import annotations

from datetime import date, timedelta

from tillbook.imports.base import Column, ReadContext, Reader, Row
from tillbook.imports.cells import CellError, parse_id
from tillbook.imports.readers import cells
from tillbook.imports.readers.ads import is_total, window
from tillbook.imports.records import AdRecord, Record, Skipped


class GoogleAdsReader(Reader):
    kind = "google_ads"
    label = "Google Ads campaign report"
    family = "ads"
    columns = (
        Column("day", ("day", "date")),
        Column("week", ("week",)),
        Column("month", ("month",)),
        Column("campaign", ("campaign",), required=True),
        Column("campaign_id", ("campaign id",)),
        Column("ad_group", ("ad group",)),
        Column("impressions", ("impr.", "impressions"), required=True),
        Column("clicks", ("clicks",), required=True),
        Column("currency", ("currency code", "currency")),
        Column("cost", ("cost",), required=True),
        Column("conversions", ("conversions",)),
    )
    range: tuple[date, date] | None = None

    def window(self, row: Row) -> tuple[date, date]:
        if self.range is None:  # start() refused such a file already
            raise CellError("the row has no date")
        return self.range

    def _within(self, first: date, last: date) -> tuple[date, date]:
        """A week or month cut to the report's range (its first and last may be partial)."""
        if self.range is None:
            return first, last
        first, last = max(first, self.range[0]), min(last, self.range[1])
        if last < first:
            raise CellError("the row's week or month is outside the report's date range")
        return first, last

    def start(self, context: ReadContext) -> None:
        self.range = None
        for line, values in enumerate(context.preamble, start=1):
            for value in values:
                found = window(value, context, line)
                if found:
                    self.range = found
        segmented = {"day", "week", "month"} & set(context.header.index)
        if self.range is None and not segmented:
            raise CellError(
                "the report has neither a Day column nor a date range above the header, so its "
                "days are unknown; download it again with the date range row or by day"
            )

    def read(self, row: Row, context: ReadContext) -> Record | Skipped:
        if is_total(row.get("day"), row.get("campaign"), row.values[0]):
            return Skipped(row.line, "total row")
        currency = cells.currency(row, "currency", fallback=context.currency)
        if row.has("day"):
            first = last = cells.day(row, "day", context)
        elif row.has("week"):
            first = cells.day(row, "week", context)
            first, last = self._within(first, first + timedelta(days=6))
        elif row.has("month"):
            first = cells.day(row, "month", context).replace(day=1)
            following = (first + timedelta(days=31)).replace(day=1)
            first, last = self._within(first, following - timedelta(days=1))
        else:
            first, last = self.window(row)
        campaign_id, trusted = parse_id(row.get("campaign_id"))
        return AdRecord(
            line=row.line,
            platform="google",
            campaign_name=cells.required(row, "campaign"),
            campaign_id=campaign_id if trusted else "",
            ad_group=row.get("ad_group"),
            first_day=first,
            last_day=last,
            currency=currency,
            spend=cells.minor(row, "cost", currency, context),
            clicks=cells.count(row, "clicks"),
            impressions=cells.count(row, "impressions"),
            conversions=cells.quantity(row, "conversions", context),
            raw=row.raw(),
            covers=self.range,
        )
