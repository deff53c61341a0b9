"""The customer-first-payment rollup: incremental, never skipping a payment that succeeds late."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tillbook.core.models import Business
from tillbook.insights.models import CustomerFirstPayment
from tillbook.insights.rollups import customer_firsts_refresh
from tillbook.payments.models import Payment, PaymentState


def pay(business: Business, email: str, when: datetime, state: str = PaymentState.SUCCEEDED):
    payment = Payment(
        business=business,
        provider="sandbox",
        state=state,
        currency="USD",
        amount=1000,
        customer_email=email,
        succeeded_at=when if state == PaymentState.SUCCEEDED else None,
    )
    payment.save()
    return payment


def firsts() -> dict[str, datetime]:
    return dict(CustomerFirstPayment.objects.values_list("email_key", "first_at"))


def test_first_payments_per_customer_case_insensitively(scoped: Business) -> None:
    pay(scoped, "Ann@Example.com", datetime(2026, 9, 3, tzinfo=UTC))
    pay(scoped, "ann@example.com", datetime(2026, 9, 1, tzinfo=UTC))
    pay(scoped, "ben@example.com", datetime(2026, 9, 2, tzinfo=UTC), PaymentState.FAILED)
    assert customer_firsts_refresh(business=scoped) == 3
    assert firsts() == {"ann@example.com": datetime(2026, 9, 1, tzinfo=UTC)}
    assert customer_firsts_refresh(business=scoped) == 0  # nothing new: nothing read


def test_a_payment_pending_at_refresh_is_counted_once_it_succeeds(scoped: Business) -> None:
    pending = pay(scoped, "cy@example.com", datetime(2026, 9, 5, tzinfo=UTC), PaymentState.PENDING)
    pay(scoped, "di@example.com", datetime(2026, 9, 6, tzinfo=UTC))
    customer_firsts_refresh(business=scoped)
    assert set(firsts()) == {"di@example.com"}
    pending.state, pending.succeeded_at = PaymentState.SUCCEEDED, datetime(2026, 9, 7, tzinfo=UTC)
    pending.save()
    customer_firsts_refresh(business=scoped)
    assert firsts()["cy@example.com"] == datetime(2026, 9, 7, tzinfo=UTC)


def test_older_history_imported_later_moves_the_first_payment_earlier(scoped: Business) -> None:
    pay(scoped, "eve@example.com", datetime(2026, 9, 10, tzinfo=UTC))
    customer_firsts_refresh(business=scoped)
    pay(scoped, "eve@example.com", datetime(2025, 1, 10, tzinfo=UTC))
    pay(scoped, "eve@example.com", datetime(2026, 10, 1, tzinfo=UTC))
    customer_firsts_refresh(business=scoped)
    assert firsts() == {"eve@example.com": datetime(2025, 1, 10, tzinfo=UTC)}


def test_businesses_keep_their_own_rollups(scoped: Business, other_business: Business) -> None:
    from tillbook.core.scoping import business_scope

    pay(scoped, "ann@example.com", datetime(2026, 9, 1, tzinfo=UTC))
    customer_firsts_refresh(business=scoped)
    with business_scope(other_business):
        pay(other_business, "ann@example.com", datetime(2026, 8, 1, tzinfo=UTC))
        customer_firsts_refresh(business=other_business)
        assert firsts() == {"ann@example.com": datetime(2026, 8, 1, tzinfo=UTC)}
    assert firsts() == {"ann@example.com": datetime(2026, 9, 1, tzinfo=UTC)}


def test_daily_ledger_follows_payments_that_succeed_after_a_refresh(scoped: Business) -> None:
    from datetime import date

    from tillbook.insights.ledger import sales_totals
    from tillbook.insights.periods import Period
    from tillbook.insights.rollups import rollups_refresh

    september = Period(date(2026, 9, 1), date(2026, 9, 30), scoped.zone)
    pending = pay(scoped, "fay@example.com", datetime(2026, 9, 5, tzinfo=UTC), PaymentState.PENDING)
    pay(scoped, "gus@example.com", datetime(2026, 9, 6, 12, tzinfo=UTC))
    rollups_refresh(business=scoped)
    assert sales_totals(business=scoped, period=september)["USD"].gross == 1000
    pending.state, pending.succeeded_at = PaymentState.SUCCEEDED, datetime(2026, 9, 7, tzinfo=UTC)
    pending.save()
    rollups_refresh(business=scoped)
    assert sales_totals(business=scoped, period=september)["USD"].gross == 2000


def test_a_business_that_changes_zone_gets_its_days_cut_again(scoped: Business) -> None:
    from datetime import date

    from tillbook.insights.ledger import revenue_by_day
    from tillbook.insights.periods import Period
    from tillbook.insights.rollups import rollups_refresh

    pay(scoped, "hal@example.com", datetime(2026, 9, 2, 3, tzinfo=UTC))  # 1 Sept 22:00 Chicago
    rollups_refresh(business=scoped)
    days = Period(date(2026, 9, 1), date(2026, 9, 2), scoped.zone)
    assert [d.gross for d in revenue_by_day(business=scoped, period=days)] == [1000, 0]
    scoped.timezone = "Europe/Berlin"
    scoped.save()
    rollups_refresh(business=scoped)
    days = Period(date(2026, 9, 1), date(2026, 9, 2), scoped.zone)
    assert [d.gross for d in revenue_by_day(business=scoped, period=days)] == [0, 1000]


def test_a_later_refund_comes_off_the_campaign_of_the_month_it_was_sold(scoped: Business) -> None:
    from datetime import date

    from tillbook.insights.campaigns import attributed_by_utm
    from tillbook.insights.periods import Period
    from tillbook.insights.rollups import rollups_refresh
    from tillbook.payments.models import Refund, RefundState

    sale = pay(scoped, "ivy@example.com", datetime(2026, 9, 1, 15, tzinfo=UTC))
    sale.metadata, sale.fee_amount = {"utm_campaign": "fall"}, 60
    sale.save()
    rollups_refresh(business=scoped)
    september = Period(date(2026, 9, 1), date(2026, 9, 30), scoped.zone)
    assert attributed_by_utm(business=scoped, period=september)["fall"].revenue == 940
    Refund(
        business=scoped,
        payment=sale,
        state=RefundState.SUCCEEDED,
        currency="USD",
        amount=400,
        idempotency_key="test-refund",
        succeeded_at=datetime(2026, 10, 5, tzinfo=UTC),
    ).save()
    rollups_refresh(business=scoped)
    assert attributed_by_utm(business=scoped, period=september)["fall"].revenue == 540


def test_an_orders_utm_campaign_attributes_its_payment(scoped: Business) -> None:
    from datetime import date

    from tillbook.insights.campaigns import attributed_by_utm
    from tillbook.insights.periods import Period
    from tillbook.insights.rollups import rollups_refresh
    from tillbook.orders.models import Order
    from tillbook.payments.models import PaymentRequest

    request = PaymentRequest(
        business=scoped, token="t-order-1", purpose="order", title="Order 1", currency="USD"
    )
    request.save()
    Order(
        business=scoped,
        number=1,
        access_salt="salt",
        email="jo@example.com",
        name="Jo",
        currency="USD",
        total=5000,
        payment_request=request,
        utm_campaign="spring-promo",
    ).save()
    paid = pay(scoped, "jo@example.com", datetime(2026, 9, 3, 15, tzinfo=UTC))
    paid.request, paid.amount, paid.fee_amount = request, 5000, 175
    paid.metadata = {"utm_campaign": "ignored-when-the-order-says"}
    paid.save()
    rollups_refresh(business=scoped)
    september = Period(date(2026, 9, 1), date(2026, 9, 30), scoped.zone)
    found = attributed_by_utm(business=scoped, period=september)
    assert set(found) == {"spring-promo"}
    assert (found["spring-promo"].revenue, found["spring-promo"].orders) == (4825, 1)
    assert found["spring-promo"].new_customers == 1


def test_a_large_batch_of_new_rows_recomputes_every_day_of_its_range_alike(
    scoped: Business, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tillbook.insights import rollups
    from tillbook.insights.models import DailyLedger

    # 22:00 on 1 Sept in Chicago is 3 Sept 03:00 UTC; 8 Sept is a day nothing happened.
    pay(scoped, "jo@example.com", datetime(2026, 9, 2, 3, tzinfo=UTC))
    pay(scoped, "kim@example.com", datetime(2026, 9, 5, 15, tzinfo=UTC))
    pay(scoped, "lu@example.com", datetime(2026, 9, 10, 15, tzinfo=UTC))
    monkeypatch.setattr(rollups, "EXACT_DAYS_UP_TO", 0)  # as if these were an import's rows
    assert rollups.daily_ledger_refresh(business=scoped) == 10  # 1 to 10 September
    assert sorted(DailyLedger.objects.values_list("day", "gross", "orders")) == [
        (date(2026, 9, 1), 1000, 1),
        (date(2026, 9, 5), 1000, 1),
        (date(2026, 9, 10), 1000, 1),
    ]
    monkeypatch.setattr(rollups, "EXACT_DAYS_UP_TO", 10_000)
    pay(scoped, "mo@example.com", datetime(2026, 9, 5, 16, tzinfo=UTC))
    assert rollups.daily_ledger_refresh(business=scoped) == 1  # few rows: only their day
    assert sorted(DailyLedger.objects.values_list("day", "gross", "orders")) == [
        (date(2026, 9, 1), 1000, 1),
        (date(2026, 9, 5), 2000, 2),
        (date(2026, 9, 10), 1000, 1),
    ]


def test_days_are_cut_in_the_business_zone_on_both_sides_of_a_clock_change(
    scoped: Business,
) -> None:
    from datetime import date

    from tillbook.insights.models import DailyLedger
    from tillbook.insights.rollups import rollups_refresh

    scoped.timezone = "Europe/Berlin"  # clocks go forward at 01:00 UTC on 29 March 2026
    scoped.save()
    pay(scoped, "jo@example.com", datetime(2026, 3, 28, 22, 30, tzinfo=UTC))  # 23:30 on the 28th
    pay(scoped, "jo@example.com", datetime(2026, 3, 28, 23, 30, tzinfo=UTC))  # 00:30 on the 29th
    pay(scoped, "jo@example.com", datetime(2026, 3, 29, 21, 30, tzinfo=UTC))  # 23:30 on the 29th
    pay(scoped, "jo@example.com", datetime(2026, 3, 29, 22, 30, tzinfo=UTC))  # 00:30 on the 30th
    rollups_refresh(business=scoped)
    orders = dict(DailyLedger.objects.filter(business=scoped).values_list("day", "orders"))
    assert orders == {date(2026, 3, 28): 1, date(2026, 3, 29): 2, date(2026, 3, 30): 1}


def test_a_fee_learnt_after_the_rollups_read_the_payment_reaches_the_day(
    scoped: Business,
) -> None:
    from tillbook.core.money import Money
    from tillbook.insights.models import DailyLedger, RollupReread
    from tillbook.insights.rollups import customer_values_refresh, rollups_refresh
    from tillbook.payments.services import payment_confirm

    # The card succeeded before Stripe had its balance transaction: no fee yet.
    paid = pay(scoped, "jo@example.com", datetime(2026, 9, 3, 15, tzinfo=UTC))
    rollups_refresh(business=scoped)
    assert list(DailyLedger.objects.values_list("day", "gross", "fees")) == [
        (date(2026, 9, 3), 1000, 0)
    ]
    assert not payment_confirm(payment=paid, fee=Money(59, "USD")).newly_succeeded
    # Left in the fee's own transaction for each rollup, consumed by the next refresh.
    assert sorted(RollupReread.objects.values_list("name", "payment_id")) == [
        ("customer_first_payment", paid.pk),
        ("customer_values", paid.pk),
        ("daily_ledger", paid.pk),
    ]
    rollups_refresh(business=scoped)
    # The customers' values are read by the cohort table (or the sweep), not by every page.
    assert list(RollupReread.objects.values_list("name", "payment_id")) == [
        ("customer_values", paid.pk)
    ]
    assert customer_values_refresh(business=scoped) == 1
    assert RollupReread.objects.count() == 0
    assert list(DailyLedger.objects.values_list("day", "gross", "fees")) == [
        (date(2026, 9, 3), 1000, 59)
    ]


def test_a_failed_payment_that_succeeds_after_all_reaches_the_rollups(
    scoped: Business,
) -> None:
    from django.db.models import Sum

    from tillbook.insights.models import DailyLedger
    from tillbook.insights.rollups import rollups_refresh
    from tillbook.payments.services import payment_confirm

    pay(scoped, "gus@example.com", datetime(2026, 9, 6, 12, tzinfo=UTC))
    late = pay(scoped, "fay@example.com", datetime(2026, 9, 5, tzinfo=UTC), PaymentState.FAILED)
    rollups_refresh(business=scoped)  # the watermark passes the failed payment
    assert DailyLedger.objects.aggregate(gross=Sum("gross"))["gross"] == 1000
    assert set(firsts()) == {"gus@example.com"}
    assert payment_confirm(payment=late).newly_succeeded  # a late capture
    rollups_refresh(business=scoped)
    assert DailyLedger.objects.aggregate(gross=Sum("gross"))["gross"] == 2000
    assert set(firsts()) == {"gus@example.com", "fay@example.com"}


def _cohorts(business: Business) -> list[tuple[date, str, int, int, int]]:
    from tillbook.insights.customers import lifetime_value_by_cohort

    return [
        (c.month, c.currency, c.customers, c.orders, c.revenue)
        for c in lifetime_value_by_cohort(business=business)
    ]


@pytest.mark.parametrize("by_customer_up_to", [1000, 0], ids=["by-customer", "everyone"])
def test_customer_values_follow_new_payments_refunds_and_replaced_refunds(
    scoped: Business, monkeypatch: pytest.MonkeyPatch, by_customer_up_to: int
) -> None:
    """The cohort table sums CustomerValue: after every kind of change since the last read,
    it says what summing the ledger again would (hand-computed here), whether the customers
    touched are summed again one by one or all of them at once."""
    from tillbook.insights import rollups
    from tillbook.insights.models import CustomerValue
    from tillbook.payments.models import Refund, RefundState

    monkeypatch.setattr(rollups, "VALUES_BY_CUSTOMER_UP_TO", by_customer_up_to)

    def refund(payment: Payment, amount: int, state: str = RefundState.SUCCEEDED) -> Refund:
        return Refund.objects.create(
            business=scoped,
            payment=payment,
            state=state,
            currency=payment.currency,
            amount=amount,
            idempotency_key=f"test-{payment.pk}-{amount}-{state}",
            succeeded_at=datetime(2026, 10, 2, tzinfo=UTC),
        )

    ann = pay(scoped, "ann@example.com", datetime(2026, 9, 2, 15, tzinfo=UTC))
    pay(scoped, "bo@example.com", datetime(2026, 10, 5, 15, tzinfo=UTC))
    assert _cohorts(scoped) == [
        (date(2026, 9, 1), "USD", 1, 1, 1000),
        (date(2026, 10, 1), "USD", 1, 1, 1000),
    ]
    # Ann comes back (10.00), a payment is still pending, and Ann's first payment is refunded
    # 2.50 with a summary refund (as Stripe's payments export says it) and 1.00 pending.
    pay(scoped, "ANN@example.com", datetime(2026, 10, 9, 15, tzinfo=UTC))
    pending = pay(scoped, "cy@example.com", datetime(2026, 10, 9, tzinfo=UTC), PaymentState.PENDING)
    summary = refund(ann, 250)
    held = refund(ann, 100, RefundState.PENDING)
    assert _cohorts(scoped) == [
        (date(2026, 9, 1), "USD", 1, 2, 1750),
        (date(2026, 10, 1), "USD", 1, 1, 1000),
    ]
    # The pending refund goes through: nothing else new.
    Refund.objects.filter(pk=held.pk).update(state=RefundState.SUCCEEDED)
    assert _cohorts(scoped)[0] == (date(2026, 9, 1), "USD", 1, 2, 1650)
    # The pending payment succeeds; the summary refund is replaced by the real one (2.00),
    # which touches only Ann's old payment.
    pending.state, pending.succeeded_at = PaymentState.SUCCEEDED, datetime(2026, 10, 20, tzinfo=UTC)
    pending.save()
    summary.delete()
    refund(ann, 200)
    assert _cohorts(scoped) == [
        (date(2026, 9, 1), "USD", 1, 2, 2000 - 100 - 200),
        (date(2026, 10, 1), "USD", 2, 2, 2000),
    ]
    assert sorted(CustomerValue.objects.values_list("email_key", "orders", "revenue")) == [
        ("ann@example.com", 2, 1700),
        ("bo@example.com", 1, 1000),
        ("cy@example.com", 1, 1000),
    ]


def test_customer_values_are_read_once_and_kept_per_business(
    scoped: Business, other_business: Business, django_assert_num_queries
) -> None:
    from tillbook.core.scoping import business_scope
    from tillbook.insights.rollups import customer_values_refresh

    pay(scoped, "ann@example.com", datetime(2026, 9, 2, 15, tzinfo=UTC))
    with business_scope(other_business):
        pay(other_business, "ann@example.com", datetime(2026, 9, 2, 15, tzinfo=UTC))
        pay(other_business, "zed@example.com", datetime(2026, 9, 3, 15, tzinfo=UTC))
        assert _cohorts(other_business) == [(date(2026, 9, 1), "USD", 2, 2, 2000)]
    assert _cohorts(scoped) == [(date(2026, 9, 1), "USD", 1, 1, 1000)]
    assert customer_values_refresh(business=scoped) == 0  # nothing new: nothing summed again
    # Nothing new: the refresh only looks (the tops, its watermark, rereads: nine queries,
    # savepoints included; on PostgreSQL four more take and give back the ledger's lock around
    # the tops) and one query sums the rollup.
    from django.db import connection

    with django_assert_num_queries(10 if connection.vendor == "sqlite" else 14):
        assert _cohorts(scoped) == [(date(2026, 9, 1), "USD", 1, 1, 1000)]


def test_a_payment_left_unfinished_for_over_a_week_stops_holding_the_rollups_back(
    scoped: Business,
) -> None:
    """A payment still waiting when the rollups read it is read again at every refresh, with
    everything after it, until it finishes. Online payments are asked about for a week after
    they began; one left waiting longer (a processor disconnected since, a buyer who never came
    back) must not have every refresh read all the sales after it again, for ever. Should it
    succeed after all, the rollups read it again."""
    from datetime import timedelta

    from django.db.models import Sum
    from django.utils import timezone

    from tillbook.insights.models import DailyLedger
    from tillbook.insights.rollups import rollups_refresh
    from tillbook.payments.services import payment_confirm

    now = timezone.now()
    stale = pay(scoped, "old@example.com", now, PaymentState.CREATED)
    waiting = pay(scoped, "new@example.com", now, PaymentState.PENDING)
    Payment.objects.filter(pk=stale.pk).update(created_at=now - timedelta(days=7, minutes=1))
    Payment.objects.filter(pk=waiting.pk).update(created_at=now - timedelta(days=6, hours=23))
    pay(scoped, "ann@example.com", datetime(2026, 9, 1, tzinfo=UTC))
    assert customer_firsts_refresh(business=scoped) == 3
    # A payment begun less than a week ago still holds the watermark: it is read again.
    Payment.objects.filter(pk=waiting.pk).update(state=PaymentState.FAILED)
    pay(scoped, "ben@example.com", datetime(2026, 9, 2, tzinfo=UTC))
    assert customer_firsts_refresh(business=scoped) == 3  # the failed one, ann's and ben's
    # The stale one is not: only the new sale is read.
    pay(scoped, "cy@example.com", datetime(2026, 9, 3, tzinfo=UTC))
    assert customer_firsts_refresh(business=scoped) == 1
    rollups_refresh(business=scoped)
    assert DailyLedger.objects.aggregate(gross=Sum("gross"))["gross"] == 3000
    assert set(firsts()) == {"ann@example.com", "ben@example.com", "cy@example.com"}

    assert payment_confirm(payment=stale).newly_succeeded  # the processor's word, at last
    rollups_refresh(business=scoped)
    assert DailyLedger.objects.aggregate(gross=Sum("gross"))["gross"] == 4000
    assert set(firsts()) == {
        "old@example.com",
        "ann@example.com",
        "ben@example.com",
        "cy@example.com",
    }


def test_a_refund_left_pending_for_over_a_week_stops_holding_the_rollups_back(
    scoped: Business,
) -> None:
    """A refund still pending held the refund watermark for good (a processor that never said
    how it ended): every refresh read every later refund again. Past a week it no longer does,
    and if it succeeds after all, the dashboard and the cohort table count it."""
    from datetime import timedelta

    from django.db.models import Sum
    from django.utils import timezone

    from tillbook.insights.models import CustomerValue, DailyLedger, RollupWatermark
    from tillbook.insights.rollups import customer_values_refresh, rollups_refresh
    from tillbook.payments.models import Refund, RefundState
    from tillbook.payments.services import refund_settle

    ann = pay(scoped, "ann@example.com", datetime(2026, 9, 1, tzinfo=UTC))
    now = timezone.now()

    def refund(amount: int, state: str) -> Refund:
        return Refund.objects.create(
            business=scoped,
            payment=ann,
            state=state,
            currency="USD",
            amount=amount,
            idempotency_key=f"test-{amount}",
            succeeded_at=now if state == RefundState.SUCCEEDED else None,
        )

    stale = refund(300, RefundState.PENDING)
    Refund.objects.filter(pk=stale.pk).update(created_at=now - timedelta(days=7, minutes=1))
    later = refund(100, RefundState.SUCCEEDED)
    rollups_refresh(business=scoped)
    customer_values_refresh(business=scoped)
    marks = dict(RollupWatermark.objects.values_list("name", "last_refund_id"))
    assert (marks["daily_ledger"], marks["customer_values"]) == (later.pk, later.pk)
    assert DailyLedger.objects.aggregate(refunds=Sum("refunds"))["refunds"] == 100
    assert CustomerValue.objects.get(email_key="ann@example.com").revenue == 900

    refund_settle(refund=stale, succeeded=True)  # the processor's word, at last
    rollups_refresh(business=scoped)
    customer_values_refresh(business=scoped)
    assert DailyLedger.objects.aggregate(refunds=Sum("refunds"))["refunds"] == 400
    assert CustomerValue.objects.get(email_key="ann@example.com").revenue == 600
