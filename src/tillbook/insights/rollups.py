"""Keeping the rollups up to date, set-based and incrementally.

Payments are read by id above a watermark. A payment that is still created or pending when
read may succeed later, so the watermark never passes the oldest unfinished payment: it is
read again next time, and counted once it has succeeded. A customer's first payment can only
move earlier (history imported after newer sales), so the upsert keeps the earliest time.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Max, Min
from django.db.models.functions import Lower

from tillbook.core.models import Business
from tillbook.insights.models import CustomerFirstPayment, RollupWatermark
from tillbook.payments.models import Payment, PaymentState

FIRSTS = "customer_first_payment"


def customer_firsts_refresh(*, business: Business) -> int:
    """Bring CustomerFirstPayment up to date; returns how many payments were read."""
    with transaction.atomic():
        mark, _ = RollupWatermark.objects.get_or_create(business=business, name=FIRSTS)
        # Lock the watermark so two refreshes (a sweep and an import) do not both move it.
        mark = RollupWatermark.objects.select_for_update().get(pk=mark.pk)
        since = mark.last_payment_id
        fresh = Payment.objects.filter(business=business, pk__gt=since)
        top = fresh.aggregate(top=Max("pk"))["top"]
        if top is None:
            return 0
        window = fresh.filter(pk__lte=top)
        firsts = (
            window.filter(state=PaymentState.SUCCEEDED, succeeded_at__isnull=False)
            .exclude(customer_email="")
            .values(key=Lower("customer_email"))
            .annotate(first=Min("succeeded_at"))
            .values("business", "key", "first")
        )
        select, params = firsts.query.sql_with_params()
        table = connection.ops.quote_name(CustomerFirstPayment._meta.db_table)
        earliest = "LEAST" if connection.vendor == "postgresql" else "MIN"
        with connection.cursor() as cursor:
            # One INSERT … SELECT … GROUP BY, whatever the number of payments.
            cursor.execute(
                f"INSERT INTO {table} (business_id, email_key, first_at) {select} "
                "ON CONFLICT (business_id, email_key) DO UPDATE SET first_at = "
                f"{earliest}({table}.first_at, excluded.first_at)",
                params,
            )
        unfinished = window.filter(
            state__in=[PaymentState.CREATED, PaymentState.PENDING]
        ).aggregate(first=Min("pk"))["first"]
        mark.last_payment_id = top if unfinished is None else unfinished - 1
        mark.save(update_fields=["last_payment_id"])
        return top - since
