"""Every DSPy 3.4 optimizer promptkit offers compiles a small program on FakeLM (quick tests)."""

from __future__ import annotations

from typing import Any

import dspy
import numpy as np
import pytest

from promptkit.errors import InputError
from promptkit.lm import FakeLM
from promptkit.lm.fake_engine import echo_answer
from promptkit.optimize import compile
from promptkit.optimizers import OPTIMIZERS
from tests.programs import CAPITALS as ALL_CAPITALS
from tests.programs import Capital

# The first ten: the optimizer tests' train set.
CAPITALS = dict(list(ALL_CAPITALS.items())[:10])
NEW_INSTRUCTION = "Name the capital city of the country, one word."


def reply(call: Any) -> Any:
    """The task: right, except on Peru and Cuba unless the prompt carries NEW_INSTRUCTION (so an instruction
    optimizer has something to find); anything else (instruction proposals, GEPA's raw reflection
    prompt): a typed echo, or a fenced instruction."""
    if call.signature is None:
        return f"```\n{NEW_INSTRUCTION}\n```"
    if "answer" in call.output_fields and "question" in call.inputs:
        country = str(call.inputs["question"]).removeprefix("Capital of ").rstrip("?")
        hard = country in {"Peru", "Cuba"} and NEW_INSTRUCTION not in call.prompt
        return {
            name: ("Nope" if hard else CAPITALS.get(country, "?")) if name == "answer" else "thinking"
            for name in call.output_fields
        }
    answer = echo_answer(call, call.signature)
    for name in ("proposed_instruction", "new_instruction", "instruction"):
        if isinstance(answer, dict) and name in answer:
            answer[name] = NEW_INSTRUCTION
    return answer


def examples() -> list[dspy.Example]:
    return [dspy.Example(question=f"Capital of {c}?", answer=a).with_inputs("question") for c, a in CAPITALS.items()]


def exact(example: Any, prediction: Any, trace: Any = None) -> float:
    return float(example.answer == prediction.answer)


def tiny_embedder(texts: list[str]) -> np.ndarray:
    """Letter counts: deterministic, offline (knn_fewshot takes any texts -> vectors callable)."""
    return np.array([[t.lower().count(ch) for ch in "abcdefghijklmnopqrstuvwxyz"] for t in texts], dtype=float)


@pytest.fixture()
def lm() -> Any:
    model = FakeLM(fn=reply)
    with dspy.context(lm=model):
        yield model


CASES: dict[str, dict[str, Any]] = {
    "labeled_fewshot": {"k": 3},
    "bootstrap_fewshot": {"max_bootstrapped_demos": 2, "max_labeled_demos": 2},
    "bootstrap_random_search": {"num_candidate_programs": 2, "max_bootstrapped_demos": 1, "max_labeled_demos": 1},
    "knn_fewshot": {"k": 2, "max_bootstrapped_demos": 1, "max_labeled_demos": 0},
    "copro": {"breadth": 2, "depth": 1},
    "miprov2": {"auto": "light", "num_trials": 2, "max_bootstrapped_demos": 1, "max_labeled_demos": 1},
    "simba": {"max_steps": 1, "num_candidates": 2, "bsize": 4, "max_demos": 1},
    "gepa": {"max_metric_calls": 30, "reflection_minibatch_size": 2},
}


def test_every_optimizer_is_covered() -> None:
    assert set(CASES) == set(OPTIMIZERS)


@pytest.mark.parametrize("name", list(CASES))
def test_optimizer_compiles_on_fakelm(name: str, lm: Any) -> None:
    data = examples()
    train, val = data[:6], data[6:]
    compiled = compile(
        Capital(),
        train,
        exact,
        optimizer=name,
        valset=val,
        progress=False,
        seed=1,
        num_threads=1,
        reflection_lm=lm,
        embedder=tiny_embedder if name == "knn_fewshot" else None,
        **CASES[name],
    )
    assert compiled(question="Capital of Kenya?").answer == "Nairobi"
    predictor = compiled.answer
    changed_instructions = predictor.signature.instructions != Capital().answer.signature.instructions
    if name in {"labeled_fewshot", "bootstrap_fewshot"}:
        assert predictor.demos, "a few-shot optimizer left no demos"
    if name == "bootstrap_random_search":  # zero-shot, labelled-only, unshuffled + 2 shuffled bootstraps
        assert len(compiled.candidate_programs) == 5
    if name in {"copro", "gepa", "miprov2"}:
        assert changed_instructions and NEW_INSTRUCTION in predictor.signature.instructions
    if name == "knn_fewshot":  # demos are picked per input at run time: the last call carried the 2 nearest
        assert "Capital of" in str(lm.history[-1]["messages"])


def test_gepa_needs_a_reflection_lm_and_miprov2_a_valid_auto(lm: Any) -> None:
    train = examples()[:4]
    with pytest.raises(InputError, match="reflection LM"):
        compile(Capital(), train, exact, optimizer="gepa", progress=False, max_metric_calls=5)
    with pytest.raises(InputError, match="auto='fast' is not one of"):
        compile(Capital(), train, exact, optimizer="miprov2", progress=False, auto="fast")
    with pytest.raises(InputError, match="SIMBA has no option 'depth'"):
        compile(Capital(), train, exact, optimizer="simba", progress=False, depth=2)
