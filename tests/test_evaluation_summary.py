"""Summary statistics: bootstrap CIs, percentiles, the exact binomial test."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from promptkit.evaluation.summary import RowStats, binomial_two_sided, bootstrap_ci, percentile, summarize


def test_bootstrap_ci_is_seeded_and_brackets_the_mean() -> None:
    rng = random.Random(1)
    values = [float(rng.random() < 0.7) for _ in range(200)]
    ci = bootstrap_ci(values, seed=3)
    assert ci == bootstrap_ci(values, seed=3)  # reproducible
    assert ci is not None and ci[0] < sum(values) / len(values) < ci[1]
    # the normal-approximation interval of a proportion is a good yardstick at n = 200
    p = sum(values) / len(values)
    half = 1.96 * math.sqrt(p * (1 - p) / len(values))
    assert ci[0] == pytest.approx(p - half, abs=0.02) and ci[1] == pytest.approx(p + half, abs=0.02)


def test_bootstrap_ci_narrows_with_more_rows() -> None:
    rng = random.Random(2)
    small = [rng.random() for _ in range(30)]
    large = [rng.random() for _ in range(3000)]
    ci_small, ci_large = bootstrap_ci(small), bootstrap_ci(large)
    assert ci_small and ci_large and (ci_large[1] - ci_large[0]) < (ci_small[1] - ci_small[0]) / 4


def test_bootstrap_ci_edge_cases() -> None:
    assert bootstrap_ci([]) is None
    assert bootstrap_ci([0.25]) == (0.25, 0.25)
    assert bootstrap_ci([1.0] * 10) == (1.0, 1.0)


@pytest.mark.parametrize("q", [0, 10, 50, 95, 100])
def test_percentile_matches_numpy(q: float) -> None:
    rng = random.Random(q)
    values = [rng.expovariate(1.0) for _ in range(101)]
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_binomial_two_sided_matches_a_direct_sum() -> None:
    n, k = 20, 5
    direct = 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    assert binomial_two_sided(k, n) == pytest.approx(direct)
    assert binomial_two_sided(15, 20) == pytest.approx(direct)  # symmetric
    assert binomial_two_sided(10, 20) == 1.0 and binomial_two_sided(0, 0) == 1.0
    assert binomial_two_sided(0, 2000) < 1e-12


def test_summarize_counts_and_latency() -> None:
    rows = [
        RowStats(
            index=i,
            values={"m": float(i % 2)},
            statuses={"m": "ok"},
            failed=False,
            latency_s=float(i),
            prompt_tokens=3,
            completion_tokens=1,
            total_tokens=4,
            cost=0.5 if i < 2 else None,
            cache_hit=i == 0,
        )
        for i in range(10)
    ]
    rows.append(RowStats(index=10, values={"m": None}, statuses={"m": "skipped"}, failed=True))
    rows.append(RowStats(index=11, values={"m": None}, statuses={"m": "error"}, failed=False))
    summary = summarize(rows, ["m"], rows_total=12)
    assert summary["metrics"]["m"]["mean"] == 0.5 and summary["metrics"]["m"]["n"] == 10
    assert summary["metrics"]["m"]["errors"] == 1 and summary["metrics"]["m"]["skipped"] == 1
    assert summary["errors"] == 1 and summary["metric_errors"] == 1 and summary["rows_ok"] == 10
    assert summary["tokens"] == {"prompt": 30, "completion": 10, "total": 40}
    assert summary["cost"] == {"total": 1.0, "rows_priced": 2}
    assert summary["latency_s"]["p50"] == pytest.approx(4.5) and summary["latency_s"]["p95"] == pytest.approx(8.55)
    assert summary["cache_hits"] == 1
