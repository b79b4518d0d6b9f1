"""Tree of Thoughts on FakeLM: BFS levels, value prompts, breadth pruning, the call bound, the best path."""

from __future__ import annotations

from typing import Any

import pytest

from promptkit.adapter import TemplateAdapter
from promptkit.errors import InputError
from promptkit.techniques import build
from promptkit.techniques.tree_of_thoughts import max_calls

SCORES = {"A1": "likely", "A2": "sure", "A1-x": "sure", "A1-y": "impossible", "A2-x": "likely", "A2-y": "likely"}


def search_answer(call: Any) -> dict[str, Any]:
    steps = call.inputs.get("steps_so_far", "")
    last = steps.strip().splitlines()[-1].split(". ", 1)[-1] if steps.strip() and "(none" not in steps else ""
    if call.output_fields == ["next_steps"]:
        return {"next_steps": [f"{last}-x", f"{last}-y"] if last else ["A1", "A2"]}
    if call.output_fields == ["reasoning", "evaluation"]:
        return {"reasoning": "checked", "evaluation": SCORES[last]}
    return {"answer": "done"}


def test_bfs_keeps_the_best_states_and_answers_from_the_best_path(fake_lm: Any) -> None:
    lm = fake_lm(fn=search_answer, adapter=TemplateAdapter())
    prediction = build("tree_of_thoughts", breadth=2, depth=2, proposals=2)(question="Make 24 from 4 4 6 8")
    assert len(lm.calls) == max_calls(depth=2, breadth=2, proposals=2) == 10
    kinds = [tuple(c.output_fields) for c in lm.calls]
    assert kinds.count(("next_steps",)) == 3 and kinds.count(("reasoning", "evaluation")) == 6
    assert prediction.steps == ["A1", "A1-x"]  # sure (20) beats likely+likely; impossible is pruned last
    assert [node["evaluation"] for node in prediction.tree[0]] == ["likely", "sure"]
    assert "1. A1\n2. A1-x" in lm.calls[-1].last_user_message
    assert "Propose up to 2 different possible next steps" in lm.calls[0].messages[0]["content"]
    value_prompt = next(c for c in lm.calls if c.output_fields == ["reasoning", "evaluation"]).messages[0]["content"]
    assert "sure" in value_prompt and "impossible" in value_prompt
    assert prediction.answer == "done"


def test_breadth_one_is_greedy(fake_lm: Any) -> None:
    lm = fake_lm(fn=search_answer, adapter=TemplateAdapter())
    prediction = build("tree_of_thoughts", breadth=1, depth=2, proposals=2)(question="q")
    assert prediction.steps[0] == "A2"  # level 1: A2 is sure
    assert len(lm.calls) <= max_calls(depth=2, breadth=1, proposals=2)


def test_search_stops_when_nothing_is_proposed(fake_lm: Any) -> None:
    lm = fake_lm([{"next_steps": []}, {"answer": "direct"}], adapter=TemplateAdapter())
    prediction = build("tree_of_thoughts", depth=3)(question="q")
    assert prediction.answer == "direct" and prediction.steps == [] and len(lm.calls) == 2


@pytest.mark.parametrize("option", ["breadth", "depth", "proposals"])
def test_bad_search_bounds_are_typed_errors(option: str) -> None:
    with pytest.raises(InputError, match=option):
        build("tree_of_thoughts", **{option: 0})
