"""``promptkit techniques list`` / ``show ID``: the registry as a rich table, one technique's rendered prompts."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from click.testing import Result
from typer.testing import CliRunner

from promptkit import techniques
from promptkit.cli.techniques_cmd import register

ROOT = Path(__file__).resolve().parents[1]
Invoke = Callable[..., Result]


@pytest.fixture
def invoke() -> Invoke:
    app = typer.Typer()
    register(app)

    @app.callback()
    def main() -> None:  # a group, so `techniques` stays a subcommand as in the real CLI
        pass

    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, ["techniques", *args], env={"COLUMNS": "200"})

    return run


def test_list_shows_every_technique_with_its_paper(invoke: Invoke) -> None:
    result = invoke("list")
    assert result.exit_code == 0, result.output
    for info in techniques.list():
        assert info.id in result.output
        assert info.arxiv in result.output
        assert info.authors in result.output
    assert "≤ 1 + 2·max_rounds" in result.output  # self_refine's call formula, shown as written


def test_list_by_family(invoke: Invoke) -> None:
    result = invoke("list", "--family", "self-criticism")
    assert result.exit_code == 0
    assert "self_refine" in result.output and "chain_of_verification" in result.output
    assert "react" not in result.output


def test_show_prints_metadata_and_the_rendered_prompts(invoke: Invoke) -> None:
    result = invoke("show", "plan_and_solve")
    assert result.exit_code == 0, result.output
    assert "2305.04091" in result.output and "Plan-and-Solve Prompting" in result.output
    assert "extract relevant variables and their corresponding numerals" in result.output  # rendered call 1
    assert "Therefore, the answer" in result.output  # rendered call 2
    assert "plan_and_solve_answer.j2" in result.output


def test_show_a_technique_that_needs_tools(invoke: Invoke) -> None:
    result = invoke("show", "react")
    assert result.exit_code == 0, result.output
    assert "Search[entity]" in result.output and "Finish[answer]" in result.output


def test_show_with_another_signature(invoke: Invoke) -> None:
    result = invoke("show", "cot_zeroshot", "--signature", "ticket -> priority")
    assert result.exit_code == 0, result.output
    assert "ticket -> reasoning, priority" in result.output


def test_unknown_technique_is_a_usage_error(invoke: Invoke) -> None:
    result = invoke("show", "cot_zero")
    assert result.exit_code == 2
    assert "did you mean cot_zeroshot" in result.output


def test_list_does_not_import_dspy() -> None:
    probe = (
        "import sys, typer\n"
        "from promptkit.cli.techniques_cmd import register\n"
        "app = typer.Typer(); register(app)\n"
        "app.callback()(lambda: None)\n"
        "try:\n    app(['techniques', 'list'])\nexcept SystemExit:\n    pass\n"
        "print('DSPY', 'dspy' in sys.modules, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert "DSPY False" in result.stderr, result.stderr[-2000:]
