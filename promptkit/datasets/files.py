"""Raw record readers: JSONL, JSON arrays, CSV and Parquet files -> ``(line, record)`` pairs.

Each reader yields either a dict or a :class:`RowProblem` for a record that is not one (invalid
JSON, a CSV row with the wrong number of values), always with the line it starts on, so the
policy in ``core`` can report or skip it. ``.gz`` files are read transparently.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from promptkit.errors import DataError

from .core import RowProblem

RawRow = tuple[int, "dict[str, Any] | RowProblem"]
_SNIFF_BYTES = 8192


def open_text(path: Path, newline: str | None = None) -> IO[str]:
    """Open a data file as UTF-8 text (gzip when it ends in .gz).

    A missing, empty or binary file is a DataError saying so, before any record is read.
    """
    if not path.exists():
        raise DataError("file not found", path=str(path), hint="check the path (relative paths start at the cwd)")
    if path.is_dir():
        raise DataError("is a folder, not a data file", path=str(path), hint="only BEIR datasets are folders")
    _check_head(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline=newline)
    return path.open("r", encoding="utf-8", newline=newline)


def _open_bytes(path: Path) -> BinaryIO:
    if path.suffix == ".gz":
        return cast(BinaryIO, gzip.open(path, "rb"))
    return path.open("rb")


def _check_head(path: Path) -> None:
    """Reject an empty file, a UTF-16 file and a binary file (a NUL byte early on) with a message that says which."""
    try:
        with _open_bytes(path) as stream:
            head = stream.read(_SNIFF_BYTES)
    except gzip.BadGzipFile:
        raise DataError(
            "not a gzip file, though the name ends in .gz",
            path=str(path),
            hint="decompress it or rename it without .gz",
        ) from None
    if not head.strip():
        what = "empty" if not head else "blank (only whitespace)"
        raise DataError(
            f"the file is {what}: there are no rows to read",
            path=str(path),
            hint="add rows: one JSON object per line (.jsonl), or a header line and rows (.csv)",
        )
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DataError(
            "the file is UTF-16 text, not UTF-8",
            path=str(path),
            line=1,
            hint="save it as UTF-8 (in Excel: 'CSV UTF-8')",
        )
    nul = head.find(b"\0")
    if nul != -1:
        raise DataError(
            f"binary data, not a text file (a NUL byte at offset {nul})",
            path=str(path),
            line=head.count(b"\n", 0, nul) + 1,
            hint="pass a JSONL, JSON, CSV or TSV text file (Parquet files end in .parquet)",
        )


def undecodable(path: Path, error: UnicodeDecodeError) -> DataError:
    """The DataError for a file that is not UTF-8, naming the line of the first bad byte.

    The decoder's own offset is relative to the chunk it was reading, so the file is read again to
    find the byte; this runs once, on the way to an error.
    """
    with _open_bytes(path) as stream:
        data = stream.read()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return DataError(
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start} ({exc.reason})",
            path=str(path),
            line=data.count(b"\n", 0, exc.start) + 1,
            hint="save the file as UTF-8 (it may be Latin-1 / Windows-1252)",
        )
    return DataError(f"not UTF-8 text ({error.reason})", path=str(path), hint="save the file as UTF-8")


def _not_an_object(value: Any) -> RowProblem:
    return RowProblem(f"expected a JSON object ({{...}}) per row, got {type(value).__name__}")


def read_jsonl(path: Path) -> Iterator[RawRow]:
    """One JSON object per line; blank lines are ignored, line numbers are physical lines."""
    with open_text(path) as stream:
        try:
            for number, text in enumerate(stream, start=1):
                if not text.strip():
                    continue
                try:
                    value = json.loads(text.rstrip("\r\n"))  # so the column points into the line
                except json.JSONDecodeError as error:
                    yield number, RowProblem(f"invalid JSON: {error.msg} (column {error.colno})")
                    continue
                yield number, value if isinstance(value, dict) else _not_an_object(value)
        except UnicodeDecodeError as error:
            raise undecodable(path, error) from None


def read_json_array(path: Path) -> Iterator[RawRow]:
    """A JSON array of objects (the official HotPotQA layout); each record reports the line it starts on.

    Records are decoded one at a time with ``raw_decode`` so a broken record can name its line.
    After a syntax error the rest of the array cannot be located reliably, so reading stops there.
    """
    with open_text(path) as stream:
        try:
            text = stream.read()
        except UnicodeDecodeError as error:
            raise undecodable(path, error) from None
    decoder = json.JSONDecoder()
    position = _skip_space(text, 0)
    if position >= len(text) or text[position] != "[":
        raise DataError(
            "expected a JSON array of records ([{...}, ...])",
            path=str(path),
            line=text.count("\n", 0, position) + 1,
            hint="use .jsonl for one object per line",
        )
    position = _skip_space(text, position + 1)
    line, counted_to = 1, 0
    while position < len(text) and text[position] != "]":
        line += text.count("\n", counted_to, position)
        counted_to = position
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            yield error.lineno, RowProblem(f"invalid JSON: {error.msg} (column {error.colno}); reading stopped here")
            return
        yield line, value if isinstance(value, dict) else _not_an_object(value)
        position = _skip_space(text, end)
        if position < len(text) and text[position] == ",":
            position = _skip_space(text, position + 1)
        elif position < len(text) and text[position] != "]":
            at = line + text.count("\n", counted_to, position)
            yield at, RowProblem("invalid JSON: expected ',' or ']' between records; reading stopped here")
            return


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def read_csv(path: Path) -> Iterator[RawRow]:
    """CSV (or TSV for .tsv) with a header row; values stay strings, empty cells become ''."""
    delimiter = "\t" if path.name.removesuffix(".gz").endswith(".tsv") else ","
    with open_text(path, newline="") as stream:  # the csv module handles line endings itself
        try:
            reader = csv.reader(stream, delimiter=delimiter)
            header = next(reader, None)
            if header is None:
                return
            header = [name.strip().lstrip("\ufeff") for name in header]
            _check_header(path, header)
            previous_end = reader.line_num
            for values in reader:
                start, previous_end = previous_end + 1, reader.line_num
                if not values:
                    continue
                if len(values) != len(header):
                    yield start, RowProblem(f"row has {len(values)} values but the header has {len(header)} columns")
                    continue
                yield start, dict(zip(header, values, strict=True))
        except csv.Error as error:
            raise DataError(f"malformed CSV: {error}", path=str(path), line=reader.line_num) from None
        except UnicodeDecodeError as error:
            raise undecodable(path, error) from None


def _check_header(path: Path, header: list[str]) -> None:
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise DataError(f"duplicate column names {duplicates}", path=str(path), line=1, hint="rename the columns")
    if any(not name for name in header):
        raise DataError("the header has an empty column name", path=str(path), line=1, hint="name every column")


def read_parquet(path: Path) -> Iterator[RawRow]:
    """Parquet through pyarrow (imported lazily: it is an optional dependency); 'line' is the 1-based row number."""
    if not path.exists():
        raise DataError("file not found", path=str(path))
    try:
        import pyarrow.parquet as parquet
    except ImportError:
        raise DataError(
            "reading Parquet needs the pyarrow package, which is not installed",
            path=str(path),
            hint="pip install pyarrow (or convert the file to JSONL/CSV)",
        ) from None
    try:
        parquet_file = parquet.ParquetFile(path)
    except Exception as error:  # pyarrow raises its own ArrowInvalid/OSError family
        raise DataError(f"not a readable Parquet file: {error}", path=str(path)) from None
    row = 0
    for batch in parquet_file.iter_batches():
        for record in batch.to_pylist():
            row += 1
            yield row, record
