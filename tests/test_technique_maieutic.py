"""maieutic: abductive explanations, integrity checks under negation, NLI edges and the weighted MAX-SAT answer."""

from __future__ import annotations

from typing import Any

import pytest

from promptkit import techniques
from promptkit.errors import InputError
from promptkit.techniques.maieutic import negate, solve, truth

Q = "Can penguins fly?"
E_TRUE = "Penguins are birds and birds fly."
E_FALSE = "Penguins have flippers instead of wings for flying."
BELIEFS = {
    Q: "True",  # the direct answer is wrong; the explanations outvote it
    E_TRUE: "True",
    negate(E_TRUE): "True",  # not integral: both it and its negation "hold"
    E_FALSE: "True",
    negate(E_FALSE): "False",  # integral, believed true
}


def test_truth_negate_and_solve() -> None:
    assert truth("True.") is True and truth(" false, because") is False and truth("maybe") is None
    assert negate("Birds fly.") == "It is not true that birds fly."
    # x0 or x1 (2), not x0 (1): best is x0=False, x1=True; prefer breaks the tie between equal scores
    assert solve(2, [(2.0, ((0, True), (1, True))), (1.0, ((0, False),))], {0: True}) == ([False, True], 3.0)
    assert solve(1, [], {0: False})[0] == [False]


def _reply(call: Any) -> dict[str, Any]:
    if call.output_fields == ["because_true", "because_false"]:
        if call.inputs["statement"] == Q:
            return {"because_true": E_TRUE, "because_false": E_FALSE}
        return {"because_true": "Birds have wings.", "because_false": "Ostriches are birds unable to fly."}
    if call.output_fields == ["verdict"]:
        return {
            "verdict": BELIEFS.get(
                call.inputs["statement"], "True" if "not" not in call.inputs["statement"] else "False"
            )
        }
    assert call.output_fields == ["relation"]
    return {"relation": "neutral"}


def test_the_tree_is_built_checked_and_solved(fake: Any) -> None:
    lm = fake(fn=_reply)
    prediction = techniques.build("maieutic")(question=Q)
    kinds = [c.output_fields[0] for c in lm.calls]
    # Q's verdict; abduce Q; judge E_T and its negation (not integral -> expanded); ...; E_F and its negation
    assert kinds[:4] == ["verdict", "because_true", "verdict", "verdict"]
    assert kinds[4] == "because_true"  # E_T was not integral, so it is explained in turn (depth 2)
    statements = [c.inputs["statement"] for c in lm.calls if c.output_fields == ["verdict"]]
    assert statements[:3] == [Q, E_TRUE, negate(E_TRUE)]
    nodes = prediction.nodes
    assert [n["text"] for n in nodes] == [Q, E_TRUE, "Birds have wings.", "Ostriches are birds unable to fly.", E_FALSE]
    assert [n["integral"] for n in nodes] == [False, False, True, True, True]
    assert nodes[2]["parent"] == 1 and nodes[4]["parent"] == 0 and nodes[4]["explains"] is False
    assert kinds.count("relation") == 3  # pairs of integral nodes, max_pairs=3
    # E_F is believed true and explains Q being false: that outweighs Q's own verdict (weight 0.5).
    assert prediction.answer == "False" and prediction.question_verdict is True
    assert "False, because " + E_FALSE in prediction.reasoning


def test_depth_one_and_a_bool_output(fake: Any) -> None:
    lm = fake(fn=_reply)
    prediction = techniques.build("maieutic", "question -> answer: bool", depth=1, max_pairs=0)(question=Q)
    assert [c.output_fields[0] for c in lm.calls] == ["verdict", "because_true"] + ["verdict"] * 4
    assert prediction.answer is False and len(prediction.nodes) == 3


def test_options_are_checked() -> None:
    with pytest.raises(InputError, match="depth"):
        techniques.build("maieutic", depth=0)
    with pytest.raises(InputError, match="exactly one str output"):
        techniques.build("maieutic", "question -> answer: int")


@pytest.mark.parametrize("relation", ["entailment", "contradiction", "neutral"])
def test_nli_edges_enter_the_max_sat_problem(fake: Any, relation: str) -> None:
    """Both explanations are integral (E_T believed false, E_F true): one NLI call relates them, and an
    entailment or a contradiction becomes a clause of the MAX-SAT problem."""
    beliefs = {Q: "False", E_TRUE: "False", negate(E_TRUE): "True", E_FALSE: "True", negate(E_FALSE): "False"}

    def reply(call: Any) -> dict[str, Any]:
        if call.output_fields == ["because_true", "because_false"]:
            return {"because_true": E_TRUE, "because_false": E_FALSE}
        if call.output_fields == ["verdict"]:
            return {"verdict": beliefs[call.inputs["statement"]]}
        assert (call.inputs["premise"], call.inputs["hypothesis"]) == (E_TRUE, E_FALSE)
        return {"relation": relation}

    fake(fn=reply)
    prediction = techniques.build("maieutic", depth=1)(question=Q)
    assert prediction.relations == [{"premise": 1, "hypothesis": 2, "relation": relation}]
    edges = {
        "entailment": [(1.0, ((1, False), (2, True)))],
        "contradiction": [(1.0, ((1, False), (2, False)))],
        "neutral": [],
    }
    assert prediction.clauses[4:-1] == edges[relation]  # after 2 beliefs + 2 abduction links, before Q's verdict
    assert prediction.answer == "False"
