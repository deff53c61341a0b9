"""Which UTM campaign a payment belongs to: the one kept at purchase time.

An order keeps the UTM campaign of the visit that led to it (orders.Order.utm_campaign, from
the first-party attribution touches); its payment reaches it through the payment request.
Payments without an order carry it in their metadata: a booking's payments (deposit, balance,
fee) get the booking's campaign when they succeed (scheduling.purposes), and
Stripe imports fill `utm_campaign` from the `utm_campaign (metadata)` column. The order wins
where both exist.
"""

from __future__ import annotations

from django.db import models
from django.db.models import OuterRef, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce

from tillbook.orders.models import Order

UTM_KEY = "utm_campaign"


def payment_utm(prefix: str = "") -> Coalesce:
    """An expression for the UTM campaign of the payment at `prefix` ("" or "payment__")."""
    from_order = Subquery(
        Order.objects.filter(payment_request_id=OuterRef(f"{prefix}request_id"))
        .exclude(utm_campaign="")
        .values("utm_campaign")[:1]
    )
    return Coalesce(
        from_order,
        KeyTextTransform(UTM_KEY, f"{prefix}metadata"),
        output_field=models.TextField(),
    )
