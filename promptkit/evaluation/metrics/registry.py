"""Metric registry: ``get(name, **options)``, ``register(name, fn)``, ``names()``, ``resolve(...)``.

Names may carry a cut-off: ``get("ndcg@10")`` is ``get("ndcg", k=10)``. Each ``get`` builds a fresh
metric, named as asked (``"ndcg@10"``), so options never leak between runs.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any

from promptkit.errors import InputError

from .base import FunctionMetric, Metric
from .hops import HopsValid
from .judge import SemanticF1
from .math_answers import MathEquiv
from .numeric import NumericMatch
from .retrieval import MRR, NDCG, Recall
from .structured import JsonValid, SchemaValid
from .text import F1, Contains, ExactMatch, PassageMatch

MetricFactory = Callable[..., Metric]


class UnknownMetricError(InputError, KeyError):
    """An unknown metric name; a KeyError too, so ``except KeyError`` keeps working."""

    __str__ = Exception.__str__  # KeyError would quote and escape the message


_lock = threading.Lock()
_factories: dict[str, MetricFactory] = {
    "exact_match": ExactMatch,
    "f1": F1,
    "contains": Contains,
    "passage_match": PassageMatch,
    "numeric_match": NumericMatch,
    "math_equiv": MathEquiv,
    "hops_valid": HopsValid,
    "json_valid": JsonValid,
    "schema_valid": SchemaValid,
    "semantic_f1": SemanticF1,
    "ndcg": NDCG,
    "recall": Recall,
    "mrr": MRR,
}


def names() -> list[str]:
    """Registered metric names, sorted."""
    with _lock:
        return sorted(_factories)


def register(name: str, metric: Metric | Callable[..., Any], *, overwrite: bool = False) -> None:
    """Register a metric function ``fn(example, prediction[, trace]) -> float | bool`` or a Metric."""
    if isinstance(metric, Metric):
        instance = metric

        def factory(**options: Any) -> Metric:
            if options:
                raise InputError(f"metric {name!r} was registered as an instance and takes no options")
            return instance

        register_factory(name, factory, overwrite=overwrite)
    elif callable(metric):
        register_factory(name, lambda: FunctionMetric(metric, name), overwrite=overwrite)
    else:
        raise InputError(f"cannot register {type(metric).__name__} as metric {name!r}: it is not callable")


def register_factory(name: str, factory: MetricFactory, *, overwrite: bool = False) -> None:
    """Register a callable that builds a Metric from keyword options (like the built-in classes)."""
    if not isinstance(name, str) or not name or "@" in name:
        raise InputError(f"bad metric name {name!r}: use a non-empty name without '@'")
    with _lock:
        if name in _factories and not overwrite:
            raise InputError(f"metric {name!r} is already registered", hint="pass overwrite=True to replace it")
        _factories[name] = factory


def get(name: str, **options: Any) -> Metric:
    """A new metric by name, with options (``field=``, ``gold_field=``, ``k=`` ...); ``name@k`` sets ``k``."""
    base, _, cutoff = name.partition("@")
    with _lock:
        factory = _factories.get(base)
        known = sorted(_factories)
    if factory is None:
        raise UnknownMetricError(f"unknown metric {name!r}", hint=f"known metrics: {', '.join(known)}")
    if cutoff:
        if not cutoff.isdigit() or int(cutoff) < 1:
            raise InputError(f"bad cut-off in metric {name!r}", hint=f"write {base}@K with K a positive number")
        options["k"] = int(cutoff)
    _check_options(name, factory, options)
    metric = factory(**options)
    metric.name = name
    return metric


def _check_options(name: str, factory: MetricFactory, options: dict[str, Any]) -> None:
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(**options)
    except TypeError:
        accepted = [p for p in signature.parameters if p not in ("self", "options")]
        unknown = sorted(set(options) - set(accepted))
        raise InputError(
            f"metric {name!r} does not take option(s) {unknown}",
            hint=f"its options are: {', '.join(accepted) or 'none'}",
        ) from None


def resolve(metric: str | Metric | Callable[..., Any]) -> Metric:
    """A Metric from a registered name, a Metric, or a plain metric function (the runner's entry point)."""
    if isinstance(metric, str):
        return get(metric)
    if isinstance(metric, Metric):
        return metric
    if callable(metric):
        return FunctionMetric(metric)
    raise InputError(f"a metric must be a name, a Metric or a function, got {type(metric).__name__}")
