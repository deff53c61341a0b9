"""Rollups: small tables the metrics read instead of scanning every payment."""

from __future__ import annotations

from typing import ClassVar

from django.db import models

from tillbook.core.scoping import TenantModel


class CustomerFirstPayment(TenantModel):
    """When each customer (by lower-cased email) first paid. "New customer" and "CAC" ask
    this for every period; without it each question scans every payment the business ever
    had. Kept up to date by insights.rollups.customer_firsts_refresh."""

    email_key = models.CharField(max_length=254)
    first_at = models.DateTimeField()
    # The UTM campaign of that first payment: the campaign that acquired the customer (CAC).
    first_utm = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["business", "email_key"], name="customerfirst_unique"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["business", "first_at"], name="customerfirst_first_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.email_key} since {self.first_at:%Y-%m-%d}"


class CustomerDay(TenantModel):
    """Each day (business zone) each customer paid, with the day they paid before it.

    A customer who came back in a range has exactly one day in it whose previous paying day
    lies before the range, so a period's returning customers are a plain count over a narrow
    index, not a DISTINCT over hundreds of thousands of emails. Of the two indexes, one serves
    short ranges (few days in it), the other long ones (few days whose previous lies before)."""

    day = models.DateField()
    email_key = models.CharField(max_length=254)
    previous_day = models.DateField(null=True, blank=True)  # None on the first paying day

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["business", "day", "email_key"], name="customerday_unique"
            ),
        ]
        indexes: ClassVar = [
            models.Index(
                fields=["business", "day", "previous_day"], name="customerday_previous_idx"
            ),
            models.Index(
                fields=["business", "previous_day", "day"], name="customerday_returning_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email_key} on {self.day}"


class CustomerValue(TenantModel):
    """What each customer (by lower-cased email) has paid in one currency: their succeeded
    payments and their amount with tips, less what was refunded of them. Summed by the month
    of the customer's first payment it is the cohort table, which otherwise groups every
    payment the business ever had on each view. Kept up to date by
    insights.rollups.customer_values_refresh."""

    email_key = models.CharField(max_length=254)
    currency = models.CharField(max_length=3)
    # The customer's first payment in any currency (the same on each of their rows): its
    # month is their cohort, as CustomerFirstPayment dates "new customers".
    first_at = models.DateTimeField()
    orders = models.IntegerField()
    revenue = models.BigIntegerField()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["business", "email_key", "currency"], name="customervalue_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email_key} in {self.currency}"


class RollupWatermark(TenantModel):
    """How far a rollup has read the payments table (by id)."""

    name = models.CharField(max_length=50)
    last_payment_id = models.BigIntegerField(default=0)
    last_refund_id = models.BigIntegerField(default=0)
    last_line_id = models.BigIntegerField(default=0)
    # The zone the daily rows were cut in; a business that moves zone is rebuilt.
    zone = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["business", "name"], name="rollupwatermark_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} at payment {self.last_payment_id}"


class RollupReread(TenantModel):
    """A payment a rollup must read again: it changed what it counts after the watermark
    passed it (a fee learnt later, a late success). Written in the same transaction as the
    change, so it is never lost; the refresh of rollup `name` lowers its watermark below the
    payment and deletes the row. With `line_id`, a balance line of the payment was linked to it
    since it was read (a refund's imported line): the daily ledger reads it, and its day,
    again."""

    name = models.CharField(max_length=50)
    payment_id = models.BigIntegerField()
    line_id = models.BigIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name}: read payment {self.payment_id} again"


class DailyLedger(TenantModel):
    """One day's money per currency and UTM campaign, in the business's zone.

    The dashboard sums at most a few thousand of these rows instead of every payment, refund
    and balance line of the range. Refreshed by insights.rollups for the days that new rows
    touch; `utm_campaign` is "" for payments without one.
    """

    day = models.DateField()
    currency = models.CharField(max_length=3)
    utm_campaign = models.CharField(max_length=300, blank=True)
    gross = models.BigIntegerField(default=0)  # amount + tip of succeeded payments
    tips = models.BigIntegerField(default=0)
    tax = models.BigIntegerField(default=0)
    fees = models.BigIntegerField(default=0)  # processor fees on those payments
    orders = models.IntegerField(default=0)
    refunds = models.BigIntegerField(default=0)  # succeeded refunds made that day
    # Fee lines' cost (Radar, account fees) and the fees on adjustment lines (a dispute's).
    fee_lines = models.BigIntegerField(default=0)
    returned_fees = models.BigIntegerField(default=0)  # fees given back with refunds (≤ 0)
    unlinked_refunds = models.BigIntegerField(default=0)  # refund lines with no Refund row
    # Taken back by chargebacks and other processor adjustments (a won dispute gives it back,
    # so a day can be negative); the dispute fees are in fee_lines.
    adjustments = models.BigIntegerField(default=0, db_default=0)
    # Refunds (made any day) of the payments made this day: what attribution subtracts.
    refunds_of_sales = models.BigIntegerField(default=0)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["business", "day", "currency", "utm_campaign"], name="dailyledger_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.currency} {self.utm_campaign or '-'}"


class PayoutContents(TenantModel):
    """What one payout carried, summed from its balance lines when they arrive:
    amount = sales − refunds − fees + other."""

    payout = models.OneToOneField(
        "payments.Payout", on_delete=models.CASCADE, related_name="insights_contents"
    )
    sales = models.BigIntegerField(default=0)
    refunds = models.BigIntegerField(default=0)
    fees = models.BigIntegerField(default=0)
    other = models.BigIntegerField(default=0)
    lines = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"contents of payout {self.payout_id}"
