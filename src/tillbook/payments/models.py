"""The money model (DESIGN.md): PaymentRequest → Payment → Refund, and the ledger lines that tie
payments to payouts. Live payments and imported processor history share these tables; `source`
says which, and the processor's own id deduplicates."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from django.db import models, transaction
from django.utils import timezone

from tillbook.core.money import Money
from tillbook.core.scoping import TenantModel
from tillbook.payments.ledger_lock import ledger_insert_lock


class Source(models.TextChoices):
    LIVE = "live", "Tillbook"
    IMPORT = "import", "Imported"


class LedgerRow(TenantModel):
    """A row the rollups read by id (payment, refund, balance line): inserted one at a time, it
    is written under its business's shared ledger lock (payments/ledger_lock.py)."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            super().save(*args, **kwargs)
            return
        with transaction.atomic():
            ledger_insert_lock(business_id=self.business_id)
            super().save(*args, **kwargs)


class RequestState(models.TextChoices):
    OPEN = "open", "Open"
    PAID = "paid", "Paid"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


class AmountType(models.TextChoices):
    FIXED = "fixed", "Fixed amount"
    MINIMUM = "minimum", "At least an amount"
    OPEN = "open", "Pay what you want"


class PaymentRequest(TenantModel):
    """One thing to be paid: a checkout, an invoice, a payment link, a booking deposit."""

    token = models.CharField(max_length=40, unique=True)
    # What is paid for: "order", "booking", "invoice", "link"; the purpose's handler is called
    # when the request is paid (payments.purposes).
    purpose = models.CharField(max_length=20)
    purpose_id = models.CharField(max_length=64, blank=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    currency = models.CharField(max_length=3)
    # Minor units: the price (fixed), the least accepted (minimum), or unused (open).
    amount = models.BigIntegerField(null=True, blank=True)
    amount_type = models.CharField(
        max_length=10, choices=AmountType.choices, default=AmountType.FIXED
    )
    tip_allowed = models.BooleanField(default=False)
    is_reusable = models.BooleanField(default=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Provider names the payer may use; empty means every provider enabled for the business.
    allowed_providers = models.JSONField(default=list, blank=True)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    state = models.CharField(max_length=10, choices=RequestState.choices, default=RequestState.OPEN)
    amount_paid = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)
    # The key of the back-office form that sent it, where one did: the same form sent twice (a
    # double click on "Send payment link") finds this request instead of sending another.
    form_key = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["business", "purpose", "purpose_id"], name="payreq_purpose_idx"),
            models.Index(fields=["business", "state", "created_at"], name="payreq_state_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def price(self) -> Money | None:
        return None if self.amount is None else Money(self.amount, self.currency)

    @property
    def paid(self) -> Money:
        return Money(self.amount_paid, self.currency)


class PaymentState(models.TextChoices):
    CREATED = "created", "Created"
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# How long a payment begun online may still finish: the sweep asks the processor about it for
# this long (Stripe's Checkout Sessions expire after 24 hours; a week covers every processor's
# window). One still created or pending after that is not waited for (the rollups' watermark).
PAYMENT_FINISHES_WITHIN = timedelta(days=7)


# The ledger's two big tables (a million-row Stripe history is a million of each) index only
# what is searched: the business through the composite indexes that start with it, and the
# mostly empty links only where they are set. Every index is paid for on each row written.


class Payment(LedgerRow):
    """Money taken (or attempted) through one provider."""

    business = models.ForeignKey(
        "core.Business", on_delete=models.CASCADE, related_name="+", editable=False, db_index=False
    )
    request = models.ForeignKey(
        PaymentRequest,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
        db_index=False,
    )
    provider = models.CharField(max_length=20)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.LIVE)
    state = models.CharField(
        max_length=10, choices=PaymentState.choices, default=PaymentState.CREATED
    )
    currency = models.CharField(max_length=3)
    # All minor units. amount excludes the tip; the processor's fee is known after the fact.
    amount = models.BigIntegerField()
    tip_amount = models.BigIntegerField(default=0)
    tax_amount = models.BigIntegerField(default=0)
    fee_amount = models.BigIntegerField(null=True, blank=True)
    # The processor's id for the money movement (Stripe PaymentIntent/charge, Square payment…).
    provider_reference = models.CharField(max_length=255, blank=True)
    # The processor's id for the checkout the buyer was sent to (Stripe Checkout Session…).
    checkout_reference = models.CharField(max_length=255, blank=True)
    # Another id the processor gives the same payment: a Stripe checkout's charge (ch_…),
    # an imported charge's PaymentIntent (pi_…). Stripe's files name a payment by either, so
    # imports look it up by both. The database default keeps bulk inserts that name their
    # columns (benchmarks, repairs) as they are.
    other_reference = models.CharField(max_length=255, blank=True, default="", db_default="")
    method = models.CharField(max_length=40, blank=True)
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    customer_email = models.EmailField(blank=True)
    description = models.CharField(max_length=300, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    failure_reason = models.CharField(max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        "core.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Read by time within a business (payment_state_idx): an index of its own only cost
    # every payment written, a million of them in a large import.
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["business", "provider", "provider_reference"],
                condition=~models.Q(provider_reference=""),
                name="payment_provider_reference_unique",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["business", "state", "succeeded_at"], name="payment_state_idx"),
            # Only payments that went through a checkout: imported and recorded ones have none.
            # A lookup by checkout repeats the condition: SQLite uses the index only then.
            models.Index(
                fields=["business", "provider", "checkout_reference"],
                condition=~models.Q(checkout_reference=""),
                name="payment_checkout_idx",
            ),
            models.Index(
                fields=["request"],
                condition=models.Q(request__isnull=False),
                name="payment_request_idx",
            ),
            models.Index(
                fields=["customer"],
                condition=models.Q(customer__isnull=False),
                name="payment_customer_idx",
            ),
            models.Index(
                fields=["recorded_by"],
                condition=models.Q(recorded_by__isnull=False),
                name="payment_recorded_by_idx",
            ),
            models.Index(
                fields=["business", "provider", "other_reference"],
                condition=~models.Q(other_reference=""),
                name="payment_other_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {Money(self.amount, self.currency)} ({self.state})"

    @property
    def total(self) -> Money:
        """What the payer paid: the amount plus the tip."""
        return Money(self.amount + self.tip_amount, self.currency)

    @property
    def fee(self) -> Money | None:
        return None if self.fee_amount is None else Money(self.fee_amount, self.currency)

    @property
    def net(self) -> Money | None:
        """What the business keeps before refunds: total minus the processor's fee."""
        if self.fee_amount is None:
            return None
        return Money(self.amount + self.tip_amount - self.fee_amount, self.currency)


class RefundState(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Refund(LedgerRow):
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.LIVE)
    state = models.CharField(
        max_length=10, choices=RefundState.choices, default=RefundState.PENDING
    )
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField()
    reason = models.CharField(max_length=300, blank=True)
    # Saved before the first call to the processor, so a retry can never refund twice.
    idempotency_key = models.CharField(max_length=255, unique=True)
    provider_reference = models.CharField(max_length=255, blank=True)
    failure_reason = models.CharField(max_length=300, blank=True)
    # Whether the purpose gave back what was bought (a ticket's place, a booking's time).
    releases_capacity = models.BooleanField(default=False)
    raw = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        "core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    succeeded_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["business", "payment", "provider_reference"],
                condition=~models.Q(provider_reference=""),
                name="refund_provider_reference_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"Refund {Money(self.amount, self.currency)} ({self.state})"

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


class PayoutState(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_TRANSIT = "in_transit", "In transit"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Payout(TenantModel):
    """Money a processor sent to the business's bank account."""

    provider = models.CharField(max_length=20)
    provider_reference = models.CharField(max_length=255)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.IMPORT)
    state = models.CharField(max_length=12, choices=PayoutState.choices, default=PayoutState.PAID)
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField()
    arrival_date = models.DateField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["business", "provider", "provider_reference"],
                name="payout_reference_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} payout {Money(self.amount, self.currency)}"


class BalanceKind(models.TextChoices):
    CHARGE = "charge", "Charge"
    REFUND = "refund", "Refund"
    FEE = "fee", "Fee"
    ADJUSTMENT = "adjustment", "Adjustment"
    PAYOUT = "payout", "Payout"
    # A failed or cancelled payout's money back in the balance (a line of a later payout).
    PAYOUT_REVERSAL = "reversal", "Payout returned"
    TRANSFER = "transfer", "Transfer"
    OTHER = "other", "Other"


class BalanceTransaction(LedgerRow):
    """One line of a processor's balance: what moved, gross, fee and net, and which payout
    carried it to the bank."""

    business = models.ForeignKey(
        "core.Business", on_delete=models.CASCADE, related_name="+", editable=False, db_index=False
    )
    provider = models.CharField(max_length=20)
    provider_reference = models.CharField(max_length=255)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.IMPORT)
    kind = models.CharField(max_length=12, choices=BalanceKind.choices)
    currency = models.CharField(max_length=3)
    gross = models.BigIntegerField()
    fee = models.BigIntegerField(default=0)
    net = models.BigIntegerField()
    occurred_at = models.DateTimeField()
    available_on = models.DateTimeField(null=True, blank=True)
    payment = models.ForeignKey(
        Payment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="balance_lines",
        db_index=False,
    )
    refund = models.ForeignKey(
        Refund,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="balance_lines",
        db_index=False,
    )
    payout = models.ForeignKey(
        Payout,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="lines",
        db_index=False,
    )
    description = models.CharField(max_length=300, blank=True)
    raw = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["business", "provider", "provider_reference"],
                name="balance_reference_unique",
            ),
        ]
        # Partial where a line may have no link: every index is written for each of the
        # million lines a large import lands, so none holds entries nothing looks up.
        indexes: ClassVar = [
            models.Index(fields=["business", "occurred_at"], name="balance_occurred_idx"),
            models.Index(
                fields=["payment"],
                condition=models.Q(payment__isnull=False),
                name="balance_payment_idx",
            ),
            models.Index(
                fields=["payout"],
                condition=models.Q(payout__isnull=False),
                name="balance_payout_idx",
            ),
            models.Index(
                fields=["refund"],
                condition=models.Q(refund__isnull=False),
                name="balance_refund_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.kind} {Money(self.net, self.currency)}"


class ProcessorEvent(TenantModel):
    """Each webhook event a processor sent, stored once by its id: a duplicate delivery finds
    its id taken and changes nothing (REFERENCE.md, lessons)."""

    provider = models.CharField(max_length=20)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=100)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["business", "provider", "event_id"], name="processor_event_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type} {self.event_id}"


class ProviderAccount(TenantModel):
    """A business's settings for one payment provider. Credentials are encrypted at rest."""

    provider = models.CharField(max_length=20)
    is_enabled = models.BooleanField(default=True)
    is_test_mode = models.BooleanField(default=False)
    settings = models.JSONField(default=dict, blank=True)
    credentials_encrypted = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["business", "provider"], name="provider_account_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} ({'on' if self.is_enabled else 'off'})"
