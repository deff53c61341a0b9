"""Payments stuck in pending: ask the processor (REFERENCE.md: a webhook can be lost, and a
payment that is never confirmed is as bad as one confirmed twice).

The answer goes through the same services as a webhook (payment_confirm, payment_fail), so a
poll racing a late webhook still confirms once. Running the poll twice changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from tillbook.core.scoping import business_scope
from tillbook.payments.models import (
    PAYMENT_FINISHES_WITHIN,
    Payment,
    PaymentState,
    Refund,
    RefundState,
)
from tillbook.payments.providers import provider_adapter, provider_classes
from tillbook.payments.services import payment_confirm, payment_fail, refund_settle

logger = logging.getLogger(__name__)

# A payer takes a few minutes on a processor's page; only then is silence suspicious.
POLL_AFTER = timedelta(minutes=10)
POLL_UNTIL = PAYMENT_FINISHES_WITHIN
BATCH = 200


@dataclass
class PollReport:
    confirmed: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    still_pending: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "confirmed": len(self.confirmed),
            "failed": len(self.failed),
            "pending": self.still_pending,
            "errors": self.errors,
        }


def pending_payments_poll(*, now: datetime | None = None) -> PollReport:
    """Poll online payments pending for longer than POLL_AFTER. Runs unscoped (a sweep)."""
    now = now or timezone.now()
    report = PollReport()
    online = [name for name, cls in provider_classes().items() if cls.is_online]
    stuck = (
        Payment.objects.filter(
            state__in=[PaymentState.PENDING, PaymentState.CREATED],
            provider__in=online,
            created_at__lte=now - POLL_AFTER,
            created_at__gte=now - POLL_UNTIL,
        )
        .select_related("business")
        .order_by("created_at")[:BATCH]
    )
    for payment in stuck:
        with business_scope(payment.business):
            try:
                payment_poll(payment=payment, report=report)
            except Exception:
                # One processor being down must not stop the others; the next run retries.
                report.errors += 1
                logger.exception("Polling payment %s (%s) failed", payment.pk, payment.provider)
    return report


def payment_confirm_on_return(*, payment: Payment) -> None:
    """The payer is back from the processor's page: ask the processor now, rather than wait
    for its webhook (DESIGN.md: the return and the webhook go through the same service).
    Never raises: the webhook and the sweep remain."""
    if payment.state not in (PaymentState.PENDING, PaymentState.CREATED):
        return
    provider = provider_classes().get(payment.provider)
    if provider is None or not provider.confirms_on_return:
        return
    try:
        payment_poll(payment=payment)
    except Exception:
        logger.warning(
            "Checking payment %s on the payer's return failed", payment.pk, exc_info=True
        )


def payment_poll(*, payment: Payment, report: PollReport | None = None) -> str:
    report = report if report is not None else PollReport()
    adapter = provider_adapter(business=payment.business, name=payment.provider)
    outcome = adapter.poll(payment=payment)
    if outcome is None or outcome.state == "pending":
        report.still_pending += 1
        return "pending"
    if outcome.state == "succeeded":
        confirmation = payment_confirm(
            payment=payment,
            provider_reference=outcome.provider_reference,
            fee=outcome.fee,
            method=outcome.method,
            other_reference=outcome.other_reference,
        )
        if confirmation.newly_succeeded:
            report.confirmed.append(payment.pk)
        return "succeeded"
    payment_fail(
        payment=payment, reason=outcome.failure_reason or "The payment did not go through."
    )
    report.failed.append(payment.pk)
    return "failed"


@dataclass
class RefundPollReport:
    succeeded: int = 0
    failed: int = 0
    pending: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def pending_refunds_poll(*, now: datetime | None = None) -> RefundPollReport:
    """Ask the processor about refunds it answered "pending" (it settles some later, and says
    so in an event that can be lost, or that an endpoint set up earlier was not sent), from
    POLL_AFTER to POLL_UNTIL after they were made. Runs unscoped (a sweep)."""
    now = now or timezone.now()
    report = RefundPollReport()
    online = [name for name, cls in provider_classes().items() if cls.is_online]
    waiting = (
        Refund.objects.filter(
            state=RefundState.PENDING,
            payment__provider__in=online,
            created_at__lte=now - POLL_AFTER,
            created_at__gte=now - POLL_UNTIL,
        )
        .exclude(provider_reference="")  # never reached the processor: staff send it again
        .select_related("business", "payment")
        .order_by("created_at")[:BATCH]
    )
    for refund in waiting:
        with business_scope(refund.business):
            try:
                adapter = provider_adapter(business=refund.business, name=refund.payment.provider)
                outcome = adapter.poll_refund(refund=refund)
                if outcome is None or outcome.state == "pending":
                    report.pending += 1
                    continue
                refund_settle(
                    refund=refund,
                    succeeded=outcome.state == "succeeded",
                    failure_reason=outcome.failure_reason,
                )
            except Exception:
                # One processor being down must not stop the others; the next run retries.
                report.errors += 1
                logger.exception("Polling refund %s failed", refund.pk)
                continue
            if outcome.state == "succeeded":
                report.succeeded += 1
            else:
                report.failed += 1
    return report
