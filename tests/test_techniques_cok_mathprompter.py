"""Chain-of-Knowledge and MathPrompter on FakeLM: the control flow, what each prompt sees, the bounds, and
(for MathPrompter) that both solutions run in the sandbox — or not at all when there is none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from promptkit.errors import InputError
from promptkit.techniques import build, sandbox
from promptkit.techniques.knowledge import rationale_steps
from promptkit.techniques.mathprompter import algebraic_template, clean_expression
from promptkit.techniques.program import ProgramError
from promptkit.techniques.sandbox import SandboxUnavailableError, detect_sandbox

needs_sandbox = pytest.mark.skipif(detect_sandbox() is None, reason="no sandbox backend works on this machine")


def calls_for(lm: Any, *fields: str) -> list[Any]:
    return [c for c in lm.calls if c.output_fields == list(fields)]


# -- Chain-of-Knowledge -----------------------------------------------------------------------------------


def cok_answer(answers: list[str], rationale: str = "s1 claim\ns2 claim\ns3 claim", *, source: str = "") -> Any:
    """A scripted CoK run: sample i answers ``answers[i]``; each step's query, evidence and fix are traceable."""
    sampled = iter(answers)

    def reply(call: Any) -> dict[str, Any]:
        fields, inputs = call.output_fields, call.inputs
        if fields == ["reasoning", "answer"]:
            return {"reasoning": rationale, "answer": next(sampled)}
        if fields == ["domains"]:
            return {"domains": ["geography", "history"]}
        if "query" in fields:
            out = {"query": f"Q<{inputs['step']}>", "knowledge": f"K<{inputs['step']}>", "source": source}
            return {name: out[name] for name in fields}
        if fields == ["corrected_step"]:
            return {"corrected_step": f"fixed {inputs['step']}"}
        assert fields == ["answer"], fields
        return {"answer": "consolidated"}

    return reply


def test_cok_agreement_above_threshold_returns_after_sampling_and_domains(fake: Any) -> None:
    lm = fake(fn=cok_answer(["Paris", "paris", "Lyon"]))
    prediction = build("cok", n=3, num_threads=1)(question="Capital of France?")
    assert len(lm.calls) == 3 + 1
    assert prediction.answer == "Paris" and prediction.share == pytest.approx(2 / 3)
    assert prediction.votes == {"paris": 2, "lyon": 1}
    assert prediction.domains == ["geography", "history"]
    assert prediction.corrected is False and prediction.steps == []
    assert "knowledge domains" in calls_for(lm, "domains")[0].messages[0]["content"]


def test_cok_split_vote_corrects_each_step_in_order_then_consolidates(fake: Any) -> None:
    lm = fake(fn=cok_answer(["a", "b", "c"]))
    passages: list[str] = []

    def search(query: str) -> list[str]:
        passages.append(query)
        return [f"P1<{query}>", f"P2<{query}>", "P3 dropped by k"]

    prediction = build("cok", n=3, num_threads=1, retriever=search, k=2)(question="Who?")
    # 3 samples + domains + (query + correct) x 3 steps + consolidation
    assert len(lm.calls) == 3 + 1 + 2 * 3 + 1
    assert prediction.corrected is True and prediction.answer == "consolidated"
    assert [s["original"] for s in prediction.steps] == ["s1 claim", "s2 claim", "s3 claim"]
    assert [s["corrected"] for s in prediction.steps] == ["fixed s1 claim", "fixed s2 claim", "fixed s3 claim"]
    assert passages == ["Q<s1 claim>", "Q<s2 claim>", "Q<s3 claim>"]
    assert prediction.steps[1]["evidence"] == ["P1<Q<s2 claim>>", "P2<Q<s2 claim>>"]
    # The calls alternate query -> correct, step by step.
    stage2 = [c.output_fields for c in lm.calls[4:-1]]
    assert stage2 == [["query"], ["corrected_step"]] * 3
    queries, fixes = calls_for(lm, "query"), calls_for(lm, "corrected_step")
    assert "geography, history" in queries[0].last_user_message
    assert "(none yet)" in queries[0].last_user_message
    # Later prompts see the earlier *corrected* steps, never the uncorrected ones before them.
    assert "1. fixed s1 claim\n2. fixed s2 claim" in queries[2].last_user_message
    assert "1. fixed s1 claim" in fixes[1].last_user_message
    assert "P1<Q<s2 claim>>" in fixes[1].last_user_message and "P3 dropped" not in fixes[1].last_user_message
    final = lm.calls[-1].last_user_message
    assert "fixed s1 claim\nfixed s2 claim\nfixed s3 claim" in final
    assert prediction.corrected_rationale == "fixed s1 claim\nfixed s2 claim\nfixed s3 claim"


def test_cok_without_a_retriever_the_query_call_recalls_the_knowledge(fake: Any) -> None:
    lm = fake(fn=cok_answer(["a", "b"], rationale="only step"))
    prediction = build("cok", n=2, num_threads=1, threshold=0.5)(question="Who?")
    (query,) = calls_for(lm, "query", "knowledge")
    assert "from what you reliably know" in query.messages[0]["content"]
    assert prediction.steps[0]["evidence"] == ["K<only step>"] and prediction.steps[0]["source"] is None
    assert "K<only step>" in calls_for(lm, "corrected_step")[0].last_user_message


def test_cok_a_domain_mapping_routes_each_query(fake: Any) -> None:
    lm = fake(fn=cok_answer(["a", "b"], rationale="one. Two.", source="Medicine"))
    asked: dict[str, list[str]] = {"wiki": [], "medicine": []}

    def source(name: str, page: str) -> Any:
        def retrieve(query: str) -> list[str]:
            asked[name].append(query)
            return [page]

        return retrieve

    sources = {"wiki": source("wiki", "wiki page"), "medicine": source("medicine", "pubmed abstract")}
    prediction = build("cok", n=2, num_threads=1, retriever=sources)(question="Which drug?")
    assert asked == {"wiki": [], "medicine": ["Q<one.>", "Q<Two.>"]}
    assert [s["source"] for s in prediction.steps] == ["medicine", "medicine"]
    (first, _) = calls_for(lm, "source", "query")
    assert "one of: wiki, medicine" in first.messages[0]["content"]
    assert "pubmed abstract" in calls_for(lm, "corrected_step")[0].last_user_message


def test_cok_an_unknown_source_falls_back_to_the_first(fake: Any) -> None:
    fake(fn=cok_answer(["a", "b"], rationale="step", source="astrology"))
    prediction = build("cok", n=2, num_threads=1, retriever={"wiki": lambda q: "page"})(question="q")
    assert prediction.steps[0]["source"] == "wiki" and prediction.steps[0]["evidence"] == ["page"]


def test_rationale_steps_split_strip_and_fold() -> None:
    assert rationale_steps("1. a\n2) b\n\nStep 3: c", 5) == ["a", "b", "c"]
    assert rationale_steps("First fact. Second fact! Third?", 5) == ["First fact.", "Second fact!", "Third?"]
    assert rationale_steps("a\nb\nc\nd", 2) == ["a", "b c d"]


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"threshold": 1.5}, "threshold"),
        ({"max_steps": 0}, "max_steps"),
        ({"retriever": "wiki"}, "retriever"),
        ({"retriever": {}}, "retriever"),
        ({"n": 0}, "n"),
        ({"k": 0}, "k"),
        ({"temperature": 0}, "temperature"),
    ],
)
def test_cok_bad_options_are_input_errors(options: dict[str, Any], name: str) -> None:
    with pytest.raises(InputError, match=name):
        build("cok", **options)


# -- MathPrompter -----------------------------------------------------------------------------------------


def test_numbers_become_variables_one_per_distinct_value() -> None:
    question = "Meals cost $5; 15 people, 8 kids, 5 each, 1,200 total, 2.5 h, x2."
    templated, mapping = algebraic_template({"question": question})
    assert templated["question"] == "Meals cost $x1; x2 people, x3 kids, x1 each, x4 total, x5 h, x2."
    assert mapping == {"x1": 5, "x2": 15, "x3": 8, "x4": 1200, "x5": 2.5}
    assert algebraic_template({"question": "no numbers", "n": 3}) == ({"question": "no numbers", "n": 3}, {})


def test_clean_expression() -> None:
    assert clean_expression("```\nAnswer = x1^2 × x2\n```") == "x1**2 * x2"
    assert clean_expression("First x1.\nAnswer = (x1 - x2) / 2.") == "(x1 - x2) / 2"


def mp(expressions: list[str], functions: list[str]) -> Any:
    """A scripted MathPrompter run: attempt i writes ``expressions[i]`` and ``functions[i]``."""
    exprs, funcs = iter(expressions), iter(functions)

    def reply(call: Any) -> dict[str, Any]:
        if call.output_fields == ["expression"]:
            return {"expression": next(exprs)}
        assert call.output_fields == ["code"], call.output_fields
        return {"code": next(funcs)}

    return reply


QUESTION = "Each adult meal costs $5 and kids eat free. A group of 15 people came in and 8 were kids. Cost?"


@needs_sandbox
def test_an_agreeing_pair_gives_the_answer_on_the_real_values(fake: Any) -> None:
    lm = fake(fn=mp(["Answer = x1 * (x2 - x3)"], ["def solution(x1, x2, x3):\n    return x1 * (x2 - x3)"]))
    prediction = build("mathprompter", "question -> answer: int", trials=4)(question=QUESTION)
    assert prediction.answer == 35 and prediction.verified is True and prediction.result == "35"
    assert len(lm.calls) == 2
    assert prediction.variables == {"x1": 5, "x2": 15, "x3": 8}
    assert "costs $x1" in prediction.template and "x1 = 5, x2 = 15, x3 = 8" in prediction.template
    assert len(prediction.trials) == 4 and all(t["agree"] for t in prediction.trials)
    assert len({tuple(t["values"].values()) for t in prediction.trials}) > 1  # random, not the real values
    for call in lm.calls:  # both generators see the template, never the real numbers
        assert "costs $x1" in call.last_user_message and "$5" not in call.last_user_message
    assert "Answer = " in lm.calls[0].messages[0]["content"]
    assert "def solution" in lm.calls[1].messages[0]["content"]


@needs_sandbox
def test_trials_are_seeded(fake: Any) -> None:
    pair = (["Answer = x1 + x2 + x3"], ["def solution(a, b, c):\n    return a + b + c"])
    fake(fn=mp(*pair))
    first = build("mathprompter", seed=7)(question=QUESTION).trials
    fake(fn=mp(*pair))
    assert build("mathprompter", seed=7)(question=QUESTION).trials == first


@needs_sandbox
def test_a_disagreeing_pair_is_regenerated_with_distinct_rollouts(fake: Any) -> None:
    lm = fake(
        fn=mp(
            ["Answer = x1 * x2 - x3", "Answer = x1 * (x2 - x3)"],
            ["def solution(x1, x2, x3):\n    return x1 * (x2 - x3)"] * 2,
        )
    )
    prediction = build("mathprompter", temperature=0.9)(question=QUESTION)
    assert prediction.answer == "35" and prediction.verified is True
    assert len(lm.calls) == 4 and len(prediction.attempts) == 2
    assert prediction.attempts[0]["agreed"] is False and prediction.expression == "x1 * (x2 - x3)"
    assert [c.config.get("temperature") for c in lm.calls[2:]] == [0.9, 0.9]
    # The rollout id (DSPy's cache key) is set on retries only.
    assert ["rollout_id" in entry["kwargs"] for entry in lm.history] == [False, False, True, True]


@needs_sandbox
def test_attempts_are_bounded_and_the_fallback_is_an_unverified_majority(fake: Any) -> None:
    lm = fake(
        fn=mp(
            ["Answer = x1 + x2", "Answer = x1 * 2", "Answer = x1 + x2"],
            ["def solution(x1, x2, x3):\n    return x1 * x2"] * 3,
        )
    )
    prediction = build("mathprompter", attempts=3)(question=QUESTION)
    assert len(lm.calls) == 6 and prediction.verified is False
    # Real values: expression 20, 10, 20 and function 75 x3: 75 wins.
    assert prediction.answer == "75"
    assert [a["agreed"] for a in prediction.attempts] == [False, False, False]
    rollouts = [entry["kwargs"].get("rollout_id") for entry in lm.history]
    assert rollouts[0] is None and rollouts[2] == rollouts[3] and rollouts[2] != rollouts[4]


@needs_sandbox
def test_nothing_numeric_is_a_program_error(fake: Any) -> None:
    fake(fn=mp(["Answer = nonsense"] * 2, ["def solution(:"] * 2))
    with pytest.raises(ProgramError) as caught:
        build("mathprompter", attempts=2)(question=QUESTION)
    assert len(caught.value.attempts) == 2


@needs_sandbox
@pytest.mark.parametrize(
    "body",
    [
        "open({path!r}, 'w').write('escaped')",
        "import os; os.listdir({dir!r})",
        "import subprocess; subprocess.run(['touch', {path!r}], check=True)",
        "import socket; socket.create_connection(('127.0.0.1', 80))",
        "print(open('/etc/passwd').read())",
    ],
)
def test_hostile_code_fails_inside_the_sandbox(fake: Any, tmp_path: Path, body: str) -> None:
    marker = tmp_path / "marker"
    line = body.format(path=str(marker), dir=str(tmp_path))
    code = f"def solution(x1, x2, x3):\n    {line}\n    return x1 * (x2 - x3)"
    hostile_expr = f"__import__('os').system('touch {marker}') or x1"
    fake(fn=mp([hostile_expr], [code]))
    with pytest.raises(ProgramError) as caught:  # neither solution gives a number on the real values
        build("mathprompter", attempts=1)(question=QUESTION)
    assert not marker.exists()  # nothing ran in this process or on this file system
    expression, function = caught.value.attempts[0]["real"]
    assert expression.startswith("NameError")  # the expression gets no builtins, so no __import__ either
    assert function.split(":")[0] in ("FileNotFoundError", "PermissionError", "OSError"), function


@needs_sandbox
def test_several_outputs_are_mapped_by_one_more_call(fake: Any) -> None:
    replies = mp(["Answer = x1 * x2"], ["def solution(x1, x2):\n    return x1 * x2"])

    def reply(call: Any) -> dict[str, Any]:
        if call.output_fields == ["unit", "answer"]:
            return {"unit": "muffins", "answer": "42"}
        return replies(call)

    lm = fake(fn=reply)
    prediction = build("mathprompter", "question -> unit, answer")(question="6 muffins per box, 7 boxes?")
    assert (prediction.unit, prediction.answer) == ("muffins", "42") and len(lm.calls) == 3
    assert "42" in lm.calls[2].last_user_message


def test_without_a_sandbox_mathprompter_is_refused_before_any_lm_call(
    fake: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "backend_works", lambda backend: False)
    lm = fake(fn=mp(["Answer = x1"], ["def solution(x1):\n    return x1"]))
    with pytest.raises(SandboxUnavailableError, match="refusing to run the program unsandboxed"):
        build("mathprompter")(question="3 apples?")
    assert lm.calls == []


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"attempts": 0}, "attempts"),
        ({"trials": 0}, "trials"),
        ({"tolerance": -1}, "tolerance"),
        ({"temperature": 0}, "temperature"),
        ({"seed": -1}, "seed"),
    ],
)
def test_mathprompter_bad_options_are_input_errors(options: dict[str, Any], name: str) -> None:
    with pytest.raises(InputError, match=name):
        build("mathprompter", **options)
