"""Two staff members add the same customer at the same moment.

customer_create checks for a customer with the email and then inserts, so two requests can both
pass the check before either inserts. The case-insensitive unique constraint
customer_email_unique_ci is what turns the second insert into a Conflict. The pause point holds
both requests between their check and their insert, so that interleaving happens on every run
instead of by luck.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from tillbook.core.errors import Conflict
from tillbook.core.hooks import installed_pause
from tillbook.core.models import AuditEntry, Business
from tillbook.core.scoping import business_scope
from tillbook.customers.models import Customer
from tillbook.customers.services import customer_create

from .race import BARRIER_TIMEOUT, Outcome, constraint_dropped, postgresql_only, race

pytestmark = [postgresql_only, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

EMAILS = ["Ann@example.com", "ann@example.com"]


def _creator(business: Business, email: str) -> Callable[[], Customer]:
    def create() -> Customer:
        # A new thread starts without the test's business scope, as a new request would.
        with business_scope(business):
            return customer_create(business=business, actor=None, email=email, name="Ann")

    return create


def _create_both_past_the_check(business: Business) -> list[Outcome]:
    both_checked = threading.Barrier(len(EMAILS), timeout=BARRIER_TIMEOUT)
    with installed_pause("customer_create.checked", both_checked.wait):
        return race(*(_creator(business, email) for email in EMAILS))


def test_racers_use_their_own_database_sessions() -> None:
    both_connected = threading.Barrier(2, timeout=BARRIER_TIMEOUT)

    def backend_pid() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        both_connected.wait()  # both sessions are open at once, so their pids cannot be reused
        return int(pid)

    outcomes = race(backend_pid, backend_pid)

    assert [outcome.error for outcome in outcomes] == [None, None]
    pids = {outcome.result for outcome in outcomes}
    assert len(pids) == 2
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] not in pids


def test_same_email_in_another_case_at_once_creates_one_customer(business: Business) -> None:
    outcomes = _create_both_past_the_check(business)

    winners = [index for index, outcome in enumerate(outcomes) if outcome.succeeded]
    assert len(winners) == 1, outcomes
    winner, loser = winners[0], 1 - winners[0]
    error = outcomes[loser].error
    assert type(error) is Conflict
    assert error.message == f"A customer with the email {EMAILS[loser]} already exists."
    assert error.field_errors == {"email": ["Already used by another customer."]}
    created = outcomes[winner].result
    with business_scope(business):
        assert list(Customer.objects.values_list("pk", "email", "name")) == [
            (created.pk, EMAILS[winner], "Ann")
        ]
        assert list(
            AuditEntry.objects.filter(action="customer.create").values_list("target_id", flat=True)
        ) == [str(created.pk)]


def test_without_the_unique_constraint_the_same_race_creates_two_customers(
    business: Business,
) -> None:
    """Negative control: the race is real, and the constraint is what stops it."""
    with constraint_dropped(Customer, "customer_email_unique_ci"):
        try:
            outcomes = _create_both_past_the_check(business)
            with business_scope(business):
                stored = sorted(Customer.objects.values_list("email", flat=True))
        finally:
            # The duplicates must go before the constraint can be restored.
            with business_scope(business):
                Customer.objects.all().delete()

    assert [outcome.error for outcome in outcomes] == [None, None]
    assert [outcome.result.email for outcome in outcomes] == EMAILS
    assert stored == sorted(EMAILS)
