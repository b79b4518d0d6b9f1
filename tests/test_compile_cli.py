"""`promptkit compile` end to end on FakeLM: DIR/ (program.json, compile.json, before/, after/, report),
the program loading in promptkit and in plain DSPy with identical predictions, and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dspy
import pytest
import typer
from typer.testing import CliRunner

import promptkit
from promptkit.cli._common import handle_errors
from promptkit.cli.compile_cmd import register
from promptkit.lm import FakeLM
from promptkit.programs.resolve import resolve_program
from tests.programs import CAPITALS

SECRET = "sk-compile-0123456789SECRET"
PROGRAM = """
import dspy

class Capital(dspy.Module):
    def __init__(self):
        super().__init__()
        self.answer = dspy.Predict("question -> answer")

    def forward(self, question):
        return self.answer(question=question)
"""


def reply(call: Any) -> dict[str, str]:
    """Right only when the prompt carries a demo (another 'Capital of'): demonstrations help."""
    country = str(call.inputs["question"]).removeprefix("Capital of ").rstrip("?")
    knows = call.prompt.count("Capital of") >= 2
    return {"answer": CAPITALS[country] if knows else "I am not sure"}


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prog.py").write_text(PROGRAM)
    # A key leaked into a data field: raw labelled demos carry every field, so it reaches the saved program.
    rows = [{"question": f"Capital of {c}?", "answer": a, "note": f"key {SECRET}"} for c, a in CAPITALS.items()]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:8]))
    (tmp_path / "val.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[8:]))
    monkeypatch.setenv("SOMEPROVIDER_API_KEY", SECRET)
    return tmp_path


def run(*args: str) -> Any:
    app = typer.Typer()
    register(app)
    app.registered_commands[0].callback = handle_errors(app.registered_commands[0].callback)  # as the real CLI
    app.command("noop")(lambda: None)  # two commands: typer keeps the command name
    lm = FakeLM(fn=reply)
    from promptkit.adapter import TemplateAdapter

    with dspy.context(lm=lm, adapter=TemplateAdapter()):
        return CliRunner().invoke(app, ["compile", *args])


def test_compile_writes_the_directory_and_demos_raise_the_val_score(project: Path) -> None:
    result = run(
        "prog.py:Capital",
        "--data",
        "train.jsonl",
        "--val",
        "val.jsonl",
        "--metric",
        "exact_match",
        "--optimizer",
        "bootstrap_fewshot",
        "--option",
        "max_bootstrapped_demos=2",
        "--option",
        "max_labeled_demos=2",
        "--out",
        "out",
        "--no-progress",
        "--threads",
        "2",
    )
    assert result.exit_code == 0, result.output
    out = project / "out"
    record = json.loads((out / "compile.json").read_text())
    assert record["status"] == "done" and record["optimizer"] == "bootstrap_fewshot"
    assert record["options"] == {"max_bootstrapped_demos": 2, "max_labeled_demos": 2}
    assert (record["train_size"], record["val_size"], record["seed"]) == (8, 4, 0)
    assert record["scores"]["before"]["mean"] == 0.0 and record["scores"]["after"]["mean"] == 1.0
    assert record["comparison"]["improved"] == 4 and record["comparison"]["test"] == "McNemar (exact)"
    assert record["lm"]["calls"] > 0 and record["compile_seconds"] >= 0 and record["dspy_version"]
    for side in ("before", "after"):
        assert len((out / side / "results.jsonl").read_text().splitlines()) == 4
    report = (out / "report.md").read_text()
    assert "| exact_match | 0.000" in report and "### Demos (2)" in report and "Capital of" in report
    assert "McNemar" in (out / "report.html").read_text()
    assert "before 0.000" in result.output.replace("  ", " ").replace("exact_match ", "")
    for name in ("compile.json", "program.json", "report.md", "report.html"):
        assert SECRET not in (out / name).read_text()


def test_program_json_loads_in_promptkit_and_plain_dspy_with_identical_predictions(project: Path) -> None:
    assert (
        run(
            "prog.py:Capital",
            "--data",
            "train.jsonl",
            "--val-split",
            "0.25",
            "--metric",
            "exact_match",
            "--out",
            "out",
            "--no-progress",
        ).exit_code
        == 0
    )
    path = project / "out" / "program.json"
    loaded = promptkit.load(path, program=resolve_program("prog.py:Capital"))
    by_ref = resolve_program(path)
    plain = type(loaded)()
    plain.load(str(path))  # DSPy's own loader, no promptkit involved
    assert [dict(d) for d in plain.answer.demos] == [dict(d) for d in loaded.answer.demos] != []
    notes = [d["note"] for d in loaded.answer.demos if "note" in d]
    assert notes and all(note.startswith("key ") and SECRET not in note for note in notes)  # kept, redacted
    for name in ("compile.json", "program.json", "report.md", "report.html"):
        assert SECRET not in (path.parent / name).read_text()
    lm = FakeLM(fn=reply)
    from promptkit.adapter import TemplateAdapter

    with dspy.context(lm=lm, adapter=TemplateAdapter()):
        for country in CAPITALS:
            question = f"Capital of {country}?"
            outs = [p(question=question).toDict() for p in (loaded, by_ref, plain)]
            assert outs[0] == outs[1] == outs[2] and outs[0]["answer"] == CAPITALS[country]
    assert len({json.dumps(c.messages) for c in lm.calls[:3]}) == 1  # the three sent the same prompt


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--optimizer", "nope"], 2, "unknown optimizer 'nope'"),
        (["--optimizer", "gepa"], 2, "needs a reflection LM"),
        (["--option", "max_demos=2"], 2, "BootstrapFewShot has no option 'max_demos'"),
        (["--option", "oops"], 2, "--option 'oops' is not KEY=VALUE"),
        (["--val-split", "1.5"], 2, "--val-split 1.5 must be between 0 and 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(project: Path, args: list[str], code: int, message: str) -> None:
    result = run(
        "prog.py:Capital", "--data", "train.jsonl", "--metric", "exact_match", "--out", "out", "--no-progress", *args
    )
    assert result.exit_code == code and message in result.output, result.output
    assert not (project / "out" / "before").exists()  # refused before any LM call


def test_knn_fewshot_says_its_demos_are_not_in_the_saved_program(project: Path) -> None:
    import numpy as np

    def letters(texts: list[str]) -> Any:
        return np.array([[t.lower().count(c) for c in "abcdefghijklmnopqrstuvwxyz"] for t in texts], dtype=float)

    with dspy.context(lm=FakeLM(fn=reply)):
        result = promptkit.compile_to_dir(
            "prog.py:Capital",
            "train.jsonl",
            "exact_match",
            "knn_fewshot",
            "out",
            valset="val.jsonl",
            embedder=letters,
            progress=False,
            k=2,
            max_bootstrapped_demos=1,
            max_labeled_demos=1,
        )
    assert result.score_after == 1.0 and result.score_before == 0.0  # the in-process program has its demos
    assert "picks demos per input at run time" in result.record["caveat"]
    assert "picks demos per input at run time" in (project / "out" / "report.md").read_text()


@pytest.mark.parametrize(
    ("optimizer", "kept"),
    [("gepa", "gepa_log holds GEPA's checkpoints"), ("bootstrap_fewshot", "exposes no best-so-far program")],
)
def test_ctrl_c_keeps_the_before_run_and_says_what_survives(
    project: Path, monkeypatch: pytest.MonkeyPatch, optimizer: str, kept: str
) -> None:
    import promptkit.optimize

    seen: dict[str, Any] = {}
    original = promptkit.optimize.compile

    def interrupted(*args: Any, **kwargs: Any) -> None:
        seen.update(kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(promptkit.optimize, "compile", interrupted)
    with dspy.context(lm=FakeLM(fn=reply)), pytest.raises(KeyboardInterrupt):
        promptkit.compile_to_dir(
            "prog.py:Capital",
            "train.jsonl",
            "exact_match",
            optimizer,
            "out",
            valset="val.jsonl",
            reflection_lm=FakeLM(fn=reply),
            progress=False,
        )
    record = json.loads((project / "out" / "compile.json").read_text())
    assert record["status"] == "interrupted" and kept in record["note"]
    assert len((project / "out" / "before" / "results.jsonl").read_text().splitlines()) == 4
    assert not (project / "out" / "program.json").exists()
    assert ("log_dir" in seen) == (optimizer == "gepa")
    monkeypatch.setattr(promptkit.optimize, "compile", original)
    with dspy.context(lm=FakeLM(fn=reply)):  # the same call again continues in the same directory
        result = (
            promptkit.compile_to_dir(
                "prog.py:Capital",
                "train.jsonl",
                "exact_match",
                optimizer,
                "out",
                valset="val.jsonl",
                reflection_lm=FakeLM(fn=reply),
                progress=False,
                resume=True,
                max_metric_calls=20,
            )
            if optimizer == "gepa"
            else promptkit.compile_to_dir(
                "prog.py:Capital",
                "train.jsonl",
                "exact_match",
                optimizer,
                "out",
                valset="val.jsonl",
                progress=False,
                resume=True,
            )
        )
    assert result.record["status"] == "done" and (project / "out" / "program.json").exists()
    assert len((project / "out" / "before" / "results.jsonl").read_text().splitlines()) == 4  # not rerun


def test_candidate_evaluations_and_the_best_score_are_recorded(project: Path) -> None:
    with dspy.context(lm=FakeLM(fn=reply)):
        result = promptkit.compile_to_dir(
            "prog.py:Capital",
            "train.jsonl",
            "exact_match",
            "bootstrap_random_search",
            "out",
            valset="val.jsonl",
            progress=False,
            num_candidate_programs=2,
            max_bootstrapped_demos=1,
            max_labeled_demos=1,
            num_threads=1,
        )
    lm = result.record["lm"]
    # zero-shot, labelled-only, unshuffled bootstrap and 2 shuffled ones, each scored on val
    assert lm["candidate_evaluations"] == 5 and lm["best_candidate_score"] == 100.0
