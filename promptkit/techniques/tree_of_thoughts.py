"""Tree of Thoughts (Yao et al., 2023): breadth-first search over reasoning steps with an LM value prompt.

Each level: for every kept partial solution, one *propose* call returns up to ``proposals`` next
steps; every new partial solution gets one *value* call (sure / likely / impossible, scored 20 / 1 /
0.001 as in the paper's Game-of-24 setup); the best ``breadth`` are kept (ties keep the earlier
candidate). After ``depth`` levels — or earlier when nothing new is proposed — one *answer* call
writes the outputs from the best path. LM calls are bounded by construction::

    1 + proposals            (level 1: one state)
    + (depth - 1) * breadth * (1 + proposals)
    + 1                      (the answer)
"""

from __future__ import annotations

from typing import Any, Literal

import dspy

from promptkit.techniques.base import (
    SignatureLike,
    Step,
    TechniqueModule,
    bullet_list,
    fan_out,
    positive,
)

Evaluation = Literal["sure", "likely", "impossible"]
VALUE_SCORES: dict[str, float] = {"sure": 20.0, "likely": 1.0, "impossible": 0.001}


def max_calls(depth: int, breadth: int, proposals: int) -> int:
    """The most LM calls one forward pass can make (see the module docstring)."""
    return 1 + proposals + (depth - 1) * breadth * (1 + proposals) + 1


class TreeOfThoughts(TechniqueModule):
    """BFS over reasoning steps. ``tree`` on the prediction lists every level's scored candidates."""

    technique_id = "tree_of_thoughts"

    def __init__(
        self,
        signature: SignatureLike = "question -> answer",
        *,
        breadth: int = 2,
        depth: int = 3,
        proposals: int = 3,
        num_threads: int = 1,
    ) -> None:
        super().__init__(signature)
        tid = self.technique_id
        self.breadth = positive("breadth", breadth, tid)
        self.depth = positive("depth", depth, tid)
        self.proposals = positive("proposals", proposals, tid)
        self.num_threads = positive("num_threads", num_threads, tid)
        so_far = ("steps_so_far", "the reasoning steps taken so far, numbered (empty at the start)", str)
        self.propose = self.predictor(
            Step(
                "tree_of_thoughts_propose.j2",
                drop_outputs=True,
                inputs=(so_far,),
                after=(("next_steps", "possible next steps, one short step each", list[str]),),
            ),
            proposals=self.proposals,
        )
        judged = (
            ("reasoning", "a brief check of the steps", str),
            ("evaluation", "sure, likely or impossible", Evaluation),
        )
        self.evaluate = self.predictor(
            Step("tree_of_thoughts_value.j2", drop_outputs=True, inputs=(so_far,), after=judged)
        )
        self.answer = self.predictor(
            Step("tree_of_thoughts_answer.j2", inputs=(("steps", "the best chain of reasoning steps found", str),))
        )

    def _score(self, inputs: dict[str, Any], path: list[str]) -> tuple[float, str]:
        label = str(self.evaluate(**inputs, steps_so_far=bullet_list(path)).evaluation)
        return VALUE_SCORES.get(label, 0.0), label

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        frontier: list[list[str]] = [[]]
        tree: list[list[dict[str, Any]]] = []
        for _ in range(self.depth):
            candidates: list[list[str]] = []
            for path in frontier:
                proposed = self.propose(**inputs, steps_so_far=bullet_list(path) or "(none yet)").next_steps
                candidates += [[*path, str(step)] for step in list(proposed)[: self.proposals]]
            if not candidates:
                break
            scored = fan_out(lambda path: self._score(inputs, path), candidates, self.num_threads)
            level = [
                {"steps": c, "score": score, "evaluation": label}
                for c, (score, label) in zip(candidates, scored, strict=True)
            ]
            tree.append(level)
            # sorted() is stable: among equal scores the earlier candidate stays ahead.
            ranked = sorted(range(len(candidates)), key=lambda i: -scored[i][0])[: self.breadth]
            frontier = [candidates[i] for i in ranked]
        best_path = frontier[0]
        answer = self.answer(**inputs, steps=bullet_list(best_path) or "(no steps were proposed)")
        return dspy.Prediction(steps=best_path, tree=tree, **answer.toDict())
