"""``promptkit diff A B``: per predictor, what changed between two programs or exported directories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dspy
import pytest
from typer.testing import CliRunner

import promptkit
from promptkit import diff_prompts, export_program
from promptkit.cli import app
from promptkit.errors import InputError
from promptkit.programs.diff import format_diff
from tests.programs import Capital
from tests.test_export import Research


def compiled_capital(tmp_path: Path, instructions: str, demos: list[tuple[str, str]]) -> Path:
    program = Capital()
    program.answer.signature = program.answer.signature.with_instructions(instructions)
    program.answer.demos = [dspy.Example(question=q, answer=a) for q, a in demos]
    return promptkit.save_program(program, tmp_path / "program.json")


def test_a_program_and_its_export_are_the_same_and_exit_0(fake: Any, tmp_path: Path) -> None:
    lm = fake()
    export_program(Research(), tmp_path / "t")
    results = diff_prompts(Research(), tmp_path / "t")
    assert [(r.name, r.status, r.diffs) for r in results] == [("plan", "same", {}), ("answer.predict", "same", {})]
    assert lm.calls == []
    result = CliRunner().invoke(app, ["diff", "tests/test_export.py:Research", str(tmp_path / "t")])
    assert result.exit_code == 0, result.output
    assert "predictor plan: same" in result.output


def test_an_edited_export_shows_the_instruction_and_demo_changes_and_exits_1(tmp_path: Path) -> None:
    path = compiled_capital(tmp_path / "a", "Name the capital.", [("Capital of Peru?", "Lima")])
    export_program(promptkit.resolve_program(path), tmp_path / "t")
    file = tmp_path / "t" / "answer.j2"
    file.write_text(
        file.read_text().replace("Name the capital.", "Name the capital city only.").replace("Lima", "Lima, Peru")
    )
    result = CliRunner().invoke(app, ["diff", str(path), str(tmp_path / "t")])
    assert result.exit_code == 1, result.output
    assert "predictor answer: changed (instructions, demos, template)" in result.output
    assert "-Name the capital.\n+Name the capital city only." in result.output
    assert "-Lima\n+Lima, Peru" in result.output
    assert f"+++ B {file} (instructions)" in result.output


def test_two_compiled_programs_differ_in_their_demos_only(tmp_path: Path) -> None:
    a = compiled_capital(tmp_path / "a", "Name the capital.", [("Capital of Peru?", "Lima")])
    b = compiled_capital(
        tmp_path / "b", "Name the capital.", [("Capital of Peru?", "Lima"), ("Capital of Chad?", "N'Djamena")]
    )
    [result] = diff_prompts(a, b)
    assert result.status == "changed" and list(result.diffs) == ["demos", "template"]
    assert "+Capital of Chad?" in result.diffs["demos"] and "+N'Djamena" in result.diffs["demos"]
    out = CliRunner().invoke(app, ["diff", str(a), str(b), "--json"])
    assert out.exit_code == 1 and json.loads(out.output)["answer"]["status"] == "changed"


def test_predictors_on_one_side_only_are_listed(tmp_path: Path) -> None:
    results = diff_prompts(Research(), Capital())
    assert [(r.name, r.status) for r in results] == [
        ("plan", "only in A"),
        ("answer.predict", "only in A"),
        ("answer", "only in B"),
    ]
    assert format_diff(results).splitlines()[0] == "predictor plan: only in A"


def test_a_bad_side_is_an_input_error_exit_2(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        diff_prompts("no_such_module:thing", Capital())
    result = CliRunner().invoke(app, ["diff", "no_such_module:thing", "technique:cot_zeroshot"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    result = CliRunner().invoke(app, ["diff", str(tmp_path), "technique:cot_zeroshot"])
    assert result.exit_code == 2 and "neither an exported directory (no manifest.json)" in result.output


def test_the_compile_report_includes_the_prompt_diff_and_the_command(fake: Any, tmp_path: Path) -> None:
    fake()
    train = [
        dspy.Example(question=f"Capital of {c}?", answer=a).with_inputs("question")
        for c, a in [("France", "Paris"), ("Peru", "Lima"), ("Japan", "Tokyo"), ("Chad", "N'Djamena")]
    ]
    promptkit.compile_to_dir(
        Capital(),
        train,
        "exact_match",
        "labeled_fewshot",
        tmp_path / "out",
        valset=train[:2],
        progress=False,
        num_threads=1,
        k=2,
    )
    out = tmp_path / "out"
    report = (out / "report.md").read_text()
    assert "## Every prompt, before → after" in report
    assert f"promptkit diff tests.programs:Capital {out / 'program.json'}" in report
    assert "predictor answer: changed (demos, template)" in report and "+[[ ## question ## ]]" in report
    assert "<details><summary>the diff</summary>" in (out / "report.html").read_text()
