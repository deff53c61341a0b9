"""The demo business's numbers tell the story the seed promises."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tillbook.core.scoping import business_scope
from tillbook.demo.seed import seed_demo
from tillbook.imports.models import ImportRun
from tillbook.insights.campaigns import campaign_results
from tillbook.insights.periods import Period
from tillbook.payments.models import Payment


@pytest.mark.django_db
def test_the_demo_imports_history_and_three_campaigns_with_different_returns() -> None:
    business = seed_demo()
    today = timezone.localtime(timezone.now(), business.zone).date()
    period = Period(today - timedelta(days=89), today, business.zone)
    with business_scope(business):
        runs = list(ImportRun.objects.order_by("pk").values_list("kind", "state"))
        providers = set(Payment.objects.values_list("provider", flat=True))
        results = {r.platform: r for r in campaign_results(business=business, period=period)}
    assert runs == [
        ("stripe_itemized", "done"),
        ("paypal_activity", "done"),
        ("google_ads", "done"),
        ("meta_ads", "done"),
        ("microsoft_ads", "done"),
    ]
    assert {"stripe", "paypal"} <= providers  # imported, beside the live sandbox and cash
    assert results["google"].roas > 3  # the retreat's search campaign pays for itself
    assert 1 < results["meta"].roas < 3  # the webinar campaign roughly breaks even
    assert results["microsoft"].roas < 1  # retargeting costs more than it brings
