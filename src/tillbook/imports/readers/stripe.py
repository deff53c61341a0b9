"""Stripe: the balance history export, the payments export and the itemized reports.

Amounts are in major units with a dot. Balance history signs rows as the balance sees them
(refunds and payouts negative) with a positive Fee; the payments export has one row per
charge with "Amount Refunded"; itemized reports (balance change from activity, payout
reconciliation) have stable snake_case columns chosen by the user, `charge_id` tying a refund
to its charge and `automatic_payout_id` a line to its payout.
"""

from __future__ import annotations

import re
from datetime import UTC, date, tzinfo
from typing import ClassVar

from tillbook.core.money import currency_precision, processor_precision
from tillbook.imports.base import (
    CellError,
    Column,
    ColumnError,
    ReadContext,
    Reader,
    Row,
    normalise_header,
)
from tillbook.imports.readers import cells
from tillbook.imports.records import PAYOUT_REVERSALS, LedgerRecord, Movement, Record, Skipped

BALANCE_TYPES = {
    "charge": Movement.SALE,
    "payment": Movement.SALE,
    "refund": Movement.REFUND,
    "payment_refund": Movement.REFUND,
    "payout": Movement.PAYOUT,
    "payout_cancel": Movement.PAYOUT_CANCEL,
    "payout_failure": Movement.PAYOUT_FAILURE,
    "stripe_fee": Movement.FEE,
    "stripe_fx_fee": Movement.FEE,  # Stripe's currency conversion fee
    "application_fee": Movement.FEE,
    "tax_fee": Movement.FEE,
    "network_cost": Movement.FEE,
    "adjustment": Movement.ADJUSTMENT,
    "dispute": Movement.ADJUSTMENT,
    # A refund the customer's bank could not take (a closed account, a lost card): Stripe put
    # its money back in the balance, so it lowers the refunds as a won dispute does.
    "refund_failure": Movement.REFUND_FAILURE,
    # A bank debit or other delayed payment that failed or was reversed after its `payment`
    # line: the money taken back, as a chargeback is.
    "payment_failure_refund": Movement.ADJUSTMENT,
    "payment_reversal": Movement.ADJUSTMENT,
    "transfer": Movement.TRANSFER,
    "transfer_refund": Movement.TRANSFER,
    "topup": Movement.TRANSFER,
    "reserve_transaction": Movement.TRANSFER,
    "reserved_funds": Movement.TRANSFER,
}
REPORTING_CATEGORIES = {
    "charge": Movement.SALE,
    "refund": Movement.REFUND,
    "refund_failure": Movement.REFUND_FAILURE,
    "payout": Movement.PAYOUT,
    "payout_reversal": Movement.PAYOUT_FAILURE,  # failures and cancellations alike
    "fee": Movement.FEE,
    "network_cost": Movement.FEE,
    "tax": Movement.FEE,
    "transfer": Movement.TRANSFER,
    "transfer_reversal": Movement.TRANSFER,
    "topup": Movement.TRANSFER,
    "topup_reversal": Movement.TRANSFER,
    "connect_reserved_funds": Movement.TRANSFER,
    "risk_reserved_funds": Movement.TRANSFER,
}
_METADATA = re.compile(r"^(.+?) \(metadata\)$", re.IGNORECASE)
_PAYMENT_METADATA = re.compile(r"^payment_metadata\[(.+)\]$", re.IGNORECASE)


def _metadata_columns(cells_: list[str], pattern: re.Pattern[str]) -> dict[str, int]:
    found = {}
    for position, cell in enumerate(cells_):
        match = pattern.match(cell.strip())
        if match:
            found[match[1].strip()] = position
    return found


def _metadata(row: Row) -> dict[str, str]:
    return {
        key: row.values[position].strip()
        for key, position in row.header.extra.items()
        if position < len(row.values) and row.values[position].strip()
    }


def _checked_fee(gross: int, fee: int, net: int, currency: str, label: str) -> int:
    """The fee, once net = gross − fee is seen to hold.

    Where Stripe states finer amounts than Tillbook keeps (pesos to the hundredth), the three
    were rounded each on its own and may disagree by one unit: the fee is then what lies
    between the gross and the net, the money that moved.
    """
    if gross - fee == net:
        return fee
    if processor_precision(currency) > currency_precision(currency) and abs(gross - fee - net) == 1:
        return gross - net
    raise ColumnError(label, "is not the amount less the fee; the file may be damaged")


class StripeBalanceReader(Reader):
    kind = "stripe_balance"
    label = "Stripe balance history export"
    family = "ledger"
    columns = (
        Column("id", ("id",), required=True),
        Column("type", ("type",), required=True),
        Column("source", ("source",)),
        Column("amount", ("amount",), required=True),
        Column("fee", ("fee",)),
        Column("net", ("net",)),
        Column("currency", ("currency",), required=True),
        Column("created", ("created (utc)", "created"), required=True),
        Column("available_on", ("available on (utc)", "available on")),
        Column("description", ("description",)),
        Column("transfer", ("transfer",)),
        Column("transfer_date", ("transfer date (utc)", "transfer date")),
        Column("status", ("status",)),
    )
    # The last "Transfer Date" read and its day: a payout's lines, next to each other, share it.
    _transfer_day: tuple[str, date | None] = ("", None)

    def extra_columns(self, normalised: list[str], cells_: list[str]) -> dict[str, int]:
        return _metadata_columns(cells_, _METADATA)

    def read(self, row: Row, context: ReadContext) -> Record | Skipped:
        # The hot path of a million-row import: cells are read straight from the row's texts,
        # and the helpers (which name the column in their messages) only for what is missing.
        texts = row.texts
        get = texts.get
        kind = (get("type") or cells.required(row, "type")).lower()
        status = get("status", "").lower()
        if status and status not in ("available", "pending"):
            return Skipped(row.line, f"status “{row.get('status')}” (not in the balance)")
        currency = cells.currency(row, "currency")
        gross = cells.minor(row, "amount", currency, context)
        if get("fee") or not get("net"):
            fee = cells.minor(row, "fee", currency, context)
            net = cells.minor(row, "net", currency, context) if get("net") else gross - fee
            fee = _checked_fee(gross, fee, net, currency, "Net")
        else:  # a report without the Fee column: the fee is what lies between
            net = cells.minor(row, "net", currency, context)
            fee = gross - net
        movement = BALANCE_TYPES.get(kind, Movement.OTHER)
        source = get("source", "")
        record = LedgerRecord(
            line=row.line,
            provider="stripe",
            movement=movement,
            reference=get("id") or cells.required(row, "id"),
            currency=currency,
            gross=gross,
            fee=fee,
            net=net,
            occurred_at=cells.moment(row, "created", context, UTC),
            available_on=cells.day(row, "available_on", context) if get("available_on") else None,
            payout_reference=get("transfer", ""),
            description=get("description", ""),
            metadata=_metadata(row) if row.header.extra else {},
            raw=row.raw(),
        )
        if movement is Movement.SALE:
            record.payment_reference = source or record.reference
        elif movement is Movement.REFUND:
            # The balance export names the refund (re_…) but not the charge it refunds.
            record.refund_reference = source or record.reference
        elif movement is Movement.PAYOUT:
            # Its payout id is the Source; a file exported without that column may still name
            # it as the Transfer. Keyed by the line's own id, the payout would be counted
            # again as the one its lines name.
            record.payout_reference = source or record.payout_reference
            if not record.payout_reference:
                raise CellError(
                    "A payout's row needs its payout id (po_…) in the Source column: export "
                    "the balance history again with that column"
                )
            record.available_on = cells.optional_day(row, "transfer_date", context) or (
                record.available_on
            )
            return record
        elif movement in PAYOUT_REVERSALS:
            # Source is the payout that failed; Transfer, as for any line, the one that carries
            # the returned money out again.
            record.reversed_payout = source
        elif movement is Movement.REFUND_FAILURE:
            record.returned_refund = source  # the refund (re_…) that came back
        if record.payout_reference and get("transfer_date"):
            # The day its payout arrives: the payout's own date when the file lacks its row.
            text = texts["transfer_date"]
            if self._transfer_day[0] != text:
                self._transfer_day = (text, cells.optional_day(row, "transfer_date", context))
            record.payout_date = self._transfer_day[1]
        return record


class StripePaymentsReader(Reader):
    kind = "stripe_payments"
    label = "Stripe payments export"
    family = "ledger"
    columns = (
        Column("id", ("id",), required=True),
        Column("created", ("created date (utc)", "created (utc)", "created"), required=True),
        Column("amount", ("amount",), required=True),
        Column("amount_refunded", ("amount refunded",), required=True),
        Column("currency", ("currency",), required=True),
        Column("captured", ("captured",)),
        Column("converted_amount", ("converted amount",)),
        Column("converted_refunded", ("converted amount refunded",)),
        Column("converted_currency", ("converted currency",)),
        Column("fee", ("fee",)),
        Column("tax", ("tax",)),
        Column("status", ("status",), required=True),
        Column("customer_email", ("customer email",)),
        Column("description", ("description",)),
        Column("payment_intent_id", ("paymentintent id", "payment intent id")),
    )
    SALE_STATUSES: ClassVar[frozenset[str]] = frozenset(
        {"paid", "succeeded", "refunded", "partially refunded", "partially_refunded"}
    )

    def extra_columns(self, normalised: list[str], cells_: list[str]) -> dict[str, int]:
        return _metadata_columns(cells_, _METADATA)

    def read(self, row: Row, context: ReadContext) -> Record | Skipped:
        status = row.get("status").lower()
        if status not in self.SALE_STATUSES:
            return Skipped(row.line, f"status “{row.get('status')}” (not a completed payment)")
        if row.get("captured").lower() == "false":
            return Skipped(row.line, "not captured (an authorisation, not a sale)")
        currency = cells.currency(row, "currency")
        gross = cells.minor(row, "amount", currency, context)
        refunded = cells.minor(row, "amount_refunded", currency, context)
        tax = cells.minor(row, "tax", currency, context)
        converted = row.get("converted_currency").upper()
        if converted and converted != currency:
            # Paid in another currency than the account's (a EUR card on a USD account): the
            # sale is what reached the balance, as the balance history has it (its fee and its
            # refunds are in that currency too); the customer's own amount stays in the row.
            if not row.get("converted_amount"):
                raise ColumnError(
                    "Converted Amount",
                    f"is empty, but the charge was converted to {converted}; export the "
                    "payments with the Converted Amount column",
                )
            currency = cells.currency(row, "converted_currency")
            gross = cells.minor(row, "converted_amount", currency, context)
            if refunded and not row.get("converted_refunded"):
                raise ColumnError(
                    "Converted Amount Refunded",
                    f"is empty, but the charge was refunded in {converted}; export the "
                    "payments with the Converted Amount Refunded column",
                )
            refunded = cells.minor(row, "converted_refunded", currency, context)
            tax = 0  # stated in the customer's currency only
        fee = cells.minor(row, "fee", currency, context)  # Stripe states it in the balance's
        reference = cells.required(row, "id")
        return LedgerRecord(
            line=row.line,
            provider="stripe",
            movement=Movement.SALE,
            reference=reference,
            payment_reference=reference,
            payment_alias=row.get("payment_intent_id")
            if row.get("payment_intent_id") != reference
            else "",
            currency=currency,
            gross=gross,
            fee=fee,
            net=gross - fee,
            tax=tax,
            occurred_at=cells.moment(row, "created", context, UTC),
            customer_email=row.get("customer_email"),
            description=row.get("description"),
            refunded=refunded,
            is_balance_line=False,
            metadata=_metadata(row),
            raw=row.raw(),
        )


class StripeItemizedReader(Reader):
    kind = "stripe_itemized"
    label = "Stripe itemized balance or payout reconciliation report"
    family = "ledger"
    columns = (
        Column("id", ("balance transaction id",), required=True),
        Column("created", ("created utc", "created"), required=True),
        Column("available_on", ("available on utc", "available on")),
        Column("currency", ("currency",), required=True),
        Column("gross", ("gross",), required=True),
        Column("fee", ("fee",)),
        Column("net", ("net",), required=True),
        Column("category", ("reporting category",), required=True),
        Column("description", ("description",)),
        Column("source_id", ("source id",)),
        Column("charge_id", ("charge id",)),
        Column("payment_intent_id", ("payment intent id",)),
        Column("customer_email", ("customer email",)),
        Column("payout_id", ("automatic payout id",)),
        Column(
            "payout_date",
            ("automatic payout effective at utc", "automatic payout effective at"),
        ),
    )

    def extra_columns(self, normalised: list[str], cells_: list[str]) -> dict[str, int]:
        return _metadata_columns(cells_, _PAYMENT_METADATA)

    created_zone: tzinfo = UTC

    def start(self, context: ReadContext) -> None:
        # "created_utc" is UTC; a report whose columns have only "created" gives times in the
        # time zone it was run in, which Stripe's dashboard takes from the account's settings:
        # the business's own zone is the best known.
        header = context.header
        created = normalise_header(header.headers[header.index["created"]])
        self.created_zone = UTC if created.endswith("utc") else context.zone

    def read(self, row: Row, context: ReadContext) -> Record | Skipped:
        currency = cells.currency(row, "currency")
        gross = cells.minor(row, "gross", currency, context)
        net = cells.minor(row, "net", currency, context)
        if row.get("fee"):
            fee = cells.minor(row, "fee", currency, context)
            fee = _checked_fee(gross, fee, net, currency, "net")
        else:  # a report without the fee column: the fee is what lies between
            fee = gross - net
        category = cells.required(row, "category").lower()
        movement = REPORTING_CATEGORIES.get(category, Movement.ADJUSTMENT)
        source = row.get("source_id")
        intent = row.get("payment_intent_id")
        record = LedgerRecord(
            line=row.line,
            provider="stripe",
            movement=movement,
            reference=cells.required(row, "id"),
            currency=currency,
            gross=gross,
            fee=fee,
            net=net,
            occurred_at=cells.moment(row, "created", context, self.created_zone),
            available_on=cells.optional_day(row, "available_on", context),
            payout_reference=row.get("payout_id"),
            payout_date=cells.optional_day(row, "payout_date", context),
            customer_email=row.get("customer_email"),
            description=row.get("description"),
            metadata=_metadata(row),
            raw=row.raw(),
        )
        # A payment is known by its charge (ch_…, py_…), as the balance history and payments
        # exports name it; its PaymentIntent (pi_…, how Tillbook's checkouts know it) too.
        if movement is Movement.SALE:
            charge = row.get("charge_id") or source or intent
            record.payment_reference = charge or record.reference
        elif movement is Movement.REFUND:
            record.refund_reference = source or record.reference
            charge = record.payment_reference = row.get("charge_id") or intent
        elif movement is Movement.PAYOUT:
            charge = ""
            record.payout_reference = source or row.get("payout_id") or record.reference
        elif movement in PAYOUT_REVERSALS:
            charge = ""
            record.reversed_payout = source
        elif movement is Movement.REFUND_FAILURE:
            charge = ""
            record.returned_refund = source
        else:
            charge = ""
        if charge and intent and intent != charge:
            record.payment_alias = intent
        return record
