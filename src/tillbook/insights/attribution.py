"""Which UTM campaign a payment belongs to: the one kept at purchase time.

An order keeps the UTM campaign of the visit that led to it (orders.Order.utm_campaign, from
the first-party attribution touches), and so does a booking (scheduling.Booking.utm_campaign);
their payment reaches it through the payment request.
Payments without an order (imported history, payment links) carry it in their metadata:
Stripe imports fill `utm_campaign` from the `utm_campaign (metadata)` column. The order wins
where both exist.
"""

from __future__ import annotations

from django.db import models
from django.db.models import OuterRef, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce

from tillbook.orders.models import Order
from tillbook.scheduling.models import Booking

UTM_KEY = "utm_campaign"


def payment_utm(prefix: str = "") -> Coalesce:
    """An expression for the UTM campaign of the payment at `prefix` ("" or "payment__")."""
    from_order = Subquery(
        Order.objects.filter(payment_request_id=OuterRef(f"{prefix}request_id"))
        .exclude(utm_campaign="")
        .values("utm_campaign")[:1]
    )
    from_booking = Subquery(
        Booking.objects.filter(payment_request_id=OuterRef(f"{prefix}request_id"))
        .exclude(utm_campaign="")
        .values("utm_campaign")[:1]
    )
    return Coalesce(
        from_order,
        from_booking,
        KeyTextTransform(UTM_KEY, f"{prefix}metadata"),
        output_field=models.TextField(),
    )
