"""Compare two runs (paired, with a significance test) and run a programs × models × datasets matrix.

``compare`` pairs rows by row id (same inputs at the same position) and tests the paired
difference: exact McNemar for 0/1 metrics, the sign test otherwise, plus a seeded paired
bootstrap CI of the mean difference. MLflow is the only harness in the notes that reports
whether a difference is real; raw deltas of two noisy runs mislead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from promptkit.errors import InputError, PromptkitError
from promptkit.evaluation.results import RESULTS_FILE, SUMMARY_FILE, atomic_write_json, atomic_write_text, iter_latest
from promptkit.evaluation.summary import binomial_two_sided, bootstrap_ci


@dataclass
class CompareResult:
    metric: str
    run_a: str
    run_b: str
    test: str
    n_common: int  # rows present in both runs
    n_paired: int  # rows where the metric is ok in both runs
    only_a: int
    only_b: int
    mean_a: float | None
    mean_b: float | None
    diff: float | None  # mean of (b - a) over paired rows
    ci95: tuple[float, float] | None
    p_value: float | None
    improved: list[dict[str, Any]] = field(default_factory=list)  # failed in A, passed in B
    regressed: list[dict[str, Any]] = field(default_factory=list)  # passed in A, failed in B
    status_changed: list[dict[str, Any]] = field(default_factory=list)  # ok in one run, error in the other

    def significant(self, alpha: float = 0.05) -> bool:
        return self.p_value is not None and self.p_value < alpha

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _load_run(run: Any) -> tuple[str, dict[str, dict[str, Any]], str | None]:
    """Rows of a run directory (or an EvaluationResult) keyed by row id, plus its primary metric."""
    from promptkit.evaluation.results import read_json

    if hasattr(run, "rows") and hasattr(run, "summary"):
        label = str(run.out) if getattr(run, "out", None) else "in-memory run"
        return label, {row["row_id"]: row for row in run.rows}, run.summary.get("primary_metric")
    directory = Path(run)
    results = directory / RESULTS_FILE
    if not results.exists():
        raise InputError(
            f"{directory} is not an evaluation run (no {RESULTS_FILE})", hint="pass the --out DIR of a run"
        )
    primary = None
    if (directory / SUMMARY_FILE).exists():
        primary = read_json(directory / SUMMARY_FILE, "summary.json").get("primary_metric")
    rows = {}
    for row in iter_latest(results):
        rows[row["row_id"]] = {k: row.get(k) for k in ("row_id", "index", "inputs", "metrics", "error")}
    return str(directory), rows, primary


def _value(row: Mapping[str, Any], metric: str) -> float | None:
    outcome = (row.get("metrics") or {}).get(metric) or {}
    value = outcome.get("value")
    return float(value) if outcome.get("status") == "ok" and isinstance(value, int | float) else None


def compare(
    run_a: Any, run_b: Any, metric: str | None = None, *, threshold: float = 0.5, seed: int = 0
) -> CompareResult:
    """Paired comparison of run B against run A (directories or ``EvaluationResult``s).

    A row *passes* when its metric value is >= ``threshold``; rows that cross it are listed as
    improved / regressed.
    """
    label_a, rows_a, primary = _load_run(run_a)
    label_b, rows_b, _ = _load_run(run_b)
    common = [rid for rid in rows_a if rid in rows_b]
    names_a = {n for row in rows_a.values() for n in (row.get("metrics") or {})}
    names_b = {n for row in rows_b.values() for n in (row.get("metrics") or {})}
    shared = names_a & names_b
    if metric is None:
        metric = primary if primary in shared else (sorted(shared)[0] if shared else None)
    if metric is None or metric not in shared:
        raise InputError(
            f"metric {metric!r} is not in both runs (run A has {sorted(names_a)}, run B has {sorted(names_b)})",
            hint="pass --metric with a metric both runs computed",
        )
    pairs: list[tuple[float, float]] = []
    result = CompareResult(
        metric,
        label_a,
        label_b,
        "",
        len(common),
        0,
        len(rows_a) - len(common),
        len(rows_b) - len(common),
        None,
        None,
        None,
        None,
        None,
    )
    for rid in sorted(common, key=lambda r: rows_a[r].get("index", 0)):
        a, b = _value(rows_a[rid], metric), _value(rows_b[rid], metric)
        brief = {"row_id": rid, "index": rows_a[rid].get("index"), "inputs": rows_a[rid].get("inputs"), "a": a, "b": b}
        if a is None or b is None:
            if (a is None) != (b is None):
                result.status_changed.append(brief)
            continue
        pairs.append((a, b))
        if a >= threshold > b:
            result.regressed.append(brief)
        elif b >= threshold > a:
            result.improved.append(brief)
    result.n_paired = len(pairs)
    if pairs:
        diffs = [b - a for a, b in pairs]
        result.mean_a = sum(a for a, _ in pairs) / len(pairs)
        result.mean_b = sum(b for _, b in pairs) / len(pairs)
        result.diff = sum(diffs) / len(diffs)
        result.ci95 = bootstrap_ci(diffs, seed=seed)
        if all(v in (0.0, 1.0) for pair in pairs for v in pair):
            result.test = "McNemar (exact)"
            gained = sum(1 for a, b in pairs if b > a)
            lost = sum(1 for a, b in pairs if a > b)
            result.p_value = binomial_two_sided(gained, gained + lost)
        else:
            result.test = "sign test"
            up = sum(1 for d in diffs if d > 0)
            down = sum(1 for d in diffs if d < 0)
            result.p_value = binomial_two_sided(up, up + down)
    return result


# ---------------------------------------------------------------------------------------------
# matrix


@dataclass
class MatrixCell:
    program: str
    model: str
    dataset: str
    out: str | None
    scores: dict[str, float | None]
    summary: dict[str, Any]
    error: str | None = None


@dataclass
class MatrixResult:
    metrics: list[str]
    cells: list[MatrixCell]
    out: Path | None

    def table(self) -> list[dict[str, Any]]:
        rows = []
        for cell in self.cells:
            latency = (cell.summary.get("latency_s") or {}).get("p50")
            rows.append(
                {
                    "program": cell.program,
                    "model": cell.model,
                    "dataset": cell.dataset,
                    **cell.scores,
                    "failed_rows": cell.summary.get("errors"),
                    "tokens": (cell.summary.get("tokens") or {}).get("total"),
                    "latency_p50_s": latency,
                    "error": cell.error,
                }
            )
        return rows

    def to_markdown(self) -> str:
        header = ["program", "model", "dataset", *self.metrics, "failed rows", "tokens", "p50 s", "error"]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in self.table():
            cells = [
                row["program"],
                row["model"],
                row["dataset"],
                *(_cell(row.get(m)) for m in self.metrics),
                _cell(row["failed_rows"]),
                _cell(row["tokens"]),
                _cell(row["latency_p50_s"]),
                row["error"] or "",
            ]
            lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
        return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "x"


def _named(items: Mapping[str, Any] | Sequence[Any] | None, describe: Callable[[Any], str]) -> dict[str, Any]:
    if items is None:
        return {}
    if isinstance(items, Mapping):
        return dict(items)
    named: dict[str, Any] = {}
    for item in items:
        name = describe(item)
        named[name if name not in named else f"{name}-{len(named)}"] = item
    return named


def _model_label(model: Any) -> str:
    return "default" if model is None else model if isinstance(model, str) else str(getattr(model, "model", model))


def _program_label(program: Any) -> str:
    return getattr(program, "__name__", None) or type(program).__name__


def matrix(
    programs: Mapping[str, Any] | Sequence[Any],
    models: Mapping[str, Any] | Sequence[Any] | None,
    datasets: Mapping[str, Any] | Sequence[Any],
    metrics: Any,
    *,
    out: str | Path | None = None,
    resume: bool = False,
    **evaluate_options: Any,
) -> MatrixResult:
    """Evaluate every program × model × dataset cell (each into ``out/<program>__<model>__<dataset>``).

    Models are LM objects or model strings for ``promptkit.lm``; ``None`` (or an empty list) uses
    the configured LM. A cell that fails (backend down, bad data) is recorded and the others still run.
    """
    import dspy

    from promptkit.evaluation.runner import evaluate, resolve_metrics
    from promptkit.lm import choose_lm

    names = [m.name for m in resolve_metrics(metrics)]
    named_programs = _named(programs, _program_label)
    named_models = _named(models, _model_label) or {"default": None}
    named_data = _named(datasets, lambda d: Path(d).stem if isinstance(d, str | Path) else "dataset")
    if not named_programs or not named_data:
        raise InputError("a matrix needs at least one program and one dataset")
    out_dir = Path(out) if out is not None else None
    loaded: dict[str, Any] = {}
    lms: dict[str, Any] = {}
    cells: list[MatrixCell] = []
    for data_name, data in named_data.items():
        for model_name, model in named_models.items():
            for program_name, program in named_programs.items():
                cell_dir = (
                    out_dir / f"{_slug(program_name)}__{_slug(model_name)}__{_slug(data_name)}" if out_dir else None
                )
                where = str(cell_dir) if cell_dir else None
                try:
                    if data_name not in loaded:
                        loaded[data_name] = _load_dataset(data)
                    if model_name not in lms:
                        lms[model_name] = choose_lm(model) if model is not None else None
                    lm = lms[model_name]
                    cell_resume = resume and cell_dir is not None and cell_dir.exists()
                    with dspy.context(**({"lm": lm} if lm is not None else {})):
                        run = evaluate(
                            program, loaded[data_name], metrics, out=cell_dir, resume=cell_resume, **evaluate_options
                        )
                    cells.append(MatrixCell(program_name, model_name, data_name, where, run.scores, run.summary))
                except PromptkitError as exc:  # this cell cannot run; the others still do
                    error = f"{type(exc).__name__}: {exc}"
                    cells.append(
                        MatrixCell(program_name, model_name, data_name, where, dict.fromkeys(names), {}, error)
                    )
    result = MatrixResult(names, cells, out_dir)
    if out_dir is not None:
        atomic_write_json(out_dir / "matrix.json", {"metrics": names, "cells": [asdict(c) for c in cells]})
        atomic_write_text(out_dir / "matrix.md", result.to_markdown())
    return result


def _load_dataset(data: Any) -> Iterable[Any]:
    if isinstance(data, str | Path):
        from promptkit import datasets

        return datasets.load(str(data))
    return data if isinstance(data, Sequence) else list(data)  # reused by several cells
