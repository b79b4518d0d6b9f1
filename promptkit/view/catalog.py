"""What the viewer can show: the run directories under the given roots, and paths confined to them.

A run is named in URLs by a *key*, ``<root number>/<path inside that root>``; :meth:`Catalog.resolve`
turns a key back into a path and refuses (``NotFound``) anything outside the roots: ``..``, absolute
paths, and symlinks that point out. Nothing here writes.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptkit.compile_run import COMPILE_FILE
from promptkit.evaluation.results import RESULTS_FILE, RUN_FILE, SUMMARY_FILE
from promptkit.evaluation.retrieval import RESULT_FILE as RETRIEVAL_FILE

MATRIX_FILE = "matrix.json"
LIVE_SECONDS = 120  # a run without summary.json whose results changed this recently is still running
_CHAIN_SNIFF_BYTES = 4096
_MAX_CHAIN_BYTES = 20_000_000


class NotFound(Exception):
    """A key that names nothing the viewer may show (outside the roots, or not a run)."""


@dataclass
class RunInfo:
    """One row of the runs page."""

    key: str
    kind: str  # eval, compile, matrix, retrieval, chain
    program: str | None = None
    model: str | None = None
    dataset: str | None = None
    metric: str | None = None
    mean: float | None = None
    ci95: list[float] | None = None
    rows: int | None = None
    rows_total: int | None = None
    errors: int | None = None
    cost: float | None = None
    date: str | None = None
    status: str = "done"  # done, running, interrupted
    extra: dict[str, Any] = field(default_factory=dict)
    name: str = ""  # what a person calls it: the path inside its root (the root's own name for the root)


class Catalog:
    """The roots given on the command line, and the runs found under them."""

    def __init__(self, roots: list[Path]) -> None:
        self.roots = [Path(root).resolve() for root in roots]

    def key_of(self, path: Path) -> str:
        resolved = path.resolve()
        for number, root in enumerate(self.roots):
            if resolved == root:
                return str(number)
            if root in resolved.parents:
                return f"{number}/{resolved.relative_to(root).as_posix()}"
        raise NotFound(str(path))

    def resolve(self, key: str) -> Path:
        """The path a key names, inside its root (following symlinks only to places still inside it)."""
        number, _, inside = key.partition("/")
        if not number.isdigit() or int(number) >= len(self.roots):
            raise NotFound(key)
        root = self.roots[int(number)]
        if inside.startswith(("/", "\\")) or any(part == ".." for part in inside.split("/")):
            raise NotFound(key)
        path = (root / inside).resolve()
        if path != root and root not in path.parents:
            raise NotFound(key)
        if not path.exists():
            raise NotFound(key)
        return path

    def runs(self) -> list[RunInfo]:
        found: list[RunInfo] = []
        for root in self.roots:
            if root.is_dir():
                found.extend(self._walk(root))
        found.sort(key=lambda run: run.date or "", reverse=True)
        return found

    def _walk(self, root: Path) -> list[RunInfo]:
        found: list[RunInfo] = []
        for directory, subdirs, files in os.walk(root, followlinks=False):
            here = Path(directory)
            names = set(files)
            info = self.describe(here, names)
            if info is not None:
                found.append(info)
                if info.kind in ("compile", "matrix", "eval", "retrieval"):
                    subdirs[:] = []  # their inner runs are reached from their page
                    continue
            subdirs.sort()
            for name in sorted(names):
                if name.endswith(".json") and name not in (SUMMARY_FILE, RUN_FILE) and not (here / name).is_symlink():
                    chain = self._chain(here / name)
                    if chain is not None:
                        found.append(chain)
        return found

    def describe(self, path: Path, names: set[str] | None = None) -> RunInfo | None:
        """The RunInfo of a run directory (or chain file), None when it is not one."""
        if path.is_file():
            return self._chain(path)
        names = names if names is not None else {p.name for p in path.iterdir()}
        key = self.key_of(path)
        info = None
        if COMPILE_FILE in names:
            info = _compile_info(key, path)
        elif MATRIX_FILE in names:
            info = _matrix_info(key, path)
        elif RETRIEVAL_FILE in names:
            info = _retrieval_info(key, path)
        elif RESULTS_FILE in names or RUN_FILE in names:
            info = eval_info(key, path)
        if info is not None:
            info.name = key.partition("/")[2] or path.name
        return info

    def _chain(self, path: Path) -> RunInfo | None:
        try:
            if path.stat().st_size > _MAX_CHAIN_BYTES:
                return None
            with path.open("rb") as handle:
                head = handle.read(_CHAIN_SNIFF_BYTES)
            if b'"chain"' not in head:
                return None
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or "steps" not in data or "chain" not in data:
            return None
        key = self.key_of(path)
        return RunInfo(
            key,
            "chain",
            program=str(data.get("chain")),
            model=data.get("model"),
            rows=len(data.get("steps") or []),
            date=_mtime(path),
            extra={"tokens": (data.get("tokens") or {}).get("total")},
            name=key.partition("/")[2],
        )


def read_json_file(path: Path) -> Any:
    """A JSON file the runners wrote atomically; None when missing or unreadable (the page says so)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _mtime(path: Path) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(path.stat().st_mtime))


def run_status(path: Path) -> str:
    """done, running (results still growing, no summary yet or newer than it) or interrupted."""
    results, summary = path / RESULTS_FILE, path / SUMMARY_FILE
    if not results.exists():
        return "done" if summary.exists() else "running"
    changed = results.stat().st_mtime
    if summary.exists() and summary.stat().st_mtime >= changed:
        return "done"
    return "running" if time.time() - changed < LIVE_SECONDS else "interrupted"


def eval_info(key: str, path: Path) -> RunInfo:
    run = read_json_file(path / RUN_FILE) or {}
    summary = read_json_file(path / SUMMARY_FILE) or {}
    status = run_status(path)
    primary = summary.get("primary_metric") or (run.get("metrics") or [None])[0]
    metric = (summary.get("metrics") or {}).get(primary) or {}
    info = RunInfo(
        key,
        "eval",
        program=summary.get("program") or run.get("program"),
        model=summary.get("model") or run.get("model"),
        dataset=_dataset_name(run.get("dataset")),
        metric=primary,
        mean=metric.get("mean"),
        ci95=metric.get("ci95"),
        rows=summary.get("rows_done"),
        rows_total=summary.get("rows_total"),
        errors=summary.get("errors"),
        cost=(summary.get("cost") or {}).get("total"),
        date=summary.get("finished_at") or run.get("created"),
        status=status,
    )
    if status != "done" or info.rows is None:
        from promptkit.view.rows import row_index

        info.rows = row_index(path / RESULTS_FILE).count
    return info


def _dataset_name(source: Any) -> str | None:
    """A dataset's file name (its folder too when the name alone says little, like ``train.jsonl``)."""
    if not source:
        return None
    path = Path(str(source))
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def _compile_info(key: str, path: Path) -> RunInfo:
    record = read_json_file(path / COMPILE_FILE) or {}
    metric = (record.get("metrics") or [None])[0]
    after = (record.get("scores") or {}).get("after") or {}
    before = (record.get("scores") or {}).get("before") or {}
    status = record.get("status") or "unknown"
    return RunInfo(
        key,
        "compile",
        program=record.get("program"),
        model=record.get("model"),
        metric=metric,
        mean=after.get("mean"),
        ci95=after.get("ci95"),
        rows=record.get("val_size"),
        errors=after.get("errors"),
        cost=(record.get("lm") or {}).get("cost"),
        date=record.get("finished") or record.get("started"),
        status="done" if status == "done" else status,
        extra={"optimizer": record.get("optimizer"), "before": before.get("mean")},
    )


def _matrix_info(key: str, path: Path) -> RunInfo:
    data = read_json_file(path / MATRIX_FILE) or {}
    cells = data.get("cells") or []
    return RunInfo(
        key,
        "matrix",
        program=", ".join(sorted({str(c.get("program")) for c in cells})),
        model=", ".join(sorted({str(c.get("model")) for c in cells})),
        dataset=", ".join(sorted({str(c.get("dataset")) for c in cells})),
        metric=(data.get("metrics") or [None])[0],
        rows=len(cells),
        errors=sum(1 for c in cells if c.get("error")),
        date=_mtime(path / MATRIX_FILE),
    )


def _retrieval_info(key: str, path: Path) -> RunInfo:
    data = read_json_file(path / RETRIEVAL_FILE) or {}
    scores = data.get("scores") or {}
    metric = next(iter(scores), None)
    return RunInfo(
        key,
        "retrieval",
        program=data.get("mode"),
        model=data.get("embedder"),
        dataset=data.get("collection"),
        metric=metric,
        mean=scores.get(metric) if metric else None,
        ci95=(data.get("ci95") or {}).get(metric) if metric else None,
        rows=data.get("queries"),
        date=_mtime(path / RETRIEVAL_FILE),
    )
