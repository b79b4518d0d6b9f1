"""The evaluation runner behind ``promptkit.evaluate(program, dataset, metrics, ...)``.

Unlike ``dspy.Evaluate`` it never throws finished work away: every row's result is appended to
``out/results.jsonl`` as it completes, a failing row is recorded with its error, ``max_errors``
stops early but keeps what is done, and ``resume`` / ``retry_errors`` continue a run.

Rows run in a thread pool. Each task runs in a copy of the caller's ``contextvars`` context,
so ``with dspy.context(lm=...)`` around ``evaluate`` reaches the workers (plain threads would
only see the global ``dspy.configure`` values). Only a bounded window of rows is in flight, and
written rows are not kept, so memory stays flat in the dataset size.
"""

from __future__ import annotations

import contextvars
import datetime
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any

from promptkit.errors import InputError
from promptkit.evaluation.report import ProgressDisplay
from promptkit.evaluation.results import (
    RESULTS_FILE,
    RUN_FILE,
    SUMMARY_FILE,
    ResultsWriter,
    atomic_write_json,
    compact,
    iter_rows,
    read_json,
    read_latest,
    row_failed,
    row_id,
    versions,
)
from promptkit.evaluation.rows import (
    MetricLike,
    ResolvedMetric,
    RowJob,
    configured_model,
    example_inputs,
    resolve_metrics,
    run_row,
)
from promptkit.evaluation.summary import RowStats, summarize
from promptkit.redaction import known_secrets

RUN_FORMAT = "promptkit.eval-run/1"


@dataclass
class EvaluationResult:
    """What ``evaluate`` returns. ``rows``/``errors`` are read back from ``out`` when it is set."""

    scores: dict[str, float | None]
    summary: dict[str, Any]
    out: Path | None
    stopped_early: str | None = None
    passed: bool | None = None
    _rows: list[dict[str, Any]] | None = field(default=None, repr=False)
    _ids: list[str] = field(default_factory=list, repr=False)

    @property
    def score(self) -> float | None:
        """Mean of the first (primary) metric over the rows where it is ok."""
        return next(iter(self.scores.values()), None)

    @property
    def rows(self) -> list[dict[str, Any]]:
        if self._rows is not None:
            return self._rows
        if self.out is None:
            return []
        return read_latest(self.out / RESULTS_FILE, self._ids)

    @property
    def errors(self) -> list[dict[str, Any]]:
        """Rows where the program raised or a metric could not be computed."""
        return [row for row in self.rows if row_failed(row)]


def evaluate(
    program: Callable[..., Any] | str | Path,
    dataset: Iterable[Any] | str | Path,
    metrics: MetricLike | Sequence[MetricLike],
    *,
    num_threads: int = 4,
    out: str | Path | None = None,
    resume: bool = False,
    retry_errors: bool = False,
    limit: int | None = None,
    max_errors: int | None = None,
    fail_under: float | None = None,
    progress: bool = True,
    capture_prompts: bool = True,
    report: bool = True,
    seed: int = 0,
) -> EvaluationResult:
    """Run ``program`` on every example of ``dataset`` and score it with ``metrics``.

    ``program`` is a callable or a reference that ``promptkit.resolve_program`` resolves
    (``module:attr``, ``path.py:attr``, ``technique:ID``, a chain YAML, a compiled program.json).

    ``dataset`` is an iterable of ``dspy.Example`` (with input keys) or a path loaded with
    ``promptkit.datasets.load``. ``metrics`` are registry names or callables
    ``fn(example, prediction[, trace])``; the first one is the primary metric used by
    ``fail_under`` (a score in [0, 1]). With ``out`` set, results stream to
    ``out/results.jsonl`` and ``summary.json`` / ``report.html`` / ``report.md`` are written.
    """
    if isinstance(program, str | Path):
        from promptkit.programs.resolve import resolve_program

        runnable: Callable[..., Any] = resolve_program(program)
    else:
        runnable = program
    resolved = resolve_metrics(metrics)
    _check_options(num_threads, limit, max_errors, fail_under, out, resume, retry_errors)
    out_dir = Path(out) if out is not None else None
    examples, total = _select(dataset, limit)
    program_name = _describe_program(runnable)
    model = configured_model()
    previous = _prepare_run_dir(
        out_dir, program_name, resolved, model, resume or retry_errors, dataset_name=_describe_dataset(dataset)
    )

    stats: dict[str, RowStats] = dict(previous)
    selection: list[str] = []
    kept_rows: list[dict[str, Any]] | None = None if out_dir else []
    writer = ResultsWriter(out_dir / RESULTS_FILE) if out_dir else None
    display = ProgressDisplay(progress, total, resolved[0].name)
    display.preload(stats.values())
    secrets = known_secrets()
    started = time.perf_counter()
    failed_this_run = done_this_run = retried = 0
    stop_reason: str | None = None
    pending: set[Future[dict[str, Any]]] = set()
    # Finished futures arrive on a queue: cheaper per row than ``wait(FIRST_COMPLETED)``, which
    # installs a waiter on every pending future each time (it shows on cached reruns).
    completed: SimpleQueue[Future[dict[str, Any]]] = SimpleQueue()
    window = max(2, num_threads * 2)

    def jobs() -> Iterator[RowJob]:
        for index, example in enumerate(examples):
            inputs = example_inputs(example, index)
            rid = row_id(inputs, index)
            selection.append(rid)
            old = previous.get(rid)
            if old is not None and not (retry_errors and (old.failed or old.any_metric_error)):
                continue  # finished in an earlier run
            yield RowJob(runnable, example, index, rid, inputs, resolved, capture_prompts, secrets, model)

    job_iter = jobs()
    executor = ThreadPoolExecutor(max_workers=num_threads, thread_name_prefix="promptkit-eval")
    try:
        while True:
            while stop_reason is None and len(pending) < window:
                job = next(job_iter, None)
                if job is None:
                    break
                retried += job.row_id in previous
                # One context copy per task: a Context object cannot be entered by two threads at once.
                future = executor.submit(contextvars.copy_context().run, run_row, job)
                future.add_done_callback(completed.put)
                pending.add(future)
            if not pending:
                break
            finished = _drain(completed)
            pending.difference_update(finished)
            # run_row records every Exception in its row; only an interrupt (KeyboardInterrupt,
            # SystemExit) or BackendDownError (no server left to ask) escapes. The rows finished
            # alongside it are still written first.
            interrupt = next((f.exception() for f in finished if f.exception() is not None), None)
            done = [f.result() for f in finished if f.exception() is None]
            for row in sorted(done, key=lambda r: r["index"]):  # a batch is written in dataset order
                if writer is not None:
                    writer.append(row)
                else:
                    assert kept_rows is not None
                    kept_rows.append(row)
                row_stats = RowStats.from_row(row)
                stats[row["row_id"]] = row_stats
                done_this_run += 1
                failed_this_run += row_failed(row)
                display.advance(row_stats, done_this_run, time.perf_counter() - started)
                if max_errors is not None and failed_this_run >= max_errors and stop_reason is None:
                    stop_reason = (
                        f"stopped early: {failed_this_run} failed rows reached max_errors={max_errors}; "
                        "every finished row was kept, rerun with resume to continue"
                    )
            if interrupt is not None:
                raise interrupt
        if stop_reason is not None:
            for _ in job_iter:  # collect the ids of the rows not run, so earlier results still count
                pass
    except BaseException:
        executor.shutdown(wait=False, cancel_futures=True)
        if writer is not None:
            writer.close()  # fsync what is done: an interrupted run resumes from here
        display.close()
        raise
    executor.shutdown(wait=True)
    display.close()
    if writer is not None:
        writer.close()
        if retried and out_dir is not None:
            compact(out_dir / RESULTS_FILE)

    selected_ids = set(selection)
    selected = [stats[rid] for rid in dict.fromkeys(selection) if rid in stats]
    names = [m.name for m in resolved]
    summary = summarize(selected, names, rows_total=len(selection), seed=seed)
    scores = {name: summary["metrics"][name]["mean"] for name in names}
    primary = scores[names[0]]
    passed = None if fail_under is None else (primary is not None and primary >= fail_under)
    summary.update(
        program=program_name,
        model=model,
        primary_metric=names[0],
        rows_this_run=done_this_run,
        rows_outside_selection=sum(1 for rid in stats if rid not in selected_ids),
        wall_time_s=round(time.perf_counter() - started, 3),
        stopped_early=stop_reason,
        fail_under=fail_under,
        passed=passed,
        finished_at=_now(),
    )
    if out_dir is not None:
        atomic_write_json(out_dir / SUMMARY_FILE, summary)
        if report:
            from promptkit.evaluation.report import write_report

            write_report(out_dir)
    return EvaluationResult(scores, summary, out_dir, stop_reason, passed, kept_rows, selection)


def _drain(completed: SimpleQueue[Future[dict[str, Any]]]) -> list[Future[dict[str, Any]]]:
    """Block for one finished row, then take every other one already finished."""
    finished = [completed.get()]
    while True:
        try:
            finished.append(completed.get_nowait())
        except Empty:
            return finished


def _check_options(
    num_threads: int,
    limit: int | None,
    max_errors: int | None,
    fail_under: float | None,
    out: str | Path | None,
    resume: bool,
    retry_errors: bool,
) -> None:
    if num_threads < 1:
        raise InputError(f"num_threads must be at least 1, got {num_threads}", hint="use --threads 4")
    if limit is not None and limit < 0:
        raise InputError(f"limit must be >= 0, got {limit}")
    if max_errors is not None and max_errors < 1:
        raise InputError(f"max_errors must be >= 1, got {max_errors}", hint="leave it unset to never stop early")
    if fail_under is not None and not 0.0 <= fail_under <= 1.0:
        raise InputError(
            f"fail_under must be a score between 0 and 1, got {fail_under}",
            hint="scores are fractions: use 0.8 for 80%",
        )
    if (resume or retry_errors) and out is None:
        raise InputError("resume and retry_errors need the run directory", hint="pass out=DIR (--out DIR)")


def _select(dataset: Iterable[Any] | str | Path, limit: int | None) -> tuple[Iterable[Any], int | None]:
    rows: Iterable[Any]
    if isinstance(dataset, str | Path):
        from promptkit import datasets

        rows = datasets.load(str(dataset))
    else:
        rows = dataset
    total = len(rows) if isinstance(rows, Sized) else None
    if limit is None:
        return rows, total
    return islice(rows, limit), (min(total, limit) if total is not None else limit)


def _describe_program(program: Callable[..., Any]) -> str:
    kind = program if isinstance(program, type) else type(program)
    if kind.__name__ in {"function", "method"}:
        return getattr(program, "__qualname__", repr(program))
    return f"{kind.__module__}:{kind.__qualname__}"


def _prepare_run_dir(
    out_dir: Path | None,
    program_name: str,
    metrics: list[ResolvedMetric],
    model: str | None,
    continuing: bool,
    *,
    dataset_name: str | None = None,
) -> dict[str, RowStats]:
    """Check the run directory and load the rows an earlier run finished."""
    if out_dir is None:
        return {}
    results = out_dir / RESULTS_FILE
    has_rows = results.exists() and results.stat().st_size > 0
    if has_rows and not continuing:
        raise InputError(
            f"{out_dir} already holds results of an evaluation",
            hint="pass resume=True (--resume) to continue it, retry_errors=True to rerun failed rows, "
            "or choose a new output directory",
        )
    names = [m.name for m in metrics]
    run_file = out_dir / RUN_FILE
    if run_file.exists() and has_rows:
        run = read_json(run_file, "run metadata")
        if run.get("metrics", []) != names:
            raise InputError(
                f"{out_dir} was evaluated with metrics {run.get('metrics')}, not {names}",
                hint="resume with the same metrics, or evaluate into a new output directory",
            )
        for key, now in (("model", model), ("program", program_name)):
            if run.get(key) and now and run[key] != now:
                # Not an error (a renamed route can be the same model), but the rows would mix two setups.
                warnings.warn(
                    f"{out_dir} was started with {key} {run[key]!r}; continuing it with {now!r}", stacklevel=3
                )
    if not run_file.exists() or not has_rows:
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(
            run_file,
            {
                "format": RUN_FORMAT,
                "created": _now(),
                "program": program_name,
                "metrics": names,
                "model": model,
                "dataset": dataset_name,
                **versions(),
            },
        )
    if not has_rows:
        return {}
    # file order: a retried row's later line replaces the earlier one
    return {row["row_id"]: RowStats.from_row(row) for _, row in iter_rows(results)}


def _describe_dataset(dataset: Any) -> str | None:
    """Where the rows came from: the path given, or the file ``promptkit.datasets.load`` read (None for a list)."""
    if isinstance(dataset, str | Path):
        return str(dataset)
    source = getattr(dataset, "source", None)
    return str(source) if source else None


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
