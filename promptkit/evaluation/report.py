"""What a person sees of a run: the live progress bar, the summary table, report.html / report.md.

The HTML report is self-contained (the plot is embedded as base64) so it can be attached to a
CI job or mailed. Without matplotlib the plot is skipped and the report says so.
"""

from __future__ import annotations

import base64
import heapq
import html
import io
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from promptkit.evaluation.results import (
    RESULTS_FILE,
    SUMMARY_FILE,
    atomic_write_text,
    iter_latest,
    read_json,
    row_failed,
)
from promptkit.evaluation.summary import RowStats

REPORT_HTML = "report.html"
REPORT_MD = "report.md"
PLOT_PNG = "plot.png"
NO_PLOT_NOTE = "plot skipped: matplotlib is not installed (pip install matplotlib)"


class ProgressDisplay:
    """A rich progress bar with the running score, rows/s, errors and tokens (TTY only)."""

    def __init__(self, enabled: bool, total: int | None, primary: str) -> None:
        self._primary = primary
        self._sum = 0.0
        self._count = self._errors = self._tokens = self._completed = 0
        self._progress: Any = None
        if not enabled:
            return
        from rich.console import Console

        console = Console(stderr=True)
        if not console.is_terminal:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]eval"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"),
            console=console,
        )
        self._progress.start()
        self._task = self._progress.add_task("eval", total=total, status="")

    def preload(self, stats: Iterable[RowStats]) -> None:
        """Rows finished by an earlier run count toward the running score."""
        for row in stats:
            self._add(row)
        self._refresh(0, 0.0)

    def advance(self, row: RowStats, done_this_run: int, elapsed: float) -> None:
        self._add(row)
        self._refresh(done_this_run, elapsed)

    def _add(self, row: RowStats) -> None:
        self._completed += 1
        value = row.values.get(self._primary)
        if value is not None:
            self._sum += value
            self._count += 1
        self._errors += row.failed or row.any_metric_error
        self._tokens += row.total_tokens

    def _refresh(self, done_this_run: int, elapsed: float) -> None:
        if self._progress is None:
            return
        score = f"{self._sum / self._count:.3f}" if self._count else "-"
        rate = done_this_run / elapsed if elapsed > 0 else 0.0
        status = f"{self._primary}={score}  {rate:.1f} rows/s  errors={self._errors}  tokens={self._tokens}"
        self._progress.update(self._task, completed=self._completed, status=status)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def summary_table(summary: Mapping[str, Any]) -> Any:
    """The summary as a rich Table (printed by the CLI)."""
    from rich.table import Table

    table = Table(title=f"{summary.get('program', 'program')}  ·  model {summary.get('model') or '-'}")
    table.add_column("metric")
    table.add_column("mean", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_column("n ok", justify="right")
    table.add_column("errors", justify="right")
    for name, metric in summary["metrics"].items():
        table.add_row(name, _fmt(metric["mean"]), _fmt_ci(metric["ci95"]), str(metric["n"]), str(metric["errors"]))
    table.caption = " · ".join(_facts(summary))
    return table


def _facts(summary: Mapping[str, Any]) -> list[str]:
    latency = summary.get("latency_s") or {}
    cost = (summary.get("cost") or {}).get("total")
    facts = [
        f"rows {summary.get('rows_done')}/{summary.get('rows_total')}",
        f"failed rows {summary.get('errors', 0)}",
        f"metric errors {summary.get('metric_errors', 0)}",
        f"tokens {summary.get('tokens', {}).get('total', 0)}",
        f"cost {'unknown' if cost is None else f'${cost:.4f}'}",
        f"latency p50 {_fmt(latency.get('p50'))}s p95 {_fmt(latency.get('p95'))}s",
        f"cache hits {summary.get('cache_hits', 0)}",
    ]
    split = summary.get("deployments")
    if split:  # a LiteLLM Router run: which deployment answered how many rows
        facts.append("deployments " + ", ".join(f"{name} {counts['rows']} rows" for name, counts in split.items()))
    if summary.get("stopped_early"):
        facts.append(str(summary["stopped_early"]))
    if summary.get("fail_under") is not None:
        facts.append(f"gate {'passed' if summary.get('passed') else 'FAILED'} (fail_under={summary['fail_under']})")
    return facts


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"


def _fmt_ci(ci: Any) -> str:
    return "-" if not ci else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


# ---------------------------------------------------------------------------------------------
# report files


def write_report(out_dir: str | Path, *, worst: int = 20) -> dict[str, Path]:
    """Write report.html and report.md (and plot.png when matplotlib is available) into ``out_dir``."""
    out_dir = Path(out_dir)
    summary = read_json(out_dir / SUMMARY_FILE, "summary.json")
    primary = summary.get("primary_metric") or next(iter(summary["metrics"]), None)
    worst_rows, latencies, per_row = _scan_rows(out_dir / RESULTS_FILE, primary, worst)
    png = _plot(summary, latencies, per_row)
    written = {"html": out_dir / REPORT_HTML, "md": out_dir / REPORT_MD}
    if png is not None:
        (out_dir / PLOT_PNG).write_bytes(png)
        written["png"] = out_dir / PLOT_PNG
    atomic_write_text(written["html"], _html(summary, worst_rows, png))
    atomic_write_text(written["md"], _markdown(summary, worst_rows, png is not None))
    return written


def _worst_key(row: Mapping[str, Any], primary: str | None) -> tuple[int, float, int]:
    """Failed rows first, then the lowest primary score; ties broken by dataset index."""
    outcome = (row.get("metrics") or {}).get(primary or "", {})
    value = outcome.get("value") if outcome.get("status") == "ok" else None
    return (0 if row_failed(row) else 1, float(value) if value is not None else -1.0, int(row.get("index", 0)))


def _scan_rows(path: Path, primary: str | None, worst: int) -> tuple[list[dict[str, Any]], list[float], list[float]]:
    """One streaming pass: the ``worst`` rows, every latency and every primary score."""
    heap: list[tuple[tuple[float, float, int], int, dict[str, Any]]] = []
    latencies: list[float] = []
    scores: list[float] = []
    for serial, row in enumerate(iter_latest(path)):
        if isinstance(row.get("latency_s"), int | float):
            latencies.append(float(row["latency_s"]))
        outcome = (row.get("metrics") or {}).get(primary or "", {})
        if outcome.get("status") == "ok" and isinstance(outcome.get("value"), int | float):
            scores.append(float(outcome["value"]))
        key = _worst_key(row, primary)
        if key[0] == 1 and key[1] >= 1.0:
            continue  # a perfect row is not among the worst, however few rows failed
        negated = (-key[0], -key[1], -key[2])  # heapq is a min-heap: keep the smallest keys by negating
        if len(heap) < worst:
            heapq.heappush(heap, (negated, serial, row))
        elif negated > heap[0][0]:
            heapq.heapreplace(heap, (negated, serial, row))
    rows = [row for _, _, row in heap]
    rows.sort(key=lambda r: _worst_key(r, primary))
    return rows, latencies, scores


def _plot(summary: Mapping[str, Any], latencies: list[float], scores: list[float]) -> bytes | None:
    try:
        import matplotlib  # noqa: F401  (an optional dependency: without it the report carries a note)
    except ImportError:
        return None
    # The object API with the Agg canvas: no pyplot global state (safe off the main thread), and a
    # fixed layout, because tight_layout measures every tick label and cost more than the drawing.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(summary["metrics"])
    means = [summary["metrics"][n]["mean"] or 0.0 for n in names]
    errs = [
        [m - (summary["metrics"][n]["ci95"] or [m, m])[0] for n, m in zip(names, means, strict=True)],
        [(summary["metrics"][n]["ci95"] or [m, m])[1] - m for n, m in zip(names, means, strict=True)],
    ]
    figure = Figure(figsize=(13, 3.6))
    FigureCanvasAgg(figure)
    left, middle, right = figure.subplots(1, 3)
    figure.subplots_adjust(left=0.05, right=0.99, bottom=0.13, top=0.9, wspace=0.22)
    left.bar(names, means, yerr=errs, capsize=6, color="#4c72b0")
    left.set_ylim(0, 1.05)
    left.set_title("score (mean, 95% CI)")
    middle.hist(scores, bins=20, range=(0, 1), color="#55a868")
    middle.set_title(f"{summary.get('primary_metric')} per row")
    right.hist(latencies, bins=30, color="#c44e52")
    right.set_title("latency per row (s)")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "…"


def _metric_cells(row: Mapping[str, Any]) -> str:
    parts = []
    for name, outcome in (row.get("metrics") or {}).items():
        shown = _fmt(outcome.get("value")) if outcome.get("status") == "ok" else outcome.get("status", "?")
        parts.append(f"{name}={shown}")
    return ", ".join(parts)


def _html(summary: Mapping[str, Any], rows: list[dict[str, Any]], png: bytes | None) -> str:
    e = html.escape
    metric_rows = "".join(
        f"<tr><td>{e(n)}</td><td>{_fmt(m['mean'])}</td><td>{_fmt_ci(m['ci95'])}</td>"
        f"<td>{m['n']}</td><td>{m['errors']}</td></tr>"
        for n, m in summary["metrics"].items()
    )
    plot = (
        f'<img alt="scores and latency" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        if png is not None
        else f"<p><em>{e(NO_PLOT_NOTE)}</em></p>"
    )
    items = []
    for row in rows:
        error = row.get("error")
        messages = row.get("prompt") or []
        prompt = "".join(
            f"<p><b>{e(str(m.get('role', '?')))}</b></p><pre>{e(str(m.get('content', '')))}</pre>"
            for m in messages
            if isinstance(m, dict)
        )
        items.append(
            f"<tr><td>{row.get('index')}</td><td>{e(_short(row.get('inputs')))}</td>"
            f"<td>{e(_short(row.get('gold')))}</td><td>{e(_short(row.get('prediction')))}</td>"
            f"<td>{e(_metric_cells(row))}</td>"
            f"<td>{e(error['type'] + ': ' + _short(error['message'], 500)) if error else ''}</td></tr>"
            f"<tr><td></td><td colspan=5><details><summary>prompt sent to the LM</summary>"
            f"{prompt or '<p>no prompt recorded</p>'}</details></td></tr>"
        )
    facts = "".join(f"<li>{e(f)}</li>" for f in _facts(summary))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>promptkit evaluation: {e(str(summary.get("program")))}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:80em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top;font-size:90%}}pre{{white-space:pre-wrap}}</style>
</head><body>
<h1>Evaluation report</h1>
<p>program <code>{e(str(summary.get("program")))}</code> · model <code>{e(str(summary.get("model")))}</code>
 · finished {e(str(summary.get("finished_at")))}</p>
<table><tr><th>metric</th><th>mean</th><th>95% CI</th><th>n ok</th><th>errors</th></tr>{metric_rows}</table>
<ul>{facts}</ul>
{plot}
<h2>Worst rows</h2>
{"" if items else "<p>every row scored 1 on the primary metric</p>"}
<table><tr><th>#</th><th>inputs</th><th>gold</th><th>prediction</th><th>metrics</th><th>error</th></tr>
{"".join(items)}</table>
</body></html>
"""


def _md_cell(value: Any, limit: int = 120) -> str:
    # Markdown viewers render inline HTML: escape it like the HTML report does
    return html.escape(_short(value, limit), quote=False).replace("|", "\\|").replace("\n", " ")


def _markdown(summary: Mapping[str, Any], rows: list[dict[str, Any]], has_plot: bool) -> str:
    lines = [
        "# Evaluation report",
        "",
        f"program `{summary.get('program')}` · model `{summary.get('model')}` · finished {summary.get('finished_at')}",
        "",
        "| metric | mean | 95% CI | n ok | errors |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, m in summary["metrics"].items():
        lines.append(f"| {name} | {_fmt(m['mean'])} | {_fmt_ci(m['ci95'])} | {m['n']} | {m['errors']} |")
    lines += ["", *(f"- {fact}" for fact in _facts(summary)), ""]
    lines.append(f"![scores and latency]({PLOT_PNG})" if has_plot else f"_{NO_PLOT_NOTE}_")
    lines += ["", "## Worst rows", ""]
    lines += ["| # | inputs | gold | prediction | metrics | error |", "|---|---|---|---|---|---|"]
    for row in rows:
        error = row.get("error")
        lines.append(
            f"| {row.get('index')} | {_md_cell(row.get('inputs'))} | {_md_cell(row.get('gold'))} | "
            f"{_md_cell(row.get('prediction'))} | {_md_cell(_metric_cells(row))} | "
            f"{_md_cell(error['type'] + ': ' + error['message']) if error else ''} |"
        )
    lines += ["", f"Prompts of each row: see {REPORT_HTML} or the `prompt` field in {RESULTS_FILE}.", ""]
    return "\n".join(lines)
