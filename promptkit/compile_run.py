"""``compile_to_dir``: what ``promptkit compile`` does — evaluate, compile, save, evaluate again, compare, report.

``DIR/`` after a run::

    DIR/before/         the val set evaluated with the uncompiled program (the evaluation runner's run dir)
    DIR/program.json    the compiled program (``promptkit.load`` / ``resolve_program`` / plain DSPy ``program.load``)
    DIR/after/          the val set evaluated with the compiled program
    DIR/compile.json    optimizer, options, seed, versions, sizes, LM calls, tokens, cost, time, scores, comparison
    DIR/report.html|md  scores with intervals, instructions before -> after, demos, one val prompt before/after

Each step is written as it completes (the runner streams rows; program.json and compile.json are
atomic), so an interrupted compile keeps the evaluation already made and says where it stopped.
"""

from __future__ import annotations

import datetime
import math
import random
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptkit.errors import InputError
from promptkit.evaluation.results import atomic_write_json, to_jsonable, versions
from promptkit.redaction import redact

COMPILE_FILE = "compile.json"
COMPILE_FORMAT = "promptkit.compile/1"


@dataclass
class CompileResult:
    program: Any
    out: Path
    record: dict[str, Any]

    @property
    def score_before(self) -> float | None:
        return self.record["scores"]["before"]["mean"]

    @property
    def score_after(self) -> float | None:
        return self.record["scores"]["after"]["mean"]


def split_train_val(examples: Sequence[Any], fraction: float, seed: int) -> tuple[list[Any], list[Any]]:
    """A seeded split: ``ceil(fraction * n)`` examples (at least 1) go to val, the rest stay in train."""
    if not 0 < fraction < 1:
        raise InputError(f"--val-split {fraction} must be between 0 and 1", hint="e.g. --val-split 0.2")
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_val = max(1, math.ceil(fraction * len(examples)))
    if len(examples) - n_val < 1:
        raise InputError(
            f"{len(examples)} examples cannot be split into train and val",
            hint="give more training examples, or a separate --val file",
        )
    picked = set(order[:n_val])
    return ([e for i, e in enumerate(examples) if i not in picked], [e for i, e in enumerate(examples) if i in picked])


def compile_to_dir(
    program: Any | str | Path,
    trainset: Sequence[Any] | str | Path,
    metrics: str | Callable[..., Any] | Sequence[str | Callable[..., Any]],
    optimizer: str,
    out: str | Path,
    *,
    valset: Sequence[Any] | str | Path | None = None,
    val_split: float = 0.2,
    seed: int = 0,
    num_threads: int = 4,
    teacher_lm: Any = None,
    reflection_lm: Any = None,
    embedder: Any = None,
    progress: bool = True,
    resume: bool = False,
    **options: Any,
) -> CompileResult:
    """Compile ``program`` with ``optimizer`` and write ``out/`` (see the module docstring).

    ``metrics``: the first is the one the optimizer maximises; all are reported. Without ``valset``,
    ``val_split`` of the train set (seeded by ``seed``) is held out for the before/after evaluation.
    ``resume`` continues an interrupted run in ``out``: ``before/`` skips its finished rows, the optimizer
    resumes from its log where it keeps one (GEPA), and ``after/`` is evaluated afresh for the new program.
    """
    import dspy

    from promptkit.evaluation.compare import compare
    from promptkit.evaluation.rows import resolve_metrics
    from promptkit.evaluation.runner import evaluate
    from promptkit.optimize import compile, load_examples, save_program
    from promptkit.optimizers import preflight
    from promptkit.programs.resolve import PROGRAM_FILE, canonical_ref, resolve_program

    spec = preflight(optimizer, options, reflection_lm)  # a bad optimizer, extra or LM: before any LM call
    program_ref = canonical_ref(program) if isinstance(program, str | Path) else None
    student = resolve_program(program) if program_ref is not None else program
    if not isinstance(student, dspy.Module):
        raise InputError(
            f"program {program_ref or student!r} is not a dspy.Module, so it has nothing to optimize",
            hint="compile a module (module:attr, path.py:attr, technique:ID), not a chain or a function",
        )
    metric_list: list[str | Callable[..., Any]] = (
        [metrics] if isinstance(metrics, str) or callable(metrics) else list(metrics)
    )
    if not metric_list:
        raise InputError("compile needs a metric", hint="pass --metric exact_match (or another metric name)")
    train = load_examples(trainset)
    if valset is not None:
        val = load_examples(valset)
    else:
        train, val = split_train_val(train, val_split, seed)
    if not train or not val:
        raise InputError(
            "the train and val sets must both hold examples", hint="check --data / --val, or lower --val-split"
        )
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "format": COMPILE_FORMAT,
        "status": "running",
        "program": program_ref or _class_name(student),
        "optimizer": optimizer,
        "options": to_jsonable(options),
        "seed": seed,
        "metrics": [m.name for m in resolve_metrics(metric_list)],
        "train_size": len(train),
        "val_size": len(val),
        "model": _model(),
        "teacher_model": _model(teacher_lm),
        "reflection_model": _model(reflection_lm),
        "started": _now(),
        **versions(),
    }
    if spec.caveat:
        record["caveat"] = spec.caveat
    optimizer_options = dict(options)
    if spec.log_dir_keeps and "log_dir" not in options:
        optimizer_options["log_dir"] = str(out_dir / f"{optimizer}_log")
        record["optimizer_log"] = {"dir": optimizer_options["log_dir"], "keeps": spec.log_dir_keeps}
    _write(out_dir, record)
    eval_options: dict[str, Any] = {"num_threads": num_threads, "progress": progress}
    before = evaluate(student.deepcopy(), val, metric_list, out=out_dir / "before", resume=resume, **eval_options)
    record["scores"] = {"before": _score(before.summary, record["metrics"][0])}
    _write(out_dir, record)
    usage = _UsageCounter()
    started = time.perf_counter()
    try:
        with usage.tracking():
            compiled = compile(
                student,
                train,
                metric_list[0],
                optimizer,
                valset=val,
                progress=progress,
                teacher_lm=teacher_lm,
                reflection_lm=reflection_lm,
                embedder=embedder,
                seed=seed,
                num_threads=num_threads,
                score=False,
                **optimizer_options,
            )
    except KeyboardInterrupt:
        # DSPy's optimizers keep their best candidate in local variables; what survives is what an optimizer
        # writes to its log_dir (GEPA's checkpoints, MIPROv2's evaluated candidates).
        kept = record.get("optimizer_log")
        note = (
            f"interrupted while compiling; {kept['dir']} holds {kept['keeps']}"
            if kept
            else "interrupted while compiling; this optimizer exposes no best-so-far program, so none was saved"
        )
        record.update(
            status="interrupted",
            compile_seconds=round(time.perf_counter() - started, 3),
            lm=usage.summary(),
            note=note + " (before/ is complete)",
        )
        _write(out_dir, record)
        raise
    record.update(compile_seconds=round(time.perf_counter() - started, 3), lm=usage.summary())
    save_program(
        compiled,
        out_dir / PROGRAM_FILE,
        metadata={
            "optimizer": optimizer,
            "options": record["options"],
            "metric": record["metrics"][0],
            "seed": seed,
            "train_size": len(train),
            "val_size": len(val),
            "program_ref": program_ref,
        },
    )
    if resume and (out_dir / "after").is_dir():
        shutil.rmtree(out_dir / "after")  # rows of an earlier compiled program: not this one's
    after = evaluate(compiled, val, metric_list, out=out_dir / "after", **eval_options)
    record["scores"]["after"] = _score(after.summary, record["metrics"][0])
    record["comparison"] = _comparison(compare(out_dir / "before", out_dir / "after", record["metrics"][0]))
    record.update(status="done", finished=_now())
    _write(out_dir, record)
    from promptkit.compile_report import write_compile_report

    write_compile_report(out_dir, student, compiled)
    return CompileResult(compiled, out_dir, record)


class _UsageCounter:
    """LM calls (cache hits included), tokens and cost of every LM the optimizer used, copies included, and
    the optimizer's candidate evaluations (dspy.Evaluate calls) with the best score (in %)."""

    def __init__(self) -> None:
        from promptkit.compile_progress import CandidateLog

        self.candidates = CandidateLog()
        self.calls = 0
        self.lms: dict[int, Any] = {}
        self.tokens: dict[str, int] = {"prompt": 0, "completion": 0, "total": 0}
        self._since = time.time()
        self._lock = threading.Lock()

    def tracking(self) -> Any:
        import contextlib

        import dspy
        from dspy.utils.callback import BaseCallback

        counter = self

        class _Count(BaseCallback):
            def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
                with counter._lock:
                    counter.calls += 1
                    counter.lms[id(instance)] = instance

        @contextlib.contextmanager
        def scope() -> Any:
            callbacks = [*(dspy.settings.callbacks or []), _Count(), self.candidates]
            with dspy.context(callbacks=callbacks), dspy.track_usage() as tracker:
                try:
                    yield
                finally:
                    for usage in tracker.get_total_tokens().values():
                        self.tokens["prompt"] += int(usage.get("prompt_tokens") or 0)
                        self.tokens["completion"] += int(usage.get("completion_tokens") or 0)
                        self.tokens["total"] += int(usage.get("total_tokens") or 0)

        return scope()

    def summary(self) -> dict[str, Any]:
        costs = [
            entry.get("cost")
            for lm in self.lms.values()
            for entry in list(getattr(lm, "history", []))
            if _after(entry, self._since)
        ]
        priced = [c for c in costs if isinstance(c, int | float)]
        return {
            "calls": self.calls,
            "tokens": dict(self.tokens),
            "cost": sum(priced) if priced else None,
            "candidate_evaluations": self.candidates.evaluated,
            "best_candidate_score": self.candidates.best,
        }


def _after(entry: Any, since: float) -> bool:
    stamp = entry.get("timestamp") if isinstance(entry, dict) else None
    try:
        return stamp is not None and datetime.datetime.fromisoformat(str(stamp)).timestamp() >= since
    except ValueError:
        return False


def _score(summary: dict[str, Any], metric: str) -> dict[str, Any]:
    entry = summary["metrics"].get(metric) or {}
    return {"mean": entry.get("mean"), "ci95": entry.get("ci95"), "n": entry.get("n"), "errors": entry.get("errors")}


def _comparison(result: Any) -> dict[str, Any]:
    data = result.to_dict()
    return {k: data[k] for k in ("metric", "test", "n_paired", "mean_a", "mean_b", "diff", "ci95", "p_value")} | {
        "improved": len(result.improved),
        "regressed": len(result.regressed),
        "significant": result.significant(),
    }


def _write(out_dir: Path, record: dict[str, Any]) -> None:
    atomic_write_json(out_dir / COMPILE_FILE, to_jsonable(_redacted(record), max_text=None))


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return redact(value) if isinstance(value, str) else value


def _class_name(program: Any) -> str:
    return f"{type(program).__module__}:{type(program).__qualname__}"


def _model(lm: Any = None) -> str | None:
    import dspy

    target = lm if lm is not None else dspy.settings.lm
    return getattr(target, "model", None) if target is not None else None


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


__all__ = ["COMPILE_FILE", "CompileResult", "compile_to_dir", "split_train_val"]
