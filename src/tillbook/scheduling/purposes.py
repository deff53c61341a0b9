"""How payments reach bookings: payment_confirm calls these handlers inside its transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tillbook.payments.purposes import PaymentPurpose

if TYPE_CHECKING:
    from tillbook.payments.models import Payment, PaymentRequest


def _attribute(request: PaymentRequest, payment: Payment) -> None:
    """A booking's payment counts for the campaign that brought the booking: the dashboard
    reads a payment's campaign from `utm_campaign` in its metadata (insights.attribution)."""
    from tillbook.scheduling.models import Booking

    utm = (
        Booking.objects.filter(business=request.business, pk=int(request.purpose_id))
        .values_list("utm_campaign", flat=True)
        .first()
    )
    if utm and not payment.metadata.get("utm_campaign"):
        payment.metadata = {**payment.metadata, "utm_campaign": utm}
        payment.save(update_fields=["metadata"])


class BookingPurpose(PaymentPurpose):
    """The payment that confirms a booking: in full or a deposit."""

    name = "booking"
    label = "Booking"

    def on_payment(self, *, request: PaymentRequest, payment: Payment) -> None:
        _attribute(request, payment)

    def on_paid(self, *, request: PaymentRequest, payment: Payment) -> None:
        from tillbook.scheduling.models import Booking
        from tillbook.scheduling.services import booking_confirm

        booking = Booking.objects.get(business=request.business, pk=int(request.purpose_id))
        booking_confirm(booking=booking, actor_label=f"payment via {payment.provider}", paid=True)

    def link_for_staff(self, *, request: PaymentRequest) -> str:
        return f"/manage/{request.business.slug}/calendar/bookings/{request.purpose_id}/"


class BookingChargePurpose(PaymentPurpose):
    """A later charge for a booking: the balance after a deposit, or a no-show fee."""

    name = "booking_charge"
    label = "Booking balance or fee"

    def on_payment(self, *, request: PaymentRequest, payment: Payment) -> None:
        _attribute(request, payment)

    def on_paid(self, *, request: PaymentRequest, payment: Payment) -> None:
        from tillbook.scheduling.models import Booking
        from tillbook.scheduling.services import booking_event

        booking = Booking.objects.get(business=request.business, pk=int(request.purpose_id))
        amount = payment.total.format(request.business.locale)
        booking_event(booking, "paid", f"{request.title}: {amount} paid", payment.provider)

    def link_for_staff(self, *, request: PaymentRequest) -> str:
        return f"/manage/{request.business.slug}/calendar/bookings/{request.purpose_id}/"
