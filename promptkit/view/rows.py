"""Rows of a ``results.jsonl`` read lazily: a byte-offset index per file, so page N is a seek.

The index maps every row id to the offset of its *latest* line (a retried row is appended again) and
is built once per file without parsing rows: rows written by the runner begin with their ``row_id``
and ``index``, which a regular expression reads from the line's first bytes. It is cached by path;
when the file grows (a run still writing) only the appended lines are scanned, and when it shrinks or
is replaced (``compact``) it is rebuilt. Filtering and sorting by metric, error or text need each row's
numbers: those are parsed once on the first such request and cached the same way.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptkit.redaction import known_secrets, redact

_HEAD = re.compile(rb'^\{"row_id": "([0-9a-f]+)", "index": (\d+)')
_SEARCH_CHARS = 4000  # of a row's inputs and outputs kept, lowercased, for the text filter
PAGE_SIZES = (25, 50, 100, 200)
PASS_THRESHOLD = 0.5  # a row passes at or above it: eval compare's default --threshold


@dataclass
class RowFacts:
    """What filtering and sorting need from one row."""

    values: dict[str, float | None]
    statuses: dict[str, str]
    error: bool
    latency: float | None
    tokens: int
    text: str


@dataclass
class RowIndex:
    """Latest line of every row: row id -> (dataset index, byte offset)."""

    path: Path
    identity: tuple[int, int] = (0, 0)  # (device, inode) of the file indexed
    scanned: int = 0  # bytes scanned: complete lines only
    latest: dict[str, tuple[int, int]] = field(default_factory=dict)
    facts: dict[int, RowFacts] = field(default_factory=dict)  # byte offset -> facts, filled on demand
    _order: list[str] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def count(self) -> int:
        return len(self.latest)

    def order(self) -> list[str]:
        """Row ids sorted by dataset index."""
        if self._order is None:
            self._order = sorted(self.latest, key=lambda rid: (self.latest[rid][0], rid))
        return self._order

    def refresh(self) -> None:
        """Scan what was appended since the last look (or everything, when the file was replaced)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self.latest, self.facts, self.scanned, self._order = {}, {}, 0, None
            return
        identity = (stat.st_dev, stat.st_ino)
        if identity != self.identity or stat.st_size < self.scanned:
            self.identity, self.latest, self.facts, self.scanned, self._order = identity, {}, {}, 0, None
        if stat.st_size == self.scanned:
            return
        with self.path.open("rb") as handle:
            handle.seek(self.scanned)
            offset = self.scanned
            for raw in handle:
                if not raw.endswith(b"\n"):
                    break  # a row still being written: read it next time
                head = _HEAD.match(raw)
                if head is not None:
                    self.latest[head.group(1).decode()] = (int(head.group(2)), offset)
                elif raw.strip():
                    row = _parse(raw)
                    if row is not None:
                        self.latest[str(row["row_id"])] = (int(row.get("index") or 0), offset)
                offset += len(raw)
        self.scanned = offset
        self._order = None

    def read(self, row_id: str) -> dict[str, Any] | None:
        where = self.latest.get(row_id)
        if where is None:
            return None
        with self.path.open("rb") as handle:
            handle.seek(where[1])
            return _parse(handle.readline())

    def read_many(self, row_ids: list[str]) -> list[dict[str, Any]]:
        rows = []
        with self.path.open("rb") as handle:
            for rid in row_ids:
                handle.seek(self.latest[rid][1])
                row = _parse(handle.readline())
                if row is not None:
                    rows.append(row)
        return rows

    def facts_of_all(self) -> dict[str, RowFacts]:
        """Every row's facts (parsed once per appended row, then cached)."""
        missing = sorted(offset for _, offset in self.latest.values() if offset not in self.facts)
        if missing:
            with self.path.open("rb") as handle:
                for offset in missing:
                    handle.seek(offset)
                    row = _parse(handle.readline()) or {}
                    self.facts[offset] = _facts(row)
        return {rid: self.facts[offset] for rid, (_, offset) in self.latest.items()}


_cache: dict[Path, RowIndex] = {}
_cache_lock = threading.Lock()


def row_index(path: Path) -> RowIndex:
    """The index of ``path``, brought up to date (cached across requests)."""
    with _cache_lock:
        index = _cache.setdefault(path, RowIndex(path))
    with index.lock:
        index.refresh()
    return index


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        row = json.loads(raw)
    except ValueError:
        return None
    return row if isinstance(row, dict) and "row_id" in row else None


def _facts(row: dict[str, Any]) -> RowFacts:
    values: dict[str, float | None] = {}
    statuses: dict[str, str] = {}
    for name, outcome in (row.get("metrics") or {}).items():
        outcome = outcome or {}
        statuses[name] = str(outcome.get("status"))
        value = outcome.get("value")
        values[name] = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    text = json.dumps([row.get("inputs"), row.get("prediction"), row.get("error")], ensure_ascii=False)
    return RowFacts(
        values,
        statuses,
        bool(row.get("error")),
        row.get("latency_s"),
        int((row.get("tokens") or {}).get("total") or 0),
        text[:_SEARCH_CHARS].lower(),
    )


@dataclass
class Query:
    """A rows request: filters, sort and page, as given in the URL."""

    text: str = ""
    status: str = ""  # "", "error" (the program raised), "failed" (metric below threshold), "passed"
    metric: str | None = None
    low: float | None = None
    high: float | None = None
    sort: str = "index"  # index, latency, tokens, or a metric name
    descending: bool = False
    page: int = 1
    size: int = 50

    @property
    def needs_facts(self) -> bool:
        return bool(self.text or self.status or self.low is not None or self.high is not None) or self.sort != "index"


def query_rows(index: RowIndex, query: Query) -> tuple[list[dict[str, Any]], int]:
    """The page of rows ``query`` asks for, and how many rows match."""
    with index.lock:
        order = index.order()
        if query.needs_facts:
            facts = index.facts_of_all()
            order = [rid for rid in order if _matches(facts[rid], query)]
            if query.sort != "index":
                order = sorted(order, key=lambda rid: _sort_key(facts[rid], query.sort), reverse=query.descending)
        elif query.descending:
            order = order[::-1]
        start = (query.page - 1) * query.size
        page = order[start : start + query.size]
        return index.read_many(page), len(order)


def _matches(facts: RowFacts, query: Query) -> bool:
    if query.text and query.text.lower() not in facts.text:
        return False
    value = facts.values.get(query.metric) if query.metric else None
    if query.status == "error" and not facts.error:
        return False
    passing = query.status == "passed"
    if query.status in ("passed", "failed") and (value is None or (value >= PASS_THRESHOLD) != passing):
        return False
    if query.low is not None and (value is None or value < query.low):
        return False
    return not (query.high is not None and (value is None or value > query.high))


def _sort_key(facts: RowFacts, sort: str) -> tuple[int, float]:
    value = facts.latency if sort == "latency" else facts.tokens if sort == "tokens" else facts.values.get(sort)
    return (0, float(value)) if isinstance(value, int | float) else (1, 0.0)  # rows without a value last


def redacted(value: Any, secrets: list[str] | None = None) -> Any:
    """``value`` (JSON) with every string that holds a known secret passed through promptkit's one redactor.

    The secrets are looked up once per value shown, not once per string: a page holds thousands of strings.
    """
    secrets = known_secrets() if secrets is None else secrets
    if not secrets:
        return value
    if isinstance(value, str):
        return redact(value, secrets) if any(secret in value for secret in secrets) else value
    if isinstance(value, dict):
        return {k: redacted(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(v, secrets) for v in value]
    return value
