"""PayPal: the activity download (Reports → Activity download), in English or German.

Every value is quoted; users choose their columns, so many files are subsets. Fees are
negative. German files write `Abgeschlossen`, `-24,90` and `dd.mm.yyyy`. A refund points to
its payment through `Reference Txn ID`. Only completed rows count, and currency conversions,
holds and their releases move money between balances without being sales.

A withdrawal takes money out of the balance. A withdrawal row that puts money back (a
"Reversal of General Account Withdrawal": the bank returned it, or it was cancelled) is never a
payout of its own: where its `Reference Txn ID` names the withdrawal, that payout is marked as
never arrived; without one it stays a balance line, and no payout is guessed at.
"""

from __future__ import annotations

from typing import ClassVar

from tillbook.imports.base import Column, ReadContext, Reader, Row
from tillbook.imports.cells import CellError
from tillbook.imports.dates import parse_datetime, zone_named
from tillbook.imports.readers import cells
from tillbook.imports.readers.cells import ColumnError
from tillbook.imports.records import LedgerRecord, Movement, Record, Skipped

GERMAN = (
    "datum", "uhrzeit", "zeitzone", "typ", "beschreibung", "währung", "brutto", "entgelt",
    "gebühr", "netto", "transaktionscode", "zugehöriger transaktionscode",
    "absender e-mail-adresse", "rechnungsnummer", "guthaben", "betreff", "hinweis",
    "auswirkung auf guthaben",
)  # fmt: skip

COMPLETED = frozenset({"completed", "abgeschlossen", "terminé", "completado"})
# A payment PayPal later refunded or reversed is marked so on its own row; what was taken back
# is a row of its own (a refund, a chargeback), completed. The payment still happened.
TAKEN_BACK = frozenset(
    {"refunded", "partially refunded", "reversed", "erstattet", "teilweise erstattet"}
)
# Types are matched by words they contain, in English and German.
CONVERSION_WORDS = ("currency conversion", "währungsumrechnung")
# A cart's items: rows of their own with the payment's Transaction ID, the money counted once
# on the payment's row (Balance Impact "Memo", where the download has that column).
CART_ITEM_WORDS = ("shopping cart item", "warenkorbartikel")
HOLD_WORDS = ("hold", "release", "einbehalt", "freigabe", "authorization", "autorisierung")
REFUND_WORDS = ("refund", "rückzahlung", "rückerstattung", "erstattung")
# A buyer's bank took a payment back (and PayPal charged for it), or gave it back: counted as
# Stripe's disputes are (insights.ledger: refunds and fees).
CHARGEBACK_FEE_WORDS = ("chargeback fee", "rückbuchungsgebühr")
CHARGEBACK_WORDS = ("chargeback", "rückbuchung", "payment reversal")
PAYOUT_WORDS = ("withdrawal", "withdraw", "abbuchung", "auszahlung")
CANCEL_WORDS = ("cancel", "storn")  # a cancelled withdrawal, else one that failed or came back
TRANSFER_WORDS = ("deposit", "transfer", "einzahlung", "überweisung", "gutschrift")
PAYMENT_WORDS = ("payment", "zahlung")


class PaypalActivityReader(Reader):
    kind = "paypal_activity"
    label = "PayPal activity download"
    family = "ledger"
    comma_languages = frozenset({"de"})
    localised: ClassVar[dict[str, tuple[str, ...]]] = {"de": GERMAN}
    columns = (
        Column("date", ("date", "datum"), required=True),
        Column("time", ("time", "uhrzeit")),
        Column("zone", ("timezone", "time zone", "zeitzone")),
        Column("name", ("name",)),
        # The "balance affecting" download (German "Monatlicher Kontoauszug") names the type
        # Description and has no Status: every row of it is completed.
        Column("type", ("type", "typ", "description", "beschreibung"), required=True),
        Column("status", ("status",)),
        Column("currency", ("currency", "währung"), required=True),
        Column("gross", ("gross", "brutto"), required=True),
        Column("fee", ("fee", "entgelt", "gebühr")),
        Column("net", ("net", "netto")),
        Column("from_email", ("from email address", "absender e-mail-adresse")),
        Column("transaction_id", ("transaction id", "transaktionscode"), required=True),
        Column(
            "reference_id",
            ("reference txn id", "zugehöriger transaktionscode", "referenz-transaktionscode"),
        ),
        Column("invoice", ("invoice number", "invoice id", "rechnungsnummer")),
        Column("subject", ("subject", "betreff")),
        Column("impact", ("balance impact", "auswirkung auf guthaben")),
    )

    def read(self, row: Row, context: ReadContext) -> Record | Skipped:
        status = row.get("status")
        if status and status.lower() not in COMPLETED:
            named = row.get("type").lower()
            if status.lower() not in TAKEN_BACK or any(
                word in named for word in (*REFUND_WORDS, *CHARGEBACK_WORDS)
            ):
                return Skipped(row.line, f"status “{status}” (only completed rows count)")
        kind = cells.required(row, "type")
        lowered = kind.lower()
        if any(word in lowered for word in CONVERSION_WORDS):
            return Skipped(row.line, "currency conversion (not a sale)")
        if any(word in lowered for word in HOLD_WORDS):
            return Skipped(row.line, "hold or release (not a sale)")
        if any(word in lowered for word in CART_ITEM_WORDS):
            return Skipped(row.line, "shopping cart item (the payment's own row counts)")
        if row.get("impact").lower() == "memo":
            return Skipped(row.line, "memo row (no effect on the balance)")
        currency = cells.currency(row, "currency")
        gross = cells.minor(row, "gross", currency, context)
        fee = -cells.minor(row, "fee", currency, context)  # PayPal writes fees negative
        net = cells.minor(row, "net", currency, context) if row.get("net") else gross - fee
        if gross - fee != net:
            raise ColumnError("Net", "is not Gross plus Fee; the file may be damaged")
        try:
            zone = zone_named(row.get("zone")) if row.get("zone") else context.zone
        except CellError as error:
            raise ColumnError("TimeZone", str(error)) from None
        try:
            when = parse_datetime(
                f"{cells.required(row, 'date')} {row.get('time')}", row.line, context.dates, zone
            )
        except CellError as error:
            raise ColumnError("Date", str(error)) from None
        reference = cells.required(row, "transaction_id")
        record = LedgerRecord(
            line=row.line,
            provider="paypal",
            movement=Movement.OTHER,
            reference=reference,
            currency=currency,
            gross=gross,
            fee=fee,
            net=net,
            occurred_at=when,
            customer_email=row.get("from_email"),
            description=row.get("subject") or row.get("name") or kind,
            raw=row.raw(),
        )
        if any(word in lowered for word in CHARGEBACK_FEE_WORDS):
            record.movement = Movement.FEE
        elif any(word in lowered for word in CHARGEBACK_WORDS):
            record.movement = Movement.ADJUSTMENT
        elif any(word in lowered for word in REFUND_WORDS):
            if gross > 0:  # a refund the business received, of something it bought
                return record
            record.movement = Movement.REFUND
            record.refund_reference = reference
            record.payment_reference = row.get("reference_id")
        elif any(word in lowered for word in PAYOUT_WORDS):
            if gross < 0:
                record.movement = Movement.PAYOUT
                record.payout_reference = reference
                record.available_on = when.date()
            elif withdrawal := row.get("reference_id"):
                cancelled = any(word in lowered for word in CANCEL_WORDS)
                record.movement = Movement.PAYOUT_CANCEL if cancelled else Movement.PAYOUT_FAILURE
                record.reversed_payout = withdrawal
        elif any(word in lowered for word in TRANSFER_WORDS):
            record.movement = Movement.TRANSFER
        elif any(word in lowered for word in PAYMENT_WORDS) and gross > 0:
            record.movement = Movement.SALE
            record.payment_reference = reference
        return record
