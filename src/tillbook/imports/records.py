"""What the readers produce: one neutral record per row, whatever the platform wrote."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum


class Movement(StrEnum):
    """What a processor row did to the balance. Only SALE rows are sales."""

    SALE = "sale"
    REFUND = "refund"
    PAYOUT = "payout"
    # A payout that failed or was cancelled: its money came back to the balance (and goes out
    # with a later payout); the payout itself never arrived.
    PAYOUT_FAILURE = "payout_failure"
    PAYOUT_CANCEL = "payout_cancel"
    FEE = "fee"
    ADJUSTMENT = "adjustment"
    # A refund the customer's bank could not take: its money back in the balance. Counted as a
    # negative refund, unless the refund it returns was never counted (Tillbook knows it as
    # failed, or pending) or its coming back already was (Stripe's webhook said so first).
    REFUND_FAILURE = "refund_failure"
    TRANSFER = "transfer"
    OTHER = "other"


PAYOUT_REVERSALS = frozenset({Movement.PAYOUT_FAILURE, Movement.PAYOUT_CANCEL})


@dataclass(slots=True)
class LedgerRecord:
    """One processor row, signed as the balance sees it.

    `gross` is what the customer paid (negative for refunds and payouts), `fee` what the
    processor kept (positive is a cost; a returned fee is negative) and `net` = gross − fee.
    References are the processor's own ids, kept as strings.
    """

    line: int
    provider: str  # "stripe", "square", "paypal"
    movement: Movement
    reference: str  # this row's own id (balance transaction, PayPal transaction, Square event)
    currency: str
    gross: int
    fee: int
    net: int
    occurred_at: datetime
    payment_reference: str = ""  # the sale's payment id; for a refund the refunded payment's
    # Another id the processor gives the same payment (a Stripe charge's PaymentIntent, which
    # is how Tillbook's own checkouts know it): a payment stored under it is this one.
    payment_alias: str = ""
    refund_reference: str = ""  # a refund's own id
    payout_reference: str = ""  # the payout this line went out in; a payout's own id
    reversed_payout: str = ""  # for a payout's failure or cancellation: that payout's id
    returned_refund: str = ""  # for a refund's failure: that refund's id
    available_on: date | None = None
    # The day the payout that carries this line arrived, where the row says (Stripe's payout
    # reconciliation report); a payout met only through its lines takes it as its arrival.
    payout_date: date | None = None
    tip: int = 0
    tax: int = 0
    # The payments export only says how much of a charge was refunded, not by which refunds,
    # and its rows are payments, not balance lines.
    refunded: int = 0
    is_balance_line: bool = True
    customer_email: str = ""
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)
    # On PostgreSQL, the COPY text of the columns of its balance line, and of its sale's
    # payment, that the row alone decides: made in the thread that reads the file
    # (imports/landing.py, copy_texts_prepare). What it is made from (amounts, times, its own
    # ids, texts, raw values; not the refund and payout it names, nor its movement) is as
    # read: code that changed any of it after reading would have to clear the text.
    line_copy: str = ""
    sale_copy: str = ""


@dataclass(slots=True)
class AdRecord:
    """One ad-report row: a campaign (or ad set) over a day or a window of days."""

    line: int
    platform: str  # "google", "microsoft", "meta"
    campaign_name: str
    campaign_id: str  # "" when the file has none or Excel mangled it
    ad_group: str  # ad set / ad group name; "" for campaign-level rows
    first_day: date
    last_day: date
    currency: str
    spend: int  # minor units
    clicks: int
    impressions: int
    conversions: Decimal
    raw: dict[str, str] = field(default_factory=dict)
    # The days the report as a whole speaks for (its stated date range), when it says: a daily
    # report leaves out days without spend, which it still reports as nothing spent.
    covers: tuple[date, date] | None = None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A row that is read but not imported, with the reason the owner sees."""

    line: int
    reason: str


Record = LedgerRecord | AdRecord
