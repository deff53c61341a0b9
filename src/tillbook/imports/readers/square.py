"""Square: the transactions CSV from Square Dashboard → Transactions → Export.

Money is written with the currency symbol (`$1,234.50`, `-$0.95`) and no currency column: the
symbol says the currency where it can (£, €, ¥), and `$` is the business's currency when that
is a dollar Square settles in. Fees are negative. A row is a payment or a refund
(`Event Type`); the date's order follows the seller's locale and is learned from the file.
Older exports (41 columns) lack some columns; every column here is found by name.
"""

from __future__ import annotations

import re

from tillbook.core.money import is_known_currency
from tillbook.imports.base import Column, ReadContext, Reader, Row
from tillbook.imports.cells import CellError, is_empty
from tillbook.imports.dates import parse_datetime, zone_named
from tillbook.imports.readers import cells
from tillbook.imports.readers.cells import ColumnError
from tillbook.imports.records import LedgerRecord, Movement, Record, Skipped

COMPLETE = frozenset({"complete", "completed", ""})
# The symbols Square writes for the currencies it settles in (the US, Canada, Australia, Japan,
# the UK and the euro countries). "$" alone cannot say which dollars.
SYMBOLS = {
    "$": ("USD", "CAD", "AUD"),
    "US$": ("USD",),
    "CA$": ("CAD",),
    "AU$": ("AUD",),
    "¥": ("JPY",),
    "£": ("GBP",),
    "€": ("EUR",),
}
_NOT_SYMBOL = re.compile(r"[\d\s.,'()+\-\u00a0\u202f]")


def written_currency(text: str, business_currency: str) -> str:
    """The currency an amount such as "€12.00" is in: the business's where the symbol fits
    it (or there is none), otherwise the one currency the symbol names."""
    symbol = _NOT_SYMBOL.sub("", text)
    if not symbol or is_empty(text):
        return business_currency
    if re.fullmatch(r"[A-Z]{3}", symbol):  # "EUR 12.00"
        if not is_known_currency(symbol):
            raise ColumnError("Total Collected", f"“{symbol}” is not a currency code")
        return symbol
    known = SYMBOLS.get(symbol)
    if known is None:
        if not re.search(r"\d", text):
            return business_currency  # not an amount at all: its reader says so
        raise ColumnError(
            "Total Collected",
            f"“{text}” is in a currency Square does not settle in; "
            "export the file again from the Square account it belongs to",
        )
    if business_currency in known:
        return business_currency
    if len(known) == 1:
        return known[0]
    raise ColumnError(
        "Total Collected",
        f"“{text}” is in dollars, but your business counts in {business_currency}: "
        "Tillbook cannot tell which dollars these are",
    )


class SquareTransactionsReader(Reader):
    kind = "square_transactions"
    label = "Square transactions CSV"
    family = "ledger"
    columns = (
        Column("date", ("date",), required=True),
        Column("time", ("time",)),
        Column("zone", ("time zone",)),
        Column("gross_sales", ("gross sales",), required=True),
        Column("tax", ("tax",)),
        Column("tip", ("tip",)),
        Column("total", ("total collected",), required=True),
        Column("fees", ("fees",)),
        Column("net_total", ("net total",)),
        Column("transaction_id", ("transaction id",), required=True),
        Column("payment_id", ("payment id",)),
        Column("description", ("description",)),
        Column("event_type", ("event type",)),
        Column("customer_name", ("customer name",)),
        Column("deposit_id", ("deposit id",)),
        Column("deposit_date", ("deposit date",)),
        Column("status", ("transaction status",)),
    )

    def read(self, row: Row, context: ReadContext) -> Record | Skipped:
        status = row.get("status")
        if status.lower() not in COMPLETE:
            return Skipped(row.line, f"status “{status}” (not a completed transaction)")
        event_type = row.get("event_type")
        if event_type and event_type.lower() not in ("payment", "refund"):
            return Skipped(row.line, f"event type “{event_type}” (not a payment)")
        currency = written_currency(row.get("total"), context.currency)
        total = cells.minor(row, "total", currency, context)
        fee = -cells.minor(row, "fees", currency, context)  # Square writes fees negative
        net = cells.minor(row, "net_total", currency, context) if row.has("net_total") else None
        if net is None:
            net = total - fee
        if total - fee != net:
            raise ColumnError("Net Total", "is not Total Collected plus Fees")
        try:
            zone = zone_named(row.get("zone")) if row.get("zone") else context.zone
        except CellError as error:
            raise ColumnError("Time Zone", str(error)) from None
        text = f"{cells.required(row, 'date')} {row.get('time')}".strip()
        try:
            when = parse_datetime(text, row.line, context.dates, zone)
        except CellError as error:
            raise ColumnError("Date", str(error)) from None
        event = row.get("event_type").lower() or ("refund" if total < 0 else "payment")
        transaction = cells.required(row, "transaction_id")
        payment = row.get("payment_id") or transaction
        record = LedgerRecord(
            line=row.line,
            provider="square",
            movement=Movement.SALE,
            reference=payment,
            payment_reference=payment,
            currency=currency,
            gross=total,
            fee=fee,
            net=net,
            tip=cells.minor(row, "tip", currency, context),
            tax=cells.minor(row, "tax", currency, context),
            occurred_at=when,
            payout_reference=row.get("deposit_id"),
            available_on=cells.optional_day(row, "deposit_date", context),
            description=row.get("description"),
            raw=row.raw(),
        )
        if event == "refund":
            # A refund row carries the refunded payment's id and its own transaction id.
            record.movement = Movement.REFUND
            record.reference = f"{transaction}:refund:{payment}"
            record.refund_reference = record.reference
            record.tip = record.tax = 0
        return record
