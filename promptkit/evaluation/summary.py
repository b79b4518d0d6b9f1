"""Summary statistics of an evaluation: bootstrap confidence intervals, percentiles, paired tests.

Everything here is deterministic (seeded) so that a summary written twice from the same
rows is byte-identical, and none of it needs scipy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_RESAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95
_CHUNK_ELEMENTS = 1_000_000  # indices drawn at once (8 MB): memory stays bounded for any number of rows


@dataclass(slots=True)
class RowStats:
    """What the summary needs from one row: a few numbers, never the prediction itself."""

    index: int
    values: dict[str, float | None]  # metric -> value when the metric status is "ok"
    statuses: dict[str, str]
    failed: bool  # the program raised on this row
    latency_s: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost: float | None = None
    cache_hit: bool | None = None
    deployments: dict[str, int] | None = None  # Router deployment -> calls it answered for this row

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> RowStats:
        metrics = row.get("metrics") or {}
        values: dict[str, float | None] = {}
        statuses: dict[str, str] = {}
        for name, outcome in metrics.items():
            status = str(outcome.get("status", "error"))
            statuses[name] = status
            value = outcome.get("value")
            values[name] = float(value) if status == "ok" and isinstance(value, int | float) else None
        tokens = row.get("tokens") or {}
        return cls(
            index=int(row.get("index", 0)),
            values=values,
            statuses=statuses,
            failed=bool(row.get("error")),
            latency_s=row.get("latency_s"),
            prompt_tokens=int(tokens.get("prompt") or 0),
            completion_tokens=int(tokens.get("completion") or 0),
            total_tokens=int(tokens.get("total") or 0),
            cost=row.get("cost"),
            cache_hit=row.get("cache_hit"),
            deployments=row.get("deployments") or None,
        )

    @property
    def any_metric_error(self) -> bool:
        return any(status == "error" for status in self.statuses.values())


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default method), ``q`` in [0, 100]."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def bootstrap_ci(
    values: Sequence[float],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Percentile bootstrap confidence interval of the mean (seeded, so reproducible)."""
    if not values:
        return None
    if len(values) == 1:
        return (float(values[0]), float(values[0]))
    import numpy as np

    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    done = 0
    per_chunk = max(1, _CHUNK_ELEMENTS // len(data))
    while done < resamples:
        chunk = min(per_chunk, resamples - done)
        picks = rng.integers(0, len(data), size=(chunk, len(data)))
        means[done : done + chunk] = data[picks].mean(axis=1)
        done += chunk
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return (float(low), float(high))


def binomial_two_sided(successes: int, trials: int) -> float:
    """Exact two-sided binomial test p-value against p = 0.5 (the sign test / exact McNemar)."""
    if trials == 0:
        return 1.0
    k = min(successes, trials - successes)
    # log-space terms keep this exact enough for thousands of trials without huge integers
    log_half = trials * math.log(0.5)
    tail = 0.0
    for i in range(k + 1):
        tail += math.exp(math.lgamma(trials + 1) - math.lgamma(i + 1) - math.lgamma(trials - i + 1) + log_half)
    return min(1.0, 2.0 * tail)


def summarize(
    stats: Iterable[RowStats],
    metric_names: Sequence[str],
    *,
    rows_total: int | None = None,
    seed: int = 0,
    resamples: int = DEFAULT_RESAMPLES,
) -> dict[str, Any]:
    """Aggregate row stats into the ``summary.json`` structure."""
    rows = list(stats)
    latencies = [r.latency_s for r in rows if isinstance(r.latency_s, int | float)]
    costs = [r.cost for r in rows if isinstance(r.cost, int | float)]
    metrics: dict[str, Any] = {}
    for name in metric_names:
        ok_values = [v for r in rows if (v := r.values.get(name)) is not None]
        statuses = [r.statuses.get(name, "missing") for r in rows]
        ci = bootstrap_ci(ok_values, seed=seed, resamples=resamples)
        metrics[name] = {
            "mean": mean(ok_values),
            "ci95": list(ci) if ci else None,
            "n": len(ok_values),
            "errors": statuses.count("error"),
            "skipped": statuses.count("skipped"),
        }
    summary: dict[str, Any] = {
        "rows_total": rows_total,
        "rows_done": len(rows),
        "rows_ok": sum(1 for r in rows if not r.failed and not r.any_metric_error),
        "errors": sum(1 for r in rows if r.failed),
        "metric_errors": sum(1 for r in rows if r.any_metric_error),
        "metrics": metrics,
        "tokens": {
            "prompt": sum(r.prompt_tokens for r in rows),
            "completion": sum(r.completion_tokens for r in rows),
            "total": sum(r.total_tokens for r in rows),
        },
        "cost": {"total": sum(costs) if costs else None, "rows_priced": len(costs)},
        "latency_s": {
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "mean": mean(latencies),
        },
        "cache_hits": sum(1 for r in rows if r.cache_hit),
        "bootstrap": {"resamples": resamples, "confidence": DEFAULT_CONFIDENCE, "seed": seed},
    }
    split = deployment_split(rows)
    if split:
        summary["deployments"] = split
    return summary


def deployment_split(rows: Iterable[RowStats]) -> dict[str, dict[str, int]]:
    """Per Router deployment: the rows it answered (at least one call) and the calls, sorted by name."""
    split: dict[str, dict[str, int]] = {}
    for row in rows:
        for name, calls in (row.deployments or {}).items():
            counts = split.setdefault(name, {"rows": 0, "calls": 0})
            counts["rows"] += 1
            counts["calls"] += int(calls)
    return dict(sorted(split.items()))
