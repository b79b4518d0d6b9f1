"""--mlflow / --mlflow-uri on compile and eval run: params, scores and the run directory reach MLflow."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from test_compile_cli import CAPITALS, PROGRAM, reply

from promptkit.errors import MissingDependencyError

pytestmark = pytest.mark.skipif(importlib.util.find_spec("mlflow") is None, reason="needs promptkit[track]")


def invoke(*args: str) -> Any:
    import dspy
    from typer.testing import CliRunner

    from promptkit.adapter import TemplateAdapter
    from promptkit.cli import app
    from promptkit.lm import FakeLM

    with dspy.context(lm=FakeLM(fn=reply), adapter=TemplateAdapter()):
        return CliRunner().invoke(app, list(args))


@pytest.mark.slow  # MLflow import, its database migrations, DSPy autologging: ~13 s
def test_compile_and_eval_runs_are_logged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    (tmp_path / "prog.py").write_text(PROGRAM)
    rows = [{"question": f"Capital of {c}?", "answer": a} for c, a in CAPITALS.items()]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    result = invoke(
        "compile",
        "prog.py:Capital",
        "--data",
        "train.jsonl",
        "--metric",
        "exact_match",
        "--out",
        "out",
        "--no-progress",
        "--mlflow-uri",
        uri,
        "--option",
        "max_labeled_demos=2",
    )
    assert result.exit_code == 0, result.output
    result = invoke(
        "eval",
        "run",
        "out/program.json",
        "--data",
        "train.jsonl",
        "--metric",
        "exact_match",
        "--out",
        "run",
        "--no-progress",
        "--mlflow-uri",
        uri,
    )
    assert result.exit_code == 0, result.output
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("promptkit")
    runs = {
        r.data.params.get("command"): r
        for r in client.search_runs([experiment.experiment_id])
        if "command" in r.data.params
    }
    compiled, evaluated = runs["compile"], runs["eval run"]
    assert compiled.data.params["option.max_labeled_demos"] == "2"
    assert compiled.data.metrics["val_before_exact_match"] == 0.0 and compiled.data.metrics["val_after_exact_match"] > 0
    artefacts = {a.path for a in client.list_artifacts(compiled.info.run_id)}
    assert {"program.json", "compile.json", "report.html", "before", "after"} <= artefacts
    assert evaluated.data.metrics["exact_match"] == 1.0


def test_a_missing_mlflow_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from promptkit import tracking

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    with pytest.raises(MissingDependencyError, match=r"pip install 'promptkit\[track\]'"):
        tracking.tracking(True, None, "x", {})
