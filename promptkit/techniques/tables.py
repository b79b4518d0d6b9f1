"""Tables for the table-reasoning techniques (binder, dater, chain_of_table): parsing, and their common base.

A table arrives as CSV or TSV text, a Markdown pipe table, a list of dicts, a :class:`Table`, or a
path to a ``.csv``/``.tsv``/``.md`` file; :func:`load_table` turns any of them into a :class:`Table`
(columns, rows of cells typed as int, float, text or None) and a malformed one is a
:class:`~promptkit.errors.DataError` naming the line. The operations on a table run in SQLite
(``table_sql.py``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptkit.errors import DataError, InputError
from promptkit.techniques.base import SignatureLike, TechniqueModule, positive

TABLE_SUFFIXES = (".csv", ".tsv", ".md", ".markdown")
TABLE_HINT = "give CSV text (a header line, then one line per row), a Markdown pipe table, or a list of dicts"


class SQLError(Exception):
    """Model-written SQL (or an operation's arguments) failed; the message is shown to the model."""


@dataclass(frozen=True)
class Table:
    """A table: column names and rows (tuples of int / float / str / None, one per column)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def markdown(self, max_rows: int | None = None, *, numbered: bool = False) -> str:
        """A Markdown pipe table (``numbered``: a leading ``row`` column, 1-based), at most ``max_rows`` rows."""
        shown = self.rows if max_rows is None else self.rows[:max_rows]
        header = (["row"] if numbered else []) + list(self.columns)
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for number, row in enumerate(shown, 1):
            cells = ([str(number)] if numbered else []) + [cell_text(v) for v in row]
            lines.append("| " + " | ".join(cells) + " |")
        if len(shown) < len(self.rows):
            lines.append(f"({len(self.rows) - len(shown)} more rows not shown)")
        return "\n".join(lines)

    def column(self, name: str) -> str:
        """The column called ``name`` (case and surrounding quotes ignored), else :class:`SQLError`."""
        wanted = name.strip().strip("`\"'[]").lower()
        for column in self.columns:
            if column.lower() == wanted:
                return column
        raise SQLError(f"no column named {name!r}; the columns are {', '.join(self.columns)}")


def cell_text(value: Any) -> str:
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def typed_cell(text: str) -> Any:
    """A cell as int, float, or its stripped text; an empty cell is None (NULL in SQLite)."""
    value = text.strip()
    if not value:
        return None
    for convert in (int, float):
        try:
            return convert(value)
        except ValueError:
            pass
    return value


def load_table(value: Any, *, source: str = "table") -> Table:
    """``value`` as a :class:`Table` (see the module docstring); ``source`` names it in errors."""
    if isinstance(value, Table):
        return value
    if isinstance(value, Path) or (isinstance(value, str) and "\n" not in value.strip() and _is_table_file(value)):
        return _load_file(Path(value))
    if isinstance(value, str):
        return parse_table_text(value, source=source)
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        return _from_records(value, source)
    raise InputError(f"{source}: a {type(value).__name__} is not a table", hint=TABLE_HINT)


def _is_table_file(text: str) -> bool:
    """A one-line string names a file when it has a table suffix or the file exists."""
    name = text.strip()
    return bool(name) and (name.lower().endswith(TABLE_SUFFIXES) or Path(name).is_file())


def _load_file(path: Path) -> Table:
    if not path.is_file():
        raise DataError("table file not found", path=str(path), hint="check the path (relative paths start at the cwd)")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the table file ({exc})", path=str(path), hint="save it as UTF-8 text") from None
    return parse_table_text(text, source=str(path))


def parse_table_text(text: str, *, source: str = "table") -> Table:
    """A Markdown pipe table (first non-blank line starts with ``|``) or CSV/TSV text."""
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    if first.lstrip().startswith("|"):
        return _parse_markdown(lines, source)
    return _parse_csv(text, source)


def _check_header(columns: list[str], source: str, line: int) -> tuple[str, ...]:
    names = [c.strip() for c in columns]
    if not names or any(not n for n in names):
        raise DataError("the header has an empty column name", path=source, line=line, hint=TABLE_HINT)
    lowered = [n.lower() for n in names]
    duplicate = next((n for n in names if lowered.count(n.lower()) > 1), None)
    if duplicate is not None:
        raise DataError(
            f"column {duplicate!r} appears twice in the header",
            path=source,
            line=line,
            hint="give every column its own name",
        )
    return tuple(names)


def _parse_csv(text: str, source: str) -> Table:
    delimiter = "\t" if "\t" in next((line for line in text.splitlines() if line.strip()), "") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header: tuple[str, ...] | None = None
    rows: list[tuple[Any, ...]] = []
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = _check_header(cells, source, line)
                continue
            if len(cells) != len(header):
                raise DataError(
                    f"line {line} has {len(cells)} fields, the header has {len(header)}",
                    path=source,
                    line=line,
                    hint='quote cells that contain the delimiter, e.g. "1,000"',
                )
            rows.append(tuple(typed_cell(c) for c in cells))
    except csv.Error as exc:
        raise DataError(f"line {reader.line_num}: {exc}", path=source, line=reader.line_num, hint=TABLE_HINT) from None
    return _non_empty(header, rows, source)


def _split_row(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [cell.replace("\\|", "|").strip() for cell in re.split(r"(?<!\\)\|", inner)]


def _parse_markdown(lines: list[str], source: str) -> Table:
    header: tuple[str, ...] | None = None
    rows: list[tuple[Any, ...]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if not line.lstrip().startswith("|"):
            raise DataError(
                f"line {number} is not a table row (it does not start with '|')",
                path=source,
                line=number,
                hint="every line of a Markdown table starts with '|'",
            )
        cells = _split_row(line)
        if header is None:
            header = _check_header(cells, source, number)
        elif all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
            continue  # the |---|---| separator
        elif len(cells) != len(header):
            raise DataError(
                f"line {number} has {len(cells)} cells, the header has {len(header)}",
                path=source,
                line=number,
                hint="give every row one cell per column",
            )
        else:
            rows.append(tuple(typed_cell(c) for c in cells))
    return _non_empty(header, rows, source)


def _from_records(records: Sequence[Any], source: str) -> Table:
    columns: dict[str, None] = {}
    for number, record in enumerate(records, 1):
        if not isinstance(record, Mapping):
            raise InputError(f"{source}: row #{number} is a {type(record).__name__}, not a dict", hint=TABLE_HINT)
        columns.update(dict.fromkeys(str(k) for k in record))
    names = _check_header(list(columns), source, 1) if columns else None
    rows = [tuple(_plain(record.get(name)) for name in columns) for record in records]
    return _non_empty(names, rows, source)


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, int | float | str) else str(value)


def _non_empty(header: tuple[str, ...] | None, rows: list[tuple[Any, ...]], source: str) -> Table:
    if header is None or not rows:
        raise DataError("the table has no rows", path=source, hint=TABLE_HINT)
    return Table(header, tuple(rows))


# --- SQLite ------------------------------------------------------------------------------------------------


TABLE = ("table", "the table, in Markdown", str)


class TableTechnique(TechniqueModule):
    """Base of binder, dater and chain_of_table: where the table comes from, and how it is shown.

    The table is the ``table`` input when the signature has one (``"table, question -> answer"``: a
    table per call, as in WikiTQ / TabFact), else the ``table`` option (fixed at build time; the CLI's
    ``--table FILE``). Either way every step sees it as the ``table`` field, rendered as Markdown with
    at most ``max_rows`` rows.
    """

    def __init__(self, signature: SignatureLike, table: Any, max_rows: int, timeout: float = 5.0) -> None:
        super().__init__(signature)
        tid = self.technique_id
        self.table_input = "table" in self.signature.input_fields
        self.max_rows = positive("max_rows", max_rows, tid)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise InputError(
                f"technique {tid!r}: option timeout={timeout!r} must be a number of seconds > 0", hint="pass timeout=5"
            )
        self.timeout = float(timeout)
        self.fixed_table = None if table is None else load_table(table, source="option table")
        if self.fixed_table is None and not self.table_input:
            raise InputError(
                f"technique {tid!r} needs a table: a `table` input field or the option table=...",
                hint='use a signature like "table, question -> answer", or pass table="data.csv" '
                "(CLI: promptkit ask ... --table FILE)",
            )

    def _table_field(self) -> tuple[tuple[str, str, Any], ...]:
        """The ``table`` input the steps add (none when the user's signature already has it)."""
        return () if self.table_input else (TABLE,)

    def _split(self, kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], Table]:
        """(the other inputs, the table) for one call."""
        inputs = self._inputs(kwargs)
        if self.table_input:
            return {k: v for k, v in inputs.items() if k != "table"}, load_table(inputs["table"], source="input table")
        assert self.fixed_table is not None  # checked in __init__
        return inputs, self.fixed_table

    def _show(self, table: Table, *, numbered: bool = False) -> str:
        return table.markdown(self.max_rows, numbered=numbered)


__all__ = [
    "TABLE",
    "SQLError",
    "Table",
    "TableTechnique",
    "cell_text",
    "load_table",
    "parse_table_text",
    "typed_cell",
]
