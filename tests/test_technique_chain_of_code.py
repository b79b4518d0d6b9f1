"""chain_of_code: statements run in the OS sandbox; the ones Python cannot run are simulated by the model
(the LMulator) and the program resumes with the state it predicted."""

from __future__ import annotations

from typing import Any

import pytest

from promptkit import techniques
from promptkit.techniques.chain_of_code import new_state, statements
from promptkit.techniques.sandbox import detect_sandbox

needs_sandbox = pytest.mark.skipif(detect_sandbox() is None, reason="no OS sandbox on this machine")

PROGRAM = """\
words = ["apple", "car", "banana"]

def count_fruits(items):
    return sum(1 for w in items if is_fruit(w))

fruits = count_fruits(words)
ans = fruits * 10
"""


def test_statements_split_code_and_pseudocode() -> None:
    assert statements(PROGRAM) == [
        'words = ["apple", "car", "banana"]',
        "def count_fruits(items):\n    return sum(1 for w in items if is_fruit(w))",
        "fruits = count_fruits(words)",
        "ans = fruits * 10",
    ]
    pseudo = "x = 2\nfor w in words:\n    if w is a fruit then count it\nelse:\n    pass\nans = x"
    assert statements(pseudo) == [
        "x = 2",
        "for w in words:\n    if w is a fruit then count it\nelse:\n    pass",
        "ans = x",
    ]


@pytest.mark.parametrize(
    ("reply", "statement", "expected"),
    [
        ('{"fruits": 2}', "fruits = count_fruits(words)", {"fruits": 2}),
        ("2", "fruits = count_fruits(words)", {"fruits": 2}),
        ('{"result": "yes"}', "sarcastic = is_sarcastic(s)", {"sarcastic": "yes"}),
        ("'Paris'", "capital = capital_of('France')", {"capital": "Paris"}),
        ('```json\n{"a": 1, "b": [1, 2]}\n```', "print(a)", {"a": 1, "b": [1, 2]}),
        ("no idea", "print(a)", {}),
    ],
)
def test_the_lmulator_reply_becomes_state(reply: str, statement: str, expected: dict[str, Any]) -> None:
    assert new_state(reply, statement) == expected


@needs_sandbox
def test_failing_statements_are_simulated_and_the_run_resumes(fake: Any) -> None:
    def reply(call: Any) -> dict[str, Any]:
        if call.output_fields == ["code"]:
            return {"code": PROGRAM}
        assert call.output_fields == ["new_state"]
        return {"new_state": '{"fruits": 2}'}

    lm = fake(fn=reply)
    prediction = techniques.build("chain_of_code", "question -> answer: int")(question="How many fruits, times 10?")
    assert [c.output_fields for c in lm.calls] == [["code"], ["new_state"]]
    simulate = lm.calls[1].inputs
    assert simulate["line"] == "fruits = count_fruits(words)" and "is_fruit" in simulate["error"]
    assert '"words": ["apple", "car", "banana"]' in simulate["state"]  # the state Python reached
    assert prediction.answer == 20  # `ans = fruits * 10` ran in the sandbox on the simulated state
    assert prediction.complete and prediction.state["fruits"] == 2
    assert prediction.simulated == [
        {"statement": "fruits = count_fruits(words)", "error": simulate["error"], "new_state": {"fruits": 2}}
    ]


@needs_sandbox
def test_simulations_are_bounded_and_the_state_is_mapped_to_the_outputs(fake: Any) -> None:
    def reply(call: Any) -> dict[str, Any]:
        if call.output_fields == ["code"]:
            return {"code": "a = mystery(1)\nb = mystery(a)\nans = b"}
        if call.output_fields == ["new_state"]:
            return {"new_state": "7"}
        return {"answer": f"from state {call.inputs['result']}"}

    lm = fake(fn=reply)
    prediction = techniques.build("chain_of_code", max_simulations=1)(question="q")
    assert [c.output_fields for c in lm.calls] == [["code"], ["new_state"], ["answer"]]
    assert prediction.complete is False and prediction.state == {"a": 7}
    assert prediction.answer == 'from state {"a": 7}'


def test_no_sandbox_refuses_before_any_call(fake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from promptkit.techniques import chain_of_code
    from promptkit.techniques.sandbox import SandboxUnavailableError

    def refuse(preferred: str | None = None) -> str:
        raise SandboxUnavailableError("no sandbox")

    monkeypatch.setattr(chain_of_code, "require_sandbox", refuse)
    lm = fake([])
    with pytest.raises(SandboxUnavailableError):
        techniques.build("chain_of_code")(question="q")
    assert lm.calls == []
