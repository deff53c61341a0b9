"""Inserting many rows without building a model instance per row.

`bulk_create` spends most of a large import in per-value Python: Model.__init__,
get_db_prep_save and SQL assembly for every field of every row, several times what the database
needs to store the row (bench/: customers.import). For rows whose values are already clean,
`insert_rows` hands them straight to the driver: COPY on PostgreSQL, where an INSERT costs the
server about ten times what a COPY row does, and executemany on SQLite, which has no round trip
to save.

It applies no field defaults, no pre_save (auto_now) and sends no signals, so it is only for
services that set every column themselves, inside their own transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from itertools import islice
from typing import Any

from django.db import connection, models

# Table and column names below come from model metadata and are quoted; values are parameters.
_TEMPORARY_TABLE = "tillbook_insert_rows"
COPY_CHUNK = 1000  # rows of COPY text sent at once by copy_lines


def insert_rows(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    ignore_conflicts: bool = False,
) -> None:
    """INSERT `rows` (values in the order of `fields`) into `model`'s table.

    With `ignore_conflicts`, rows that would break a unique constraint are skipped.
    """
    if not connection.in_atomic_block:
        # Rows go in several statements; outside a transaction a failure would leave some.
        raise RuntimeError("insert_rows must run inside transaction.atomic().")
    meta = model._meta
    quote = connection.ops.quote_name
    model_fields = [_column_field(model, name) for name in fields]
    table = quote(meta.db_table)
    columns = ", ".join(quote(field.column) for field in model_fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _copy(cursor, table, columns, rows, ignore_conflicts=ignore_conflicts)
            return
        moments = [i for i, f in enumerate(model_fields) if isinstance(f, models.DateTimeField)]
        placeholders = ", ".join(["%s"] * len(model_fields))
        conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""  # SQLite 3.24+
        insert = f"INSERT INTO {table} ({columns}) VALUES ({placeholders}){conflict}"  # noqa: S608
        cursor.executemany(insert, _adapt_datetimes(rows, moments))


def copy_text(value: str) -> str:
    """`value` as a field of PostgreSQL's COPY text format: its backslashes, tabs, newlines and
    carriage returns escaped (a field never holds a NUL: PostgreSQL's text cannot)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = value.replace("\\", "\\\\").replace("\t", "\\t")
        value = value.replace("\n", "\\n").replace("\r", "\\r")
    return value


def copy_key(value: int | None) -> str:
    """A key (or none) as a field of COPY's text format."""
    return "\\N" if value is None else str(value)


def copy_lines(model: type[models.Model], fields: Sequence[str], lines: Iterable[str]) -> None:
    """On PostgreSQL, COPY `lines` into `model`'s table: rows already in COPY's text format,
    the values of `fields` in that order, tab-separated, each line ending in a newline.

    For callers that make the text where it costs least: psycopg's formatting of each value
    (an aware datetime above all) cost an import more than the rest of its work on a row.
    """
    if connection.vendor != "postgresql":
        raise RuntimeError("copy_lines writes PostgreSQL's COPY format.")
    if not connection.in_atomic_block:
        raise RuntimeError("copy_lines must run inside transaction.atomic().")
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(_column_field(model, name).column) for name in fields)
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        # Sent a thousand rows at a time: PostgreSQL writes them while the next are made.
        iterator = iter(lines)
        while chunk := "".join(islice(iterator, COPY_CHUNK)):
            copy.write(chunk)


def _column_field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise ValueError(f"{model._meta.label}.{name} is not a column.")
    return field


def _copy(
    cursor: Any, table: str, columns: str, rows: Iterable[Sequence[Any]], *, ignore_conflicts: bool
) -> None:
    target = table
    if ignore_conflicts:
        # COPY has no ON CONFLICT: copy into a temporary table, then INSERT … SELECT from it.
        target = _TEMPORARY_TABLE
        empty_copy = f"SELECT {columns} FROM {table} WITH NO DATA"  # noqa: S608
        cursor.execute(f"CREATE TEMPORARY TABLE {target} AS {empty_copy}")
    with cursor.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    if ignore_conflicts:
        select = f"SELECT {columns} FROM {target}"  # noqa: S608
        cursor.execute(f"INSERT INTO {table} ({columns}) {select} ON CONFLICT DO NOTHING")
        cursor.execute(f"DROP TABLE {target}")


def stored_moment(value: datetime, zone: tzinfo | None) -> str:
    """On SQLite, the text a datetime field stores for `value`: naive, in the connection's zone
    `zone` (connection.timezone, read once by the caller: UTC). The same text Django's
    adapt_datetimefield_value writes, at a fraction of its cost for an aware datetime (a
    processor export has a different moment on every row). insert_rows takes this text for a
    moment as it is: a caller storing one moment twice makes it once."""
    if type(value) is datetime and value.tzinfo is not None and zone is not None:
        if value.tzinfo is zone:  # already in the zone: its text less "+00:00"
            return value.isoformat(" ")[:-6]
        return str(value.astimezone(zone).replace(tzinfo=None))
    return str(connection.ops.adapt_datetimefield_value(value))


def _adapt_datetimes(rows: Iterable[Sequence[Any]], positions: list[int]) -> list[list[Any]]:
    # SQLite stores datetimes as naive text in the connection's zone; text given for a moment
    # is that already (stored_moment).
    zone = connection.timezone
    result = []
    for row in rows:
        values = list(row)
        for i in positions:
            value = values[i]
            if value is not None and type(value) is not str:
                values[i] = stored_moment(value, zone)
        result.append(values)
    return result
