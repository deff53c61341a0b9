from __future__ import annotations

from django_tasks import task

from tillbook.core.scoping import business_scope, unscoped
from tillbook.payments.models import Payment


@task()
def sandbox_webhook(payment_id: int) -> str:
    """The sandbox processor's delayed "payment succeeded" webhook."""
    from tillbook.payments.sandbox import sandbox_succeed

    with unscoped():
        payment = Payment.objects.select_related("business").filter(pk=payment_id).first()
    if payment is None:
        return "missing"
    with business_scope(payment.business):
        confirmation = sandbox_succeed(payment)
    return "confirmed" if confirmation.newly_succeeded else "already confirmed"
