"""Optional MLflow tracking for ``compile`` and ``eval run`` (``--mlflow`` / ``--mlflow-uri URI``), through
MLflow's DSPy integration.

``mlflow.dspy.autolog`` records the DSPy side (traces of the LM calls, the optimizer's candidate
evaluations as child runs); this module opens the run, logs promptkit's parameters and scores, and
attaches the run directory (program.json, compile.json, reports) as artefacts, so ``mlflow ui``
shows the whole run. The default store is ``sqlite:///mlflow.db`` (artefacts under ``./mlruns``):
MLflow 3 refuses the plain ``./mlruns`` file store unless MLFLOW_ALLOW_FILE_STORE=true.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from promptkit.errors import MissingDependencyError
from promptkit.redaction import redact

DEFAULT_URI = "sqlite:///mlflow.db"
EXPERIMENT = "promptkit"
EXTRA = "promptkit[track]"


MLFLOW_HELP = "log the run to MLflow (params, scores, artefacts, DSPy traces); needs promptkit[track]"
MLFLOW_URI_HELP = f"MLflow tracking URI (implies --mlflow; default {DEFAULT_URI})"


def tracking(enabled: bool, uri: str | None, run_name: str, params: Mapping[str, Any]) -> Any:
    """The CLI's ``--mlflow`` / ``--mlflow-uri``: an MLflow run, or a context yielding None."""
    if not enabled and uri is None:
        return contextlib.nullcontext(None)
    check_available()  # before any work: a missing extra is an input error, not a late failure
    return mlflow_run(uri, run_name, params)


class Tracker:
    """The open MLflow run: promptkit logs its scores and files through it."""

    def __init__(self, mlflow: Any, run: Any) -> None:
        self._mlflow = mlflow
        self.run_id: str = run.info.run_id

    def metrics(self, values: Mapping[str, float | None]) -> None:
        self._mlflow.log_metrics({k: float(v) for k, v in values.items() if isinstance(v, int | float)})

    def artifacts(self, directory: Path) -> None:
        self._mlflow.log_artifacts(str(directory))


def check_available() -> None:
    if importlib.util.find_spec("mlflow") is None:
        raise MissingDependencyError("--mlflow needs MLflow, which is not installed", hint=f"pip install '{EXTRA}'")


@contextlib.contextmanager
def mlflow_run(uri: str | None, run_name: str, params: Mapping[str, Any]) -> Iterator[Tracker]:
    """An MLflow run with DSPy autologging on, ``params`` logged (plain values, redacted)."""
    check_available()
    import mlflow
    import mlflow.dspy

    mlflow.set_tracking_uri(uri or DEFAULT_URI)
    mlflow.set_experiment(EXPERIMENT)
    mlflow.dspy.autolog(log_traces=True, log_compiles=True, log_evals=True, silent=True)
    try:
        with mlflow.start_run(run_name=run_name) as run:
            mlflow.log_params({k: redact(str(v))[:500] for k, v in params.items() if v is not None})
            yield Tracker(mlflow, run)
    finally:
        mlflow.dspy.autolog(disable=True, silent=True)  # the next command in this process is not traced


def scores(summary: Mapping[str, Any], prefix: str = "") -> dict[str, float | None]:
    """``{prefix + metric: mean}`` from an evaluation summary."""
    return {f"{prefix}{name}": entry.get("mean") for name, entry in (summary.get("metrics") or {}).items()}


__all__ = [
    "DEFAULT_URI",
    "EXTRA",
    "MLFLOW_HELP",
    "MLFLOW_URI_HELP",
    "Tracker",
    "check_available",
    "mlflow_run",
    "scores",
    "tracking",
]
