"""The metric contract: DSPy-compatible ``metric(example, prediction, trace=None)`` plus ``score()``.

``__call__`` is what ``dspy.Evaluate`` and the optimizers call: it returns a float (or a bool for
pass/fail metrics, or ``value >= threshold`` while an optimizer is tracing) and raises on failure.
``score()`` is what promptkit's runner calls: it never raises for a metric failure and returns a
:class:`MetricResult` whose ``status`` says whether the value is real (``ok``), the metric broke
(``error``, with the reason), or it does not apply to this row (``skipped``, e.g. no gold answer).
A failure is therefore never recorded as a silent 0.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from promptkit.errors import PromptkitError

Status = Literal["ok", "error", "skipped"]
FieldSpec = str | Sequence[str]
_MAX_ERROR_CHARS = 500


class MetricError(PromptkitError):
    """A metric could not compute a value for a row (a missing prediction field, a broken judge...)."""


class MetricNotApplicable(MetricError):
    """The metric does not apply to this row (e.g. the example has no gold answer): status ``skipped``."""


@dataclass(frozen=True)
class MetricResult:
    value: float | None
    status: Status
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def read_field(obj: Any, name: str) -> Any:
    """``obj[name]`` for dicts / ``dspy.Example`` / ``dspy.Prediction``, else ``getattr``; ``MISSING`` if absent."""
    if isinstance(obj, Mapping):
        return obj.get(name, MISSING)
    try:
        return obj[name]
    except (KeyError, TypeError, IndexError, AttributeError):
        pass
    return getattr(obj, name, MISSING)


def _candidates(field: FieldSpec) -> tuple[str, ...]:
    return (field,) if isinstance(field, str) else tuple(field)


def predicted(prediction: Any, field: FieldSpec) -> Any:
    """The prediction's value for ``field`` (the first present of several names); a bare string is the value."""
    if isinstance(prediction, str):
        return prediction
    for name in _candidates(field):
        value = read_field(prediction, name)
        if value is not MISSING:
            return value
    names = " or ".join(repr(n) for n in _candidates(field))
    raise MetricError(
        f"the prediction has no {names} field",
        hint="set the metric's field= option to the output field your program produces",
    )


def gold(example: Any, field: FieldSpec) -> Any:
    """The example's gold value for ``field``; absent or null means the metric does not apply (skipped)."""
    for name in _candidates(field):
        value = read_field(example, name)
        if value is not MISSING and value is not None:
            return value
    names = " or ".join(repr(n) for n in _candidates(field))
    raise MetricNotApplicable(f"the example has no gold {names} field", hint="set the metric's gold_field= option")


def gold_texts(example: Any, field: FieldSpec) -> list[str]:
    """Gold answers as a list of strings (a string, a number, or a list of them)."""
    value = gold(example, field)
    values = list(value) if isinstance(value, list | tuple | set | frozenset) else [value]
    texts = [str(v) for v in values if v is not None]
    if not texts:
        raise MetricNotApplicable(f"the example's gold {field!r} is empty")
    return texts


def as_text(value: Any) -> str:
    """A predicted value as text (numbers are formatted; None is empty)."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def to_number(value: Any) -> float:
    """A metric's raw output as a float; bools count 1/0; a ``Prediction(score=...)`` gives its score."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        number = float(value)
    elif hasattr(value, "score") and isinstance(value.score, int | float):
        number = float(value.score)
    else:
        raise MetricError(f"metric returned {type(value).__name__}, expected a number or a bool")
    if math.isnan(number):
        raise MetricError("metric returned NaN")
    return number


class Metric:
    """Base class. Subclasses set ``name`` and implement ``compute``.

    binary: pass/fail metrics hand DSPy a bool (like ``dspy.evaluate.answer_exact_match``).
    threshold: for graded metrics, while an optimizer traces (``trace is not None``) DSPy gets
        ``value >= threshold`` so only good demos are kept; ``None`` passes the value through.
    """

    name: str = "metric"
    binary: bool = False
    threshold: float | None = None

    def compute(self, example: Any, prediction: Any, trace: Any = None) -> float | bool:
        raise NotImplementedError

    def __call__(self, example: Any, prediction: Any, trace: Any = None) -> float | bool:
        number = to_number(self.compute(example, prediction, trace))
        if self.binary:
            return number >= 1.0
        if trace is not None and self.threshold is not None:
            return number >= self.threshold
        return number

    def score(self, example: Any, prediction: Any, trace: Any = None) -> MetricResult:
        try:
            number = to_number(self.compute(example, prediction, trace))
        except MetricNotApplicable as skipped:
            return MetricResult(None, "skipped", skipped.message)
        except Exception as error:  # any failure becomes the row's status, never a silent 0
            text = f"{type(error).__name__}: {error}"
            return MetricResult(None, "error", text[:_MAX_ERROR_CHARS])
        return MetricResult(number, "ok")

    def __repr__(self) -> str:
        return f"<metric {self.name}>"


class FunctionMetric(Metric):
    """A plain function ``fn(example, prediction[, trace])`` returning a number or bool, as a Metric."""

    def __init__(self, fn: Callable[..., Any], name: str | None = None, *, threshold: float | None = None) -> None:
        self.fn = fn
        self.name = str(name or getattr(fn, "__name__", type(fn).__name__))
        self.threshold = threshold
        self._trace_mode = _trace_mode(fn)

    def _call(self, example: Any, prediction: Any, trace: Any) -> Any:
        if self._trace_mode == "positional":
            return self.fn(example, prediction, trace)
        if self._trace_mode == "keyword":
            return self.fn(example, prediction, trace=trace)
        return self.fn(example, prediction)

    def compute(self, example: Any, prediction: Any, trace: Any = None) -> float | bool:
        return to_number(self._call(example, prediction, trace))

    def __call__(self, example: Any, prediction: Any, trace: Any = None) -> float | bool:
        # A user's function keeps its own return type for DSPy (it may already return a bool while tracing).
        result = self._call(example, prediction, trace)
        if isinstance(result, bool | int | float):
            if trace is not None and self.threshold is not None:
                return to_number(result) >= self.threshold
            return result
        return to_number(result)


def _trace_mode(fn: Callable[..., Any]) -> str:
    """How ``fn`` takes the DSPy trace: as a third positional argument, as ``trace=``, or not at all."""
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return "positional"
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return "positional"
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) >= 3:
        return "positional"
    if any(p.name == "trace" or p.kind is p.VAR_KEYWORD for p in parameters):
        return "keyword"
    return "none"
