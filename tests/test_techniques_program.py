"""Program of Thoughts and PAL on FakeLM: the code runs in the sandbox, errors go back to the model,
retries are bounded, and without a sandbox nothing runs (and no LM call is spent)."""

from __future__ import annotations

from typing import Any

import pytest

from promptkit.parsing import strip_fences
from promptkit.techniques import build, sandbox
from promptkit.techniques.program import ProgramError
from promptkit.techniques.sandbox import SandboxUnavailableError, detect_sandbox

needs_sandbox = pytest.mark.skipif(detect_sandbox() is None, reason="no sandbox backend works on this machine")


@needs_sandbox
def test_program_of_thought_runs_the_code_and_returns_ans(fake: Any) -> None:
    lm = fake([{"code": "apples = 3\nbought = 4 * 2\nans = apples + bought"}])
    prediction = build("program_of_thought", "question -> answer: int")(question="3 apples, buys 2 bags of 4?")
    assert prediction.answer == 11 and prediction.result == "11"
    assert len(lm.calls) == 1
    system = lm.calls[0].messages[0]["content"]
    assert "assign the final result to a variable named `ans`" in system and "no network" in system


@needs_sandbox
def test_pal_calls_solution(fake: Any) -> None:
    code = "def solution():\n    # Olivia has $23 and buys 5 bagels at $3\n    return 23 - 5 * 3"
    lm = fake([{"code": f"```python\n{code}\n```"}])
    prediction = build("pal")(question="Olivia has $23...")
    assert prediction.answer == "8" and prediction.code == code
    assert "def solution():" in lm.calls[0].messages[0]["content"]


@needs_sandbox
def test_a_failing_program_is_shown_to_the_model_and_fixed(fake: Any) -> None:
    lm = fake([{"code": "total = 10\nans = total / 0"}, {"code": "total = 10\nans = total / 2"}])
    prediction = build("program_of_thought")(question="half of 10?")
    assert prediction.answer == "5.0" and len(lm.calls) == 2
    fix = lm.calls[1].last_user_message
    assert "ans = total / 0" in fix and "ZeroDivisionError" in fix
    assert [a["kind"] for a in prediction.attempts] == ["error", "ok"]


@needs_sandbox
def test_a_program_without_a_result_is_retried(fake: Any) -> None:
    lm = fake([{"code": "x = 1"}, {"code": "ans = 1"}])
    prediction = build("program_of_thought")(question="q")
    assert prediction.answer == "1"
    assert "produced no result" in lm.calls[1].last_user_message


@needs_sandbox
def test_retries_are_bounded(fake: Any) -> None:
    lm = fake([{"code": "raise ValueError('one')"}, {"code": "raise ValueError('two')"}])
    with pytest.raises(ProgramError) as caught:
        build("program_of_thought", max_retries=1)(question="q")
    assert len(lm.calls) == 2 and len(caught.value.attempts) == 2
    assert "ValueError: two" in str(caught.value)


@needs_sandbox
def test_a_runaway_program_is_stopped_and_reported(fake: Any) -> None:
    lm = fake([{"code": "while True:\n    pass"}, {"code": "ans = 2"}])
    prediction = build("program_of_thought", timeout=1.0)(question="q")
    assert prediction.answer == "2"
    assert "timeout" in lm.calls[1].last_user_message


@needs_sandbox
def test_several_outputs_are_mapped_by_one_more_call(fake: Any) -> None:
    lm = fake([{"code": "ans = [3, 4]"}, {"low": "3", "high": "4"}])
    prediction = build("program_of_thought", "question -> low, high")(question="range?")
    assert (prediction.low, prediction.high) == ("3", "4")
    assert "[3, 4]" in lm.calls[1].last_user_message


def test_without_a_sandbox_the_program_is_refused_before_any_lm_call(
    fake: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "backend_works", lambda backend: False)
    lm = fake([{"code": "ans = 1"}])
    for technique in ("program_of_thought", "pal"):
        with pytest.raises(SandboxUnavailableError, match="refusing to run the program unsandboxed"):
            build(technique)(question="q")
    assert lm.calls == []


def test_strip_fences() -> None:
    assert strip_fences("```python\nans = 1\n```") == "ans = 1"
    assert strip_fences("  ans = 1  ") == "ans = 1"
