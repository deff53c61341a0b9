from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from django import forms
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse

from tillbook.core.csvfiles import csv_lines
from tillbook.core.errors import TillbookError
from tillbook.core.models import Business
from tillbook.core.scoping import business_scope


def apply_error(form: forms.BaseForm, error: TillbookError) -> None:
    """Show a domain error on the form: on its fields where it names them, else on top."""
    placed = False
    for field, messages in error.field_errors.items():
        if field in form.fields:
            for message in messages:
                form.add_error(field, message)
            placed = True
    if not placed:
        form.add_error(None, error.message)


def paginate(request: HttpRequest, items: QuerySet, per_page: int = 50) -> Page:
    return Paginator(items, per_page).get_page(request.GET.get("page"))


def csv_response(
    filename: str, *, business: Business, rows: Callable[[], Iterable[Iterable[object]]]
) -> StreamingHttpResponse:
    """Stream a CSV download. The rows are produced after the view has returned, so the
    generator opens the business scope itself."""

    def body() -> Iterator[str]:
        with business_scope(business):
            yield "\ufeff"  # lets Excel open UTF-8 correctly
            yield from csv_lines(rows())

    response = StreamingHttpResponse(body(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
