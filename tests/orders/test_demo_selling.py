from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db.models import Sum
from django.utils import timezone

from tillbook.catalog.models import Offering, Quota
from tillbook.core.scoping import business_scope
from tillbook.demo.seed import seed_demo
from tillbook.orders.models import Order, OrderEvent, OrderLine, Ticket
from tillbook.payments.models import Payment, Refund


@pytest.mark.django_db
def test_demo_shop_has_every_kind_and_six_months_of_orders(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    business = seed_demo()
    with business_scope(business):
        kinds = sorted(
            set(Offering.objects.filter(state="published").values_list("kind", flat=True))
        )
        assert kinds == ["course", "download", "physical", "ticket"]
        workshop = Offering.objects.get(kind="ticket")
        assert workshop.event.starts_at > timezone.now()
        orders = Order.objects.all()
        assert orders.count() > 150
        oldest = orders.order_by("created_at").first()
        assert oldest is not None
        assert oldest.created_at < timezone.now() - timedelta(days=175)
        paid = orders.filter(paid_at__isnull=False)
        assert paid.count() > 100
        assert Payment.objects.filter(request__purpose="order", fee_amount__gt=0).exists()
        assert Payment.objects.filter(request__purpose="order", provider="manual").exists()
        assert Ticket.objects.filter(event=workshop.event).exists()
        assert orders.exclude(utm_campaign="").exists()
        # Nothing oversold: what each quota holds is within its size.
        for quota in Quota.objects.exclude(size=None):
            held = OrderLine.objects.filter(
                quota=quota, capacity_state__in=["sold", "reserved"]
            ).aggregate(n=Sum("quantity"))["n"]
            assert (held or 0) <= quota.size


@pytest.mark.django_db
def test_demo_refunds_are_dated_as_the_orders_tell_it(settings: Any, tmp_path: Any) -> None:
    # The dashboard counts a refund on the day it succeeded: refunds of orders placed months
    # ago must not all land on the day the demo was seeded.
    settings.MEDIA_ROOT = tmp_path / "media"
    business = seed_demo()
    with business_scope(business):
        refunds = list(
            Refund.objects.filter(payment__request__purpose="order").select_related("payment")
        )
        assert refunds
        for refund in refunds:
            order = Order.objects.get(payment_request_id=refund.payment.request_id)
            told = OrderEvent.objects.get(order=order, kind="refunded").created_at
            assert (refund.created_at, refund.succeeded_at) == (told, told)
            assert refund.payment.succeeded_at < told <= timezone.now()
        link_refund = Refund.objects.get(payment__request__purpose="link")
        assert link_refund.succeeded_at == link_refund.created_at
