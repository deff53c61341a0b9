"""Schema fuzzing: requests built from the OpenAPI document, sent to the app in-process.

Every response must be documented: no 5xx, a status code the document lists for the operation,
and a body that matches the schema for that status.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import Case

from tillbook.core.models import Business
from tillbook.customers.models import Customer
from tillbook.wsgi import application

config = schemathesis.Config.from_dict(
    {
        # The test sends a real token itself; generated Authorization headers would only be
        # replaced by it, so negative cases "without a token" would be sent with one.
        "generation": {"with-security-parameters": False},
        "operations": [
            {
                # JSON Schema cannot say which strings are email addresses or phone numbers
                # Tillbook accepts; the service answers 400 with a message for those.
                "include-method": ["POST", "PATCH"],
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["2xx", "400", "401", "403", "404", "409"]
                    }
                },
            },
            {
                # Time ranges and time zones are checked by the service (end after start, at
                # most 62 days; IANA names), and booking answers 409 when the time is taken.
                "include-tag": "scheduling",
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["2xx", "400", "401", "403", "404", "409"]
                    }
                },
            },
        ],
    }
)
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application, config=config)


@pytest.fixture
def shared_connection() -> Iterator[None]:
    """Let in-process requests run inside the test's transaction.

    Django's WSGI handler closes "old" database connections when a request starts and ends;
    inside a test transaction that would drop the connection and the test's data with it.
    django.test.Client disconnects the same handler for the same reason.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(
    business: Business,
    make_customer: Callable[..., Customer],
    make_token: Callable[..., str],
    shared_connection: None,
) -> dict[str, str]:
    """A token with every scope for a business that already has a few customers."""
    make_customer(business, "ann@example.com", name="Ann Archer", tags=["vip"])
    make_customer(business, "bob@example.org", phone="+442071838750", marketing_consent=True)
    make_customer(business, "cy@example.net", notes="Prefers mornings")
    return {"Authorization": f"Bearer {make_token(business)}"}


@schema.parametrize()
@settings(
    max_examples=40,
    # Same requests on every run, so a failure in CI reproduces locally.
    derandomize=True,
    database=None,
    deadline=None,
    # The token fixture is made once per operation and shared by its examples on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_answers_every_request_as_documented(case: Case, bearer: dict[str, str]) -> None:
    case.call_and_validate(headers=bearer)
