"""The "order" payment purpose: what payments calls when an order's request is paid, refunded
or expires (payments.purposes). Each call runs inside the payments transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.urls import reverse

from tillbook.payments.purposes import PaymentPurpose

if TYPE_CHECKING:
    from tillbook.orders.models import Order
    from tillbook.payments.models import Payment, PaymentRequest, Refund


def _order_of(request: PaymentRequest) -> Order | None:
    from tillbook.orders.models import Order

    if not request.purpose_id.isdigit():
        return None
    return Order.objects.filter(business=request.business, pk=int(request.purpose_id)).first()


class OrderPurpose(PaymentPurpose):
    name = "order"
    label = "Order"

    def on_paid(self, *, request: PaymentRequest, payment: Payment) -> None:
        from tillbook.orders.fulfilment import order_fulfil

        order = _order_of(request)
        if order is not None:
            order_fulfil(order=order, payment=payment)

    def on_payment(self, *, request: PaymentRequest, payment: Payment) -> None:
        from tillbook.orders.models import OrderEventKind
        from tillbook.orders.services import order_event

        order = _order_of(request)
        if order is not None and payment.total.amount < (request.amount or 0):
            money = payment.total.format(request.business.locale)
            order_event(
                order, OrderEventKind.PAYMENT, f"Part payment of {money} ({payment.method})"
            )

    def on_refunded(self, *, refund: Refund) -> None:
        from tillbook.orders.fulfilment import order_refunded

        order_refunded(refund=refund)

    def on_expired(self, *, request: PaymentRequest) -> None:
        from tillbook.orders.services import order_expire

        order = _order_of(request)
        if order is not None:
            order_expire(order=order)

    def link_for_staff(self, *, request: PaymentRequest) -> str:
        if not request.purpose_id.isdigit():
            return ""
        return reverse(
            "backoffice:order_detail", args=[request.business.slug, int(request.purpose_id)]
        )
