"""Domain errors. Each carries a message a person can act on; the HTTP layer maps the class to
a status code and shows the same message. Nothing is half-written when one is raised: services
raise before writing or inside the transaction that rolls back."""

from __future__ import annotations


def as_typed(text: object, limit: int = 40) -> str:
    """What a person typed, to repeat in a message: at most `limit` characters (a value of
    5,000 characters comes back as its start and an ellipsis, not whole)."""
    value = str(text)
    return value if len(value) <= limit else f"{value[:limit]}…"


class TillbookError(Exception):
    status_code = 400

    def __init__(self, message: str, *, field_errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}


class InvalidInput(TillbookError):
    status_code = 400


class NotFound(TillbookError):
    status_code = 404


class Conflict(TillbookError):
    status_code = 409


class Forbidden(TillbookError):
    status_code = 403
