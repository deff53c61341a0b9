"""The REST API v1: bearer tokens per business with scopes, one error shape, tenant scoping.

Handlers parse input, check the token's scope and call a service (DESIGN.md rule 2). Every
handler runs inside the token's business scope, so a query cannot reach another business.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError
from ninja.schema import DjangoGetter
from ninja.security import HttpBearer
from pydantic import model_validator

from tillbook.api.models import ApiToken
from tillbook.api.services import api_token_authenticate
from tillbook.core.errors import Forbidden, InvalidInput, TillbookError
from tillbook.core.scoping import business_scope
from tillbook.insights.periods import FIRST_DAY, LAST_DAY, within_years

# For text query parameters: PostgreSQL refuses a NUL character in any text value, so a search
# for one would end in a server error instead of an answer.
WITHOUT_NUL = r"^[^\x00]*$"


def plausible_times(**times: datetime | None) -> None:
    """Refuse (400) a date and time a client sent (body or query) outside the years Tillbook
    deals with. Year 1 or 9999 parses, but a day, a week or a buffer added to it is past what a
    datetime holds: the OverflowError would be a server error instead of an answer. A 400 from
    the endpoint, not a 422 from the schema: the schema's date-time cannot say so."""
    wrong = {
        field: [f"Give a time between {FIRST_DAY.year} and {LAST_DAY.year}."]
        for field, value in times.items()
        if value is not None and not within_years(value)
    }
    if wrong:
        raise InvalidInput(next(iter(wrong.values()))[0], field_errors=wrong)


class ErrorOut(Schema):
    detail: str
    errors: dict[str, list[str]] = {}


class ValidationErrorOut(Schema):
    detail: list[dict[str, Any]]


class BodySchema(Schema):
    """Base of request bodies: a JSON object, never a list, string, number or null."""

    @model_validator(mode="before")
    @classmethod
    def _require_json_object(cls, data: Any) -> Any:
        # ninja's Schema reads fields as attributes of whatever it is given (to serialise model
        # instances), so without this check a body of `[]` or `"text"` would pass as an object
        # with every field missing, and a PATCH of it would answer 200.
        raw = data._obj if isinstance(data, DjangoGetter) else data
        if not isinstance(raw, dict):
            raise ValueError("The request body must be a JSON object.")
        return data


class InvalidToken(Exception):
    pass


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken:
        api_token = api_token_authenticate(token)
        if api_token is None:
            raise InvalidToken
        return api_token


api = NinjaAPI(
    title="Tillbook API",
    version="1",
    description=(
        "Tillbook's REST API. Authenticate with `Authorization: Bearer <token>`; create tokens "
        "in the back office (Settings → API tokens) or with `tillbook token create`. Each token "
        'belongs to one business and carries scopes. Errors are JSON: `{"detail": message}`.'
    ),
    auth=TokenAuth(),
    urls_namespace="api-v1",
)

# Responses every authenticated operation may give, documented so clients can rely on them.
COMMON_ERRORS: dict[int, Any] = {401: ErrorOut, 403: ErrorOut, 422: ValidationErrorOut}


@api.exception_handler(InvalidToken)
def _invalid_token(request: HttpRequest, exc: InvalidToken) -> HttpResponse:
    return api.create_response(
        request, {"detail": "The API token is not valid or was revoked."}, status=401
    )


@api.exception_handler(AuthenticationError)
def _missing_token(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(
        request,
        {"detail": "Send an API token in the header: Authorization: Bearer <token>."},
        status=401,
    )


@api.exception_handler(TillbookError)
def _domain_error(request: HttpRequest, exc: TillbookError) -> HttpResponse:
    return api.create_response(
        request, {"detail": exc.message, "errors": exc.field_errors}, status=exc.status_code
    )


F = TypeVar("F", bound=Callable[..., Any])


def requires_scope(scope: str) -> Callable[[F], F]:
    """Check the token's scope, then run the handler inside the token's business scope."""

    def decorator(handler: F) -> F:
        @wraps(handler)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            token: ApiToken = request.auth  # type: ignore[attr-defined]
            if scope not in token.scopes:
                raise Forbidden(f"This token does not have the {scope} scope.")
            with business_scope(token.business):
                return handler(request, *args, **kwargs)

        # django-ninja resolves string annotations (PEP 563) in the globals of the function it
        # is given, which would be this module's; hand it the handler's resolved signature.
        wrapper.__signature__ = inspect.signature(handler, eval_str=True)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def current_token(request: HttpRequest) -> ApiToken:
    return request.auth  # type: ignore[attr-defined]
