"""One evaluation row: resolve the metrics, run the program, score it, describe the row.

Split from the runner so each stays short; the runner owns threads, storage and the summary.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from promptkit.errors import BackendDownError, InputError
from promptkit.evaluation.results import to_jsonable
from promptkit.lm.router_config import DEPLOYMENT_KEY
from promptkit.redaction import redact

# ---------------------------------------------------------------------------------------------
# metrics

MetricLike = str | Callable[..., Any]


@dataclass(frozen=True)
class ResolvedMetric:
    name: str
    fn: Callable[..., Any]
    scorer: Callable[..., Any] | None  # registry metrics: score(example, prediction) -> MetricResult
    wants_trace: bool


def resolve_metrics(metrics: MetricLike | Sequence[MetricLike]) -> list[ResolvedMetric]:
    """Turn metric names (``promptkit.metrics`` registry) and callables into named metrics."""
    items: list[MetricLike] = [metrics] if isinstance(metrics, str) or callable(metrics) else list(metrics)
    if not items:
        raise InputError("no metric given", hint="pass metrics=['exact_match'] (--metric exact_match) or a callable")
    resolved: list[ResolvedMetric] = []
    for item in items:
        fn: Callable[..., Any]
        if isinstance(item, str) and ":" in item and not item.startswith(":"):
            # module:attr or path/to/file.py:attr: a metric function of the user's (registry names have no ':')
            from promptkit.programs.resolve import resolve_attr

            fn, name = resolve_attr(item, what="metric"), item.rpartition(":")[2]
            if not callable(fn):
                raise InputError(
                    f"metric {item!r} is a {type(fn).__name__}, not a function",
                    hint="point at fn(example, prediction[, trace])",
                )
        elif isinstance(item, str):
            from promptkit.evaluation import metrics as registry  # lazy: the metrics pull in optional libraries

            fn, name = registry.get(item), item
        elif callable(item):
            fn = item
            name = str(getattr(item, "name", None) or getattr(item, "__name__", None) or type(item).__name__)
        else:
            raise InputError(f"metric {item!r} is neither a registered name nor a callable")
        if name in {m.name for m in resolved}:
            raise InputError(f"metric {name!r} is given twice", hint="give each metric once")
        scorer = getattr(fn, "score", None)
        resolved.append(ResolvedMetric(name, fn, scorer if callable(scorer) else None, _wants_trace(fn)))
    return resolved


def _wants_trace(fn: Callable[..., Any]) -> bool:
    """True when ``fn`` requires a third positional ``trace`` argument (no default)."""
    import inspect

    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 3 and positional[2].default is inspect.Parameter.empty


def score_metric(metric: ResolvedMetric, example: Any, prediction: Any) -> dict[str, Any]:
    """One metric on one row: ``{"value", "status", "error"}``; an exception is a status, never a 0."""
    try:
        if metric.scorer is not None:
            result = metric.scorer(example, prediction)
            status = str(getattr(result, "status", "ok"))
            value = getattr(result, "value", None)
            error = getattr(result, "error", None)
            if status == "ok":
                return {"value": _as_number(value), "status": "ok", "error": None}
            return {"value": None, "status": status, "error": None if error is None else str(error)}
        raw = metric.fn(example, prediction, None) if metric.wants_trace else metric.fn(example, prediction)
        return {"value": _as_number(raw), "status": "ok", "error": None}
    except Exception as exc:
        return {"value": None, "status": "error", "error": f"{type(exc).__name__}: {exc}"[:2000]}


def _as_number(value: Any) -> float:
    score = getattr(value, "score", value)  # dspy.Prediction(score=..., feedback=...) from GEPA-style metrics
    if isinstance(score, bool | int | float):
        if score != score:  # NaN would silently poison the mean
            raise ValueError("the metric returned NaN")
        return float(score)
    raise TypeError(f"the metric returned {type(value).__name__}; a metric must return a number or a bool")


# ---------------------------------------------------------------------------------------------
# one row


@dataclass(frozen=True)
class RowJob:
    program: Callable[..., Any]
    example: Any
    index: int
    row_id: str
    inputs: dict[str, Any]
    metrics: list[ResolvedMetric]
    capture_prompts: bool
    secrets: list[str]
    model: str | None


class _CallLog:
    """Receives DSPy's history entry of every LM call made while one row runs.

    DSPy appends each call's entry (messages, usage, cost, model) to ``.history`` of every module
    in ``settings.caller_modules``, a context variable and therefore private to the row's thread.
    It is the only per-call record that carries the cost (``lm.history`` is shared by all threads).
    ``__len__`` is 0 so DSPy never trims it, and it keeps running totals instead of the entries.
    """

    def __init__(self) -> None:
        self.calls = 0
        self.uncached = 0
        self.prompt_tokens = self.completion_tokens = self.total_tokens = 0
        self.cost: float | None = None
        self.model: str | None = None
        self.messages: Any = None
        self.reply: str | None = None  # the raw text of the last call's first choice, before the adapter parsed it
        self.deployments: dict[str, int] = {}  # Router deployment -> calls it answered (uncached)

    def append(self, entry: dict[str, Any]) -> None:
        self.calls += 1
        usage = entry.get("usage") or {}
        if usage:  # DSPy records an empty usage for a cache hit
            self.uncached += 1
            self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            self.completion_tokens += int(usage.get("completion_tokens") or 0)
            self.total_tokens += int(usage.get("total_tokens") or 0)
        cost = entry.get("cost")
        if isinstance(cost, int | float) and usage:
            self.cost = (self.cost or 0.0) + float(cost)
        self.model = entry.get("model") or self.model
        self.messages = entry.get("messages")
        self.reply = _reply_text(entry.get("outputs"))
        deployment = _deployment_of(entry.get("response")) if usage else None
        if deployment:
            self.deployments[deployment] = self.deployments.get(deployment, 0) + 1

    def pop(self, index: int = -1) -> None:
        return None

    def __len__(self) -> int:
        return 0


def _reply_text(outputs: Any) -> str | None:
    """The first choice of a DSPy history entry's ``outputs``: a string, or a dict holding ``text``."""
    first = outputs[0] if isinstance(outputs, list) and outputs else None
    if isinstance(first, dict):
        first = first.get("text")
    return first if isinstance(first, str) else None


def _deployment_of(response: Any) -> str | None:
    """The Router deployment that produced a response (promptkit.lm.router stamps it), else None."""
    data = getattr(response, "provider_data", None)
    value = data.get(DEPLOYMENT_KEY) if isinstance(data, dict) else None
    return str(value) if value else None


class _RowProbe:
    def __init__(self) -> None:
        self.history = _CallLog()


def run_row(job: RowJob) -> dict[str, Any]:
    """Run the program and the metrics on one example; failures go into the row, except BackendDownError."""
    import dspy

    from promptkit.adapter.rendered import recording_templates  # with DSPy: the adapter package imports it

    probe = _RowProbe()
    prediction: Any = None
    error: dict[str, str] | None = None
    callers = list(dspy.settings.caller_modules or [])
    started = time.perf_counter()
    # A fresh trace per row: DSPy's default trace is one process-wide list that grows with every call.
    with dspy.context(trace=[], caller_modules=[probe, *callers]), recording_templates() as templates:
        try:
            prediction = job.program(**job.inputs)
        except BackendDownError:
            raise  # not this row's failure: the run stops, keeps what is done, and --resume reruns this row
        except Exception as exc:
            message = redact(str(exc), job.secrets)
            error = {"type": type(exc).__name__, "message": message[:4000]}
    latency = time.perf_counter() - started
    if error is None:
        outcomes = {m.name: score_metric(m, job.example, prediction) for m in job.metrics}
        for outcome in outcomes.values():
            if outcome["error"]:
                outcome["error"] = redact(outcome["error"], job.secrets)
    else:
        skipped = {"value": None, "status": "skipped", "error": "the program failed on this row"}
        outcomes = {m.name: dict(skipped) for m in job.metrics}
    log = probe.history
    return {
        "row_id": job.row_id,
        "index": job.index,
        "inputs": to_jsonable(job.inputs),
        "gold": to_jsonable(_labels(job.example)),
        "prediction": _prediction_dict(prediction),
        "metrics": outcomes,
        "error": error,
        "latency_s": round(latency, 6),
        "tokens": {"prompt": log.prompt_tokens, "completion": log.completion_tokens, "total": log.total_tokens},
        "lm_calls": log.calls,
        "cost": log.cost,
        "model": log.model or job.model,
        "cache_hit": (log.uncached == 0) if log.calls else None,
        "deployments": dict(sorted(log.deployments.items())) or None,
        "prompt": to_jsonable(log.messages) if job.capture_prompts else None,
        "reply": redact(log.reply, job.secrets) if job.capture_prompts and log.reply is not None else None,
        "template_versions": sorted(templates) or None,
        "finished_at": _now(),
    }


def example_inputs(example: Any, index: int) -> dict[str, Any]:
    try:
        return dict(example.inputs())
    except (AttributeError, ValueError):
        raise InputError(
            f"dataset row {index} has no declared input keys ({type(example).__name__})",
            hint="build rows as dspy.Example(...).with_inputs('question'), or load them with promptkit.datasets.load",
        ) from None


def _labels(example: Any) -> dict[str, Any]:
    try:
        return dict(example.labels())
    except (AttributeError, ValueError):
        return {}


def _prediction_dict(prediction: Any) -> dict[str, Any] | None:
    if prediction is None:
        return None
    value = to_jsonable(prediction)
    return value if isinstance(value, dict) else {"output": value}


def configured_model() -> str | None:
    import dspy

    lm = dspy.settings.lm
    return getattr(lm, "model", None) if lm is not None else None


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
