"""The ``results.jsonl`` store of an evaluation run: one JSON object per evaluated row.

Rows are appended as they complete and flushed to the OS after every row, so a killed
process (even ``kill -9``) loses only the rows still in flight; ``fsync`` runs in batches
(every N rows or T seconds) because a per-row fsync would dominate the cost of fast rows.

A kill can leave a partially written last line. Readers drop it; the writer truncates it
before appending again, so it can never end up glued to the next row. A retried row is
appended again rather than edited in place: readers keep the *latest* line per row id,
and :func:`compact` rewrites the file (atomically) without the superseded lines.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from promptkit.errors import DataError

RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"
RUN_FILE = "run.json"

_MAX_TEXT = 20_000  # longest string kept for one value; huge predictions are truncated, with a marker


def row_id(inputs: Mapping[str, Any], index: int) -> str:
    """Stable id of a dataset row: a hash of its inputs and its position.

    The position is part of the id so that two identical questions at different positions
    stay two rows (a dataset may repeat a question on purpose).
    """
    payload = json.dumps(to_jsonable(dict(inputs), max_text=None), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(f"{index}\n{payload}".encode()).hexdigest()[:16]


def to_jsonable(value: Any, *, max_text: int | None = _MAX_TEXT, _depth: int = 0) -> Any:
    """Convert predictions, examples and pydantic models to plain JSON values.

    Strings longer than ``max_text`` are cut (with a marker) so one runaway prediction cannot
    bloat the results file; pass ``max_text=None`` where every character matters (saved programs).
    """
    if _depth > 20:
        return repr(value)[:200]
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        if max_text is None or len(value) <= max_text:
            return value
        return value[:max_text] + f"... [{len(value) - max_text} more characters]"
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, max_text=max_text, _depth=_depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v, max_text=max_text, _depth=_depth + 1) for v in value]
    to_dict = getattr(value, "toDict", None)  # dspy.Example / dspy.Prediction
    if callable(to_dict):
        return to_jsonable(to_dict(), max_text=max_text, _depth=_depth + 1)
    dump = getattr(value, "model_dump", None)  # pydantic models
    if callable(dump):
        try:
            return to_jsonable(dump(mode="json"), max_text=max_text, _depth=_depth + 1)
        except Exception:
            pass
    return to_jsonable(str(value), max_text=max_text, _depth=_depth + 1)


# ---------------------------------------------------------------------------------------------
# atomic writes


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on directories; the rename is still atomic
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------
# writing


def drop_partial_tail(path: Path) -> bool:
    """Truncate an unterminated last line (left by a kill mid-write). Returns True if one was dropped."""
    if not path.exists():
        return False
    size = path.stat().st_size
    if size == 0:
        return False
    with path.open("rb+") as handle:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":
            return False
        # Scan back to the last newline; the block size keeps this cheap for long rows.
        position = size
        while position > 0:
            step = min(65536, position)
            position -= step
            handle.seek(position)
            block = handle.read(step)
            cut = block.rfind(b"\n")
            if cut != -1:
                handle.truncate(position + cut + 1)
                return True
        handle.truncate(0)
        return True


class ResultsWriter:
    """Appends rows to ``results.jsonl``: flushed per row, fsynced every N rows or T seconds."""

    def __init__(self, path: Path, *, fsync_every_rows: int = 50, fsync_every_seconds: float = 1.0) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        drop_partial_tail(path)
        self._handle: IO[str] | None = path.open("a", encoding="utf-8")
        self._rows_since_sync = 0
        self._last_sync = time.monotonic()
        self._every_rows = fsync_every_rows
        self._every_seconds = fsync_every_seconds

    def append(self, row: Mapping[str, Any]) -> None:
        if self._handle is None:
            raise RuntimeError("ResultsWriter is closed")
        # One write() per row: the line reaches the OS whole or (on a crash inside write) as a
        # partial tail that drop_partial_tail() removes.
        self._handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._handle.flush()
        self._rows_since_sync += 1
        if self._rows_since_sync >= self._every_rows or time.monotonic() - self._last_sync >= self._every_seconds:
            self.sync()

    def sync(self) -> None:
        if self._handle is None:
            return
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._rows_since_sync = 0
        self._last_sync = time.monotonic()

    def close(self) -> None:
        if self._handle is not None:
            self.sync()
            self._handle.close()
            self._handle = None

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------
# reading


def iter_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, row)`` in file order; a partial last line is skipped."""
    if not path.exists():
        return
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                return  # unterminated tail of a killed run: that row was still in flight
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"invalid JSON in the results store ({exc.msg})",
                    path=str(path),
                    line=number,
                    hint="delete that line; `--resume` then reruns the row",
                ) from None
            if not isinstance(row, dict) or "row_id" not in row:
                raise DataError(
                    "not a promptkit result row (no row_id)",
                    path=str(path),
                    line=number,
                    hint="results.jsonl must only contain rows written by promptkit",
                )
            yield number, row


_ROW_ID_PREFIX = re.compile(rb'^\{"row_id": "([0-9a-f]+)"')


def latest_line_numbers(path: Path) -> dict[str, int]:
    """Row id -> line number of its latest version (a retried row appears more than once).

    Rows written here start with their ``row_id``, so it is read from the line's first bytes
    instead of parsing the whole row (rows can be large: they carry prompts). Full parsing, and
    its errors, happen in the pass that reads the rows.
    """
    latest: dict[str, int] = {}
    if not path.exists():
        return latest
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                break
            match = _ROW_ID_PREFIX.match(raw)
            if match is not None:
                latest[match.group(1).decode()] = number
            elif raw.strip():
                try:
                    row = json.loads(raw)
                except json.JSONDecodeError:
                    continue  # reported with its line number by iter_rows
                if isinstance(row, dict) and "row_id" in row:
                    latest[str(row["row_id"])] = number
    return latest


def iter_latest(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the latest version of every row, in file order, without holding the whole file."""
    latest = latest_line_numbers(path)
    for number, row in iter_rows(path):
        if latest.get(str(row["row_id"])) == number:
            yield row


def read_latest(path: Path, ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The latest version of every row (optionally only ``ids``), sorted by dataset index."""
    wanted = None if ids is None else set(ids)
    rows = [row for row in iter_latest(path) if wanted is None or row["row_id"] in wanted]
    rows.sort(key=lambda row: (row.get("index", 0), row["row_id"]))
    return rows


def compact(path: Path) -> int:
    """Rewrite the store keeping only the latest line per row id. Returns the number of lines dropped."""
    if not path.exists():
        return 0
    latest = latest_line_numbers(path)
    with path.open("rb") as handle:
        total = sum(1 for raw in handle if raw.endswith(b"\n") and raw.strip())
    if total == len(latest):
        return 0
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for number, row in iter_rows(path):
                if latest.get(str(row["row_id"])) == number:
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return total - len(latest)


def row_failed(row: Mapping[str, Any]) -> bool:
    """A row needs a retry when the program raised or a metric could not be computed."""
    if row.get("error"):
        return True
    return any(m.get("status") == "error" for m in (row.get("metrics") or {}).values())


def read_json(path: Path, what: str) -> Any:
    if not path.exists():
        raise DataError(f"{what} not found", path=str(path), hint="point at a run directory written by evaluate")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON in {what}: {exc.msg}", path=str(path), line=exc.lineno) from None


def versions() -> dict[str, str]:
    """promptkit, DSPy and Python versions, recorded in run and program files."""
    import platform
    from importlib import metadata

    def installed(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    import promptkit

    own = installed("promptkit") or getattr(promptkit, "__version__", None) or "unknown"
    return {
        "promptkit_version": own,
        "dspy_version": installed("dspy") or "unknown",
        "python_version": platform.python_version(),
    }
