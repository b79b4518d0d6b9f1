"""`promptkit ask --technique ID` for every registered technique that fits question -> answer."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from promptkit import techniques
from promptkit.cli import app
from promptkit.techniques.sandbox import detect_sandbox

QA_TECHNIQUES = [info.id for info in techniques.list() if info.fits_question_answer]
# The fake model echoes text, which is not Python: these techniques must fail cleanly, not run it.
WRITES_CODE = {"program_of_thought", "pal", "mathprompter"}


def test_every_registered_technique_is_listed_with_its_paper() -> None:
    result = CliRunner().invoke(app, ["techniques", "list"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    for info in techniques.list():
        assert info.id in result.output
    assert len(QA_TECHNIQUES) >= 20


@pytest.mark.parametrize("technique", QA_TECHNIQUES)
def test_ask_with_a_technique(technique: str) -> None:
    result = CliRunner().invoke(app, ["ask", "What is 2+3?", "--model", "fake", "--technique", technique])
    if technique in WRITES_CODE:
        # With a sandbox the echoed text runs and fails as a program; without one it is refused unrun.
        expected = "ProgramError" if detect_sandbox() is not None else "SandboxUnavailableError"
        assert result.exit_code == 1 and expected in result.output
    else:
        assert result.exit_code == 0, result.output
        assert "[fake]" in result.output


def test_unknown_technique_and_cot_conflict_are_usage_errors() -> None:
    unknown = CliRunner().invoke(app, ["ask", "q", "--model", "fake", "--technique", "cot_zeroshoot"])
    assert unknown.exit_code == 2 and "cot_zeroshot" in unknown.output  # close match suggested
    both = CliRunner().invoke(app, ["ask", "q", "--model", "fake", "--technique", "vanilla", "--cot"])
    assert both.exit_code == 2
