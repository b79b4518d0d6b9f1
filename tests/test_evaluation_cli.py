"""`promptkit eval ...` through typer's CliRunner on an app that registers the eval commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from promptkit.cli.eval_cmd import EXIT_BELOW_THRESHOLD, register
from promptkit.errors import InputError
from promptkit.programs.resolve import resolve_program

PROGRAM = """
import dspy

def answer(question: str) -> dspy.Prediction:
    i = int(question[1:])
    return dspy.Prediction(answer=f"a{i}" if i % 4 else "wrong")   # 3 of every 4 right

class Answerer(dspy.Module):
    def forward(self, question):
        return answer(question)

def make():
    return Answerer()
"""


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def noop() -> None:  # a second command keeps `eval` a named group, as in the real CLI
        pass

    return app


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "prog.py").write_text(PROGRAM)
    rows = "".join(json.dumps({"question": f"q{i}", "answer": f"a{i}"}) + "\n" for i in range(8))
    (tmp_path / "qa.jsonl").write_text(rows)
    return tmp_path


def run(app: typer.Typer, *args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=True)


def base_args(project: Path, out: str) -> list[str]:
    return [
        f"{project / 'prog.py'}:answer",
        "--data",
        str(project / "qa.jsonl"),
        "--metric",
        "exact_match",
        "--out",
        str(project / out),
        "--model",
        "fake",
        "--no-progress",
    ]


def test_fail_under_gate_exit_codes(app: typer.Typer, project: Path) -> None:
    passed = run(app, "eval", "run", *base_args(project, "ok"), "--fail-under", "0.7")
    assert passed.exit_code == 0, passed.output
    assert "exact_match" in passed.output and (project / "ok" / "report.html").exists()
    failed = run(app, "eval", "run", *base_args(project, "low"), "--fail-under", "0.8")
    assert failed.exit_code == EXIT_BELOW_THRESHOLD == 3
    assert "below --fail-under" in failed.output
    summary = json.loads((project / "low" / "summary.json").read_text())
    assert summary["passed"] is False and summary["metrics"]["exact_match"]["mean"] == 0.75


def test_eval_program_without_run_is_the_same_command(app: typer.Typer, project: Path) -> None:
    result = run(app, "eval", *base_args(project, "short"), "--limit", "4")
    assert result.exit_code == 0, result.output
    assert json.loads((project / "short" / "summary.json").read_text())["rows_total"] == 4


def test_bad_fail_under_and_bad_program_are_input_errors(app: typer.Typer, project: Path) -> None:
    bad = run(app, "eval", "run", *base_args(project, "x"), "--fail-under", "80")
    # The CLI reports promptkit errors as one line (no traceback) and exits 2 for bad input.
    assert bad.exit_code == 2 and "InputError" in bad.output
    missing = run(
        app,
        "eval",
        "run",
        f"{project / 'nope.py'}:answer",
        "--data",
        str(project / "qa.jsonl"),
        "--metric",
        "exact_match",
        "--model",
        "fake",
    )
    assert missing.exit_code == 2 and "not found" in missing.output


def test_resolve_program_kinds(project: Path) -> None:
    path = project / "prog.py"
    assert resolve_program(f"{path}:answer")(question="q1").answer == "a1"
    assert type(resolve_program(f"{path}:Answerer")).__name__ == "Answerer"  # class -> instance
    assert type(resolve_program(f"{path}:make")).__name__ == "Answerer"  # zero-arg factory -> its result
    with pytest.raises(InputError, match="has no attribute"):
        resolve_program(f"{path}:nothing")
    with pytest.raises(InputError, match="module:attr"):
        resolve_program("no-colon-here")


def test_compare_command_and_regression_gate(app: typer.Typer, project: Path) -> None:
    better = project / "better.py"
    better.write_text("import dspy\ndef answer(question):\n    return dspy.Prediction(answer='a' + question[1:])\n")
    assert run(app, "eval", "run", *base_args(project, "a")).exit_code == 0
    args_b = base_args(project, "b")
    args_b[0] = f"{better}:answer"
    assert run(app, "eval", "run", *args_b).exit_code == 0
    forward = run(app, "eval", "compare", str(project / "a"), str(project / "b"), "--fail-on-regression")
    assert forward.exit_code == 0 and "improved 2" in forward.output
    backward = run(
        app, "eval", "compare", str(project / "b"), str(project / "a"), "--alpha", "0.6", "--fail-on-regression"
    )
    assert backward.exit_code == EXIT_BELOW_THRESHOLD and "B worse" in backward.output


def test_matrix_command(app: typer.Typer, project: Path) -> None:
    spec = project / "matrix.yaml"
    spec.write_text(
        f"programs:\n  func: {project / 'prog.py'}:answer\n  module: {project / 'prog.py'}:make\n"
        f"models: [fake]\ndatasets:\n  qa: {project / 'qa.jsonl'}\nmetrics: [exact_match]\nthreads: 2\n"
    )
    result = run(app, "eval", "matrix", str(spec), "--out", str(project / "m"), "--no-progress")
    assert result.exit_code == 0, result.output
    cells = json.loads((project / "m" / "matrix.json").read_text())["cells"]
    assert sorted(c["program"] for c in cells) == ["func", "module"]
    assert all(c["scores"]["exact_match"] == 0.75 for c in cells)
    spec.write_text("programs: [x]\ndatasets: [y]\nmetric: [z]\n")
    bad = run(app, "eval", "matrix", str(spec))
    assert bad.exit_code == 2 and "unknown keys ['metric']" in bad.output


def test_eval_a_technique_and_a_chain_spec(tmp_path: Path) -> None:
    """PROGRAM may be a technique id or a chain YAML, not only module:attr."""
    import json as _json

    from typer.testing import CliRunner as _Runner

    from promptkit.cli import app as _app

    data = tmp_path / "qa.jsonl"
    data.write_text("".join(_json.dumps({"question": f"q{i}", "answer": f"a{i}"}) + "\n" for i in range(3)))
    technique = _Runner().invoke(
        _app,
        [
            "eval",
            "technique:cot_zeroshot",
            "--data",
            str(data),
            "--metric",
            "exact_match",
            "--model",
            "fake",
            "--out",
            str(tmp_path / "t"),
            "--threads",
            "1",
        ],
    )
    assert technique.exit_code == 0, technique.output
    rows = [_json.loads(line) for line in (tmp_path / "t" / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all(row["prediction"]["answer"].startswith("[fake]") for row in rows)

    spec = tmp_path / "echo.yaml"
    spec.write_text(
        "name: echo\ninputs:\n  question: {type: str}\nsteps:\n"
        "  - name: answer\n    prompt: 'Answer briefly: {{ question }}'\noutput: answer\n"
    )
    chain = _Runner().invoke(
        _app,
        [
            "eval",
            str(spec),
            "--data",
            str(data),
            "--metric",
            "contains",
            "--model",
            "fake",
            "--out",
            str(tmp_path / "c"),
            "--threads",
            "1",
        ],
    )
    assert chain.exit_code == 0, chain.output
    assert len((tmp_path / "c" / "results.jsonl").read_text().splitlines()) == 3
    bad = _Runner().invoke(_app, ["eval", "technique:nope", "--data", str(data), "--metric", "exact_match"])
    assert bad.exit_code == 2


ADAPTER_PROGRAM = """
import dspy

def adapter_name(question: str) -> dspy.Prediction:
    return dspy.Prediction(answer=type(dspy.settings.adapter).__name__)
"""


@pytest.mark.parametrize(("configured", "expected"), [(None, "TemplateAdapter"), ("json", "JSONAdapter")])
def test_eval_uses_the_template_adapter_unless_one_is_configured(
    app: typer.Typer, tmp_path: Path, configured: str | None, expected: str
) -> None:
    # DSPy's default ChatAdapter sends no output schema: a small local model would run to max_tokens
    # and pay a JSONAdapter retry on every row.
    import dspy

    (tmp_path / "prog.py").write_text(ADAPTER_PROGRAM)
    (tmp_path / "qa.jsonl").write_text(json.dumps({"question": "q", "answer": expected}) + "\n")
    args = [
        f"{tmp_path / 'prog.py'}:adapter_name",
        "--data",
        str(tmp_path / "qa.jsonl"),
        "--metric",
        "exact_match",
        "--out",
        str(tmp_path / "run"),
        "--model",
        "fake",
        "--no-progress",
        "--fail-under",
        "1",
    ]
    with dspy.context(adapter=dspy.JSONAdapter() if configured else None):
        result = run(app, "eval", "run", *args)
    assert result.exit_code == 0, result.output
