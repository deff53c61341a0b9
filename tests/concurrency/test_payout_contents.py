"""The dashboard shows a payout's contents while an import links lines to it, without waiting.

A payout whose contents are not stored (PayPal's withdrawals; a Stripe payout announced by its
webhook before its lines are read) is summed for each view. An import linking lines to it
stores its contents in its own transaction (imports/landing.py, _paid_out). A view that stored
what it summed waited on the contents' unique index for the import's commit, then failed
(the negative control), or replaced the import's contents with the zeros it had summed before.
"""

from __future__ import annotations

import threading
from datetime import date

import pytest
from django.db import connection, transaction

from tillbook.core.models import Business
from tillbook.core.scoping import business_scope, unscoped
from tillbook.insights import ledger
from tillbook.insights.ledger import payouts_by_processor
from tillbook.insights.models import PayoutContents
from tillbook.insights.periods import Period
from tillbook.insights.rollups import payout_contents_recompute
from tillbook.payments.models import Payout

from ..insights.withdrawals import paypal_sale_line, paypal_withdrawal
from .race import BARRIER_TIMEOUT, postgresql_only

pytestmark = [postgresql_only, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class _Linking:
    """An import's transaction that linked a line to the payout and stored its contents."""

    def __init__(self, business: Business, payout: Payout) -> None:
        self.business, self.payout = business, payout
        self.linked, self.release = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            with business_scope(self.business), transaction.atomic():
                paypal_sale_line(self.business, self.payout)
                payout_contents_recompute(business=self.business, payout_ids=[self.payout.pk])
                self.linked.set()
                assert self.release.wait(BARRIER_TIMEOUT)
        finally:
            connection.close()


def _viewed_while_linking(business: Business) -> tuple[bool, list[object]]:
    """Whether a view of the payouts ended within 3 s while the import had not committed, and
    what it and a view after the commit showed (or the view's error)."""
    with business_scope(business):
        payout = paypal_withdrawal(business)
    period = Period(date(2026, 9, 1), date(2026, 9, 30), business.zone)
    shown: list[object] = []

    def view() -> None:
        try:
            with business_scope(business):
                (paypal,) = payouts_by_processor(business=business, period=period)
                shown.append((paypal.payouts[0]["sales"], paypal.payouts[0]["lines"]))
        except Exception as error:  # the negative control's failure is its result
            shown.append(type(error).__name__)
        finally:
            connection.close()

    linking = _Linking(business, payout)
    linking.thread.start()
    assert linking.linked.wait(BARRIER_TIMEOUT)
    viewing = threading.Thread(target=view, daemon=True)
    viewing.start()
    viewing.join(3)
    prompt = not viewing.is_alive()
    linking.release.set()
    linking.thread.join(BARRIER_TIMEOUT)
    viewing.join(BARRIER_TIMEOUT)
    view()  # after the import's commit
    return prompt, shown


def test_a_view_sums_a_payout_being_linked_without_waiting_and_keeps_the_import_s_contents(
    business: Business,
) -> None:
    prompt, shown = _viewed_while_linking(business)
    assert prompt
    assert shown == [(0, 0), (10300, 1)]  # before the commit: nothing linked yet; after: the line
    with unscoped():
        assert PayoutContents.objects.get().lines == 1


def test_negative_control_a_view_that_stores_what_it_summed_waits_for_the_import_then_fails(
    business: Business, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stored(*, business: Business, payout_ids: list[int]) -> dict[int, PayoutContents]:
        payout_contents_recompute(business=business, payout_ids=payout_ids)
        return {c.payout_id: c for c in PayoutContents.objects.filter(payout_id__in=payout_ids)}

    monkeypatch.setattr(ledger, "payout_contents_summed", stored)
    prompt, shown = _viewed_while_linking(business)
    assert not prompt
    assert shown[0] == "IntegrityError"
