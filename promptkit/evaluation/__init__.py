"""Evaluation: metrics, the resumable runner, the results store, reports, compare and matrix.

Names are imported lazily so ``import promptkit.evaluation`` stays cheap (DSPy, numpy and rich
load on first use).

Run directory layout (``evaluate(..., out=DIR)``)::

    DIR/run.json        program, metrics, model and versions of the run
    DIR/results.jsonl   one JSON row per example (latest line per row_id wins)
    DIR/summary.json    means, 95% bootstrap CIs, errors, tokens, cost, latency p50/p95
    DIR/report.html     self-contained report (summary, plot, worst rows, prompts)
    DIR/report.md       the same in Markdown (plot.png beside it when matplotlib is installed)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Imported eagerly (it only needs the standard library): the function ``compare`` lives in the
# module ``compare``, and importing that submodule later would rebind the package attribute
# ``compare`` to the module. Binding the function here, after the import, keeps the name right.
from promptkit.evaluation.compare import CompareResult, MatrixResult, compare, matrix

if TYPE_CHECKING:
    from promptkit.evaluation.report import write_report as write_report
    from promptkit.evaluation.retrieval import RetrievalResult as RetrievalResult
    from promptkit.evaluation.retrieval import evaluate_retrieval as evaluate_retrieval
    from promptkit.evaluation.runner import EvaluationResult as EvaluationResult
    from promptkit.evaluation.runner import evaluate as evaluate

_EXPORTS = {
    "evaluate": "promptkit.evaluation.runner",
    "EvaluationResult": "promptkit.evaluation.runner",
    "write_report": "promptkit.evaluation.report",
    "evaluate_retrieval": "promptkit.evaluation.retrieval",
    "RetrievalResult": "promptkit.evaluation.retrieval",
}

__all__ = [
    "CompareResult",
    "EvaluationResult",
    "MatrixResult",
    "RetrievalResult",
    "compare",
    "evaluate",
    "evaluate_retrieval",
    "matrix",
    "write_report",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'promptkit.evaluation' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
