"""Every table operation the table techniques' papers describe, run in SQLite (stdlib ``sqlite3``).

The table is loaded into an in-memory database as ``t`` with rowid = the 1-based row number:
model-written SQL (:func:`run_sql`, read-only, time-bounded, optionally with Python functions such as
Binder's ``QA``) and Chain-of-Table's atomic operations (:func:`select_rows`, :func:`select_columns`,
:func:`group_by`, :func:`sort_by`, :func:`add_column`).
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from promptkit.techniques.tables import SQLError, Table, cell_text, typed_cell


def quote(name: str) -> str:
    """An SQL identifier for a column name (any characters allowed)."""
    return '"' + name.replace('"', '""') + '"'


def connect(table: Table, functions: Mapping[str, Callable[..., Any]] | None = None) -> sqlite3.Connection:
    """An in-memory database holding ``table`` as ``t`` (rowid = row number), plus the given SQL functions."""
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE TABLE t ({', '.join(quote(c) for c in table.columns)})")
    placeholders = ", ".join("?" * len(table.columns))
    conn.executemany(f"INSERT INTO t VALUES ({placeholders})", table.rows)
    for name, fn in (functions or {}).items():
        conn.create_function(name, -1, fn)
    return conn


def _fetch(
    conn: sqlite3.Connection,
    sql: str,
    params: Sequence[Any] = (),
    timeout: float = 5.0,
    paused: list[float] | None = None,
) -> Table:
    """Run one statement; stop it after ``timeout`` seconds of SQL time (``paused[0]``: seconds spent in
    Python functions the query called — a model call inside ``QA`` — which do not count)."""
    deadline = time.monotonic() + timeout
    outside = paused if paused is not None else [0.0]
    conn.set_progress_handler(lambda: int(time.monotonic() - outside[0] > deadline), 10_000)  # runaway queries
    try:
        cursor = conn.execute(sql, params)
        rows = cursor.fetchall()
    except sqlite3.Error as exc:
        problem = "the query ran too long" if "interrupted" in str(exc) else str(exc)
        raise SQLError(f"SQL failed: {problem}") from None
    columns = tuple(d[0] for d in cursor.description or ())
    return Table(columns, tuple(tuple(r) for r in rows))


def run_sql(
    table: Table, sql: str, *, functions: Mapping[str, Callable[..., Any]] | None = None, timeout: float = 5.0
) -> Table:
    """The result of one read-only ``SELECT`` (or ``WITH``) over ``table`` (named ``t``)."""
    statement = sql.strip().rstrip(";").strip()
    if not re.match(r"(?is)^(select|with)\b", statement) or ";" in statement:
        raise SQLError("write exactly one SELECT statement over the table `t`")
    paused = [0.0]

    def timed(fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            started = time.monotonic()
            try:
                return fn(*args)
            finally:
                paused[0] += time.monotonic() - started

        return call

    conn = connect(table, {name: timed(fn) for name, fn in (functions or {}).items()})
    try:
        conn.execute("PRAGMA query_only = ON")  # the model's SQL reads; it never writes
        return _fetch(conn, statement, timeout=timeout, paused=paused)
    finally:
        conn.close()


def select_rows(table: Table, numbers: Sequence[int]) -> Table:
    """The rows with these 1-based numbers, in table order."""
    wanted = sorted({int(n) for n in numbers if 1 <= int(n) <= len(table.rows)})
    if not wanted:
        raise SQLError(f"no valid row numbers in {list(numbers)!r}; rows are numbered 1 to {len(table.rows)}")
    conn = connect(table)
    try:
        marks = ", ".join("?" * len(wanted))
        return _fetch(conn, f"SELECT * FROM t WHERE rowid IN ({marks}) ORDER BY rowid", wanted)
    finally:
        conn.close()


def select_columns(table: Table, names: Sequence[str]) -> Table:
    columns = list(dict.fromkeys(table.column(n) for n in names))
    if not columns:
        raise SQLError("no column given")
    return _query(table, f"SELECT {', '.join(quote(c) for c in columns)} FROM t ORDER BY rowid")


def group_by(table: Table, name: str) -> Table:
    """One row per value of the column, with how many rows hold it (most frequent first)."""
    column = quote(table.column(name))
    return _query(table, f"SELECT {column}, COUNT(*) AS count FROM t GROUP BY {column} ORDER BY count DESC, {column}")


def sort_by(table: Table, name: str, descending: bool = False) -> Table:
    order = "DESC" if descending else "ASC"
    return _query(table, f"SELECT * FROM t ORDER BY {quote(table.column(name))} {order}, rowid")


def add_column(table: Table, name: str, values: Sequence[Any]) -> Table:
    """The table with a new column; ``values`` fill it row by row (missing ones are NULL)."""
    new = name.strip() or "new_column"
    if new.lower() in (c.lower() for c in table.columns):
        raise SQLError(f"column {new!r} already exists")
    conn = connect(table)
    try:
        conn.execute(f"ALTER TABLE t ADD COLUMN {quote(new)}")
        cells = values[: len(table.rows)]
        updates = [(typed_cell(str(v)) if v is not None else None, i) for i, v in enumerate(cells, 1)]
        conn.executemany(f"UPDATE t SET {quote(new)} = ? WHERE rowid = ?", updates)
        return _fetch(conn, "SELECT * FROM t ORDER BY rowid")
    finally:
        conn.close()


def _query(table: Table, sql: str) -> Table:
    conn = connect(table)
    try:
        return _fetch(conn, sql)
    finally:
        conn.close()


def result_text(result: Table) -> str:
    """A query result as answer text: one value as is, one column as ``a, b``, else Markdown."""
    if len(result.columns) == 1:
        return ", ".join(cell_text(row[0]) for row in result.rows)
    return result.markdown()
