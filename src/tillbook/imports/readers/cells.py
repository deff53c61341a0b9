"""Reading named cells of a row, with problems that name the column as the file spells it."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from decimal import Decimal

from tillbook.core.money import is_known_currency
from tillbook.imports.base import ColumnError, ReadContext, Row
from tillbook.imports.cells import CellError, parse_count, parse_minor, parse_quantity
from tillbook.imports.dates import parse_datetime


def _label(row: Row, name: str) -> str:
    index = row.header.index.get(name)
    return row.header.headers[index] if index is not None else name


def currency(row: Row, name: str, fallback: str = "") -> str:
    code = (row.get(name) or fallback).strip().upper()
    if not is_known_currency(code):
        raise ColumnError(_label(row, name), f"“{code}” is not a currency code")
    return code


def minor(row: Row, name: str, code: str, context: ReadContext) -> int:
    try:
        return parse_minor(row.get(name), code, decimal_mark=context.decimal_mark)
    except CellError as error:
        raise ColumnError(_label(row, name), str(error)) from None


def count(row: Row, name: str) -> int:
    try:
        return parse_count(row.get(name))
    except CellError as error:
        raise ColumnError(_label(row, name), str(error)) from None


def quantity(row: Row, name: str, context: ReadContext) -> Decimal:
    try:
        return parse_quantity(row.get(name), decimal_mark=context.decimal_mark)
    except CellError as error:
        raise ColumnError(_label(row, name), str(error)) from None


def day(row: Row, name: str, context: ReadContext) -> date:
    text = row.get(name)
    if not text:
        raise ColumnError(_label(row, name), "the date is empty")
    try:
        return context.dates.parse(text, row.line)
    except CellError as error:
        raise ColumnError(_label(row, name), str(error)) from None


def optional_day(row: Row, name: str, context: ReadContext) -> date | None:
    return day(row, name, context) if row.get(name) else None


def moment(row: Row, name: str, context: ReadContext, zone: tzinfo) -> datetime:
    try:
        return parse_datetime(row.get(name), row.line, context.dates, zone)
    except CellError as error:
        raise ColumnError(_label(row, name), str(error)) from None


def required(row: Row, name: str) -> str:
    value = row.get(name)
    if not value:
        raise ColumnError(_label(row, name), "is empty")
    return value
