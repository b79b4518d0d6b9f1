"""Decomposition: plan_and_solve, least_to_most, step_back, system2_attention, skeleton_of_thought.

Each is a fixed chain of Predict steps; every step's instructions come from its template and its
extra fields (plan, subquestions, the step-back question, the rewritten input, the skeleton) are
added to the user's signature, so any signature with the right shape works.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dspy

from promptkit.errors import InputError
from promptkit.techniques.base import (
    SignatureLike,
    Step,
    TechniqueModule,
    bullet_list,
    fan_out,
    positive,
    require_str_output,
)
from promptkit.techniques.options import Retrieval

PS_VARIANTS = ("ps", "ps+")


class PlanAndSolve(TechniqueModule):
    """Call 1 (the PS / PS+ trigger): ``plan`` and its step-by-step ``solution``. Call 2: extract the
    answer fields from them, as the paper's answer-extraction step does."""

    technique_id = "plan_and_solve"

    def __init__(self, signature: SignatureLike = "question -> answer", *, variant: str = "ps+") -> None:
        super().__init__(signature)
        if variant not in PS_VARIANTS:
            raise InputError(f"plan_and_solve: unknown variant {variant!r}", hint="use variant='ps' or variant='ps+'")
        plan = ("plan", "a plan that solves the problem, as numbered steps", str)
        solution = ("solution", "the plan carried out step by step, with the intermediate results", str)
        self.plan = self.predictor(
            Step("plan_and_solve.j2", drop_outputs=True, after=(plan, solution)), variant=variant
        )
        self.answer = self.predictor(Step("plan_and_solve_answer.j2", inputs=(plan, solution)))

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        return self.run_chain(self._inputs(kwargs), "plan", "answer")


def format_solved(pairs: Sequence[tuple[str, str]]) -> str:
    if not pairs:
        return "(none yet)"
    return "\n".join(f"Q{i}: {q}\nA{i}: {a}" for i, (q, a) in enumerate(pairs, 1))


class LeastToMost(TechniqueModule):
    """Decompose into subquestions (1 call), answer them in order, each seeing the earlier answers
    (1 call each), then answer the original problem from all of them (1 call)."""

    technique_id = "least_to_most"

    def __init__(self, signature: SignatureLike = "question -> answer", *, max_subquestions: int = 5) -> None:
        super().__init__(signature)
        self.max_subquestions = positive("max_subquestions", max_subquestions, self.technique_id)
        subquestions = ("subquestions", "simpler subquestions to answer first, in order", list[str])
        solved = ("solved", "the subquestions answered so far, with their answers", str)
        self.decompose = self.predictor(
            Step("least_to_most_decompose.j2", drop_outputs=True, after=(subquestions,)),
            max_subquestions=self.max_subquestions,
        )
        self.solve = self.predictor(
            Step(
                "least_to_most_solve.j2",
                drop_outputs=True,
                inputs=(solved, ("subquestion", "the subquestion to answer now", str)),
                after=(("subanswer", "the answer to the subquestion", str),),
            )
        )
        self.final = self.predictor(Step("least_to_most_final.j2", inputs=(solved,)))

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        subquestions = [str(q) for q in self.decompose(**inputs).subquestions][: self.max_subquestions]
        pairs: list[tuple[str, str]] = []
        for subquestion in subquestions:
            answer = self.solve(**inputs, solved=format_solved(pairs), subquestion=subquestion).subanswer
            pairs.append((subquestion, str(answer)))
        final = self.final(**inputs, solved=format_solved(pairs) if pairs else "(no subquestions were needed)")
        return dspy.Prediction(subquestions=subquestions, subanswers=[a for _, a in pairs], **final.toDict())


class StepBack(TechniqueModule):
    """Call 1: a more generic step-back question and its answer. Call 2: the original outputs, grounded
    in them. With ``retriever`` (``query -> passages``), passages for both questions go to call 2."""

    technique_id = "step_back"
    options = Retrieval

    def __init__(self, signature: SignatureLike = "question -> answer", **options: Any) -> None:
        super().__init__(signature)
        self.retrieval = Retrieval.parse(self.technique_id, self.signature, options)
        retriever = self.retrieval.retriever
        question = ("stepback_question", "a more generic question behind the original one", str)
        answer = ("stepback_answer", "the principles and facts that answer the step-back question", str)
        self.abstract = self.predictor(Step("step_back.j2", drop_outputs=True, after=(question, answer)))
        extra = [question, answer]
        if retriever is not None:
            extra.append(("passages", "retrieved passages for the original and the step-back question", str))
        self.answer = self.predictor(
            Step("step_back_answer.j2", inputs=tuple(extra)), with_passages=retriever is not None
        )

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        stepped = self.abstract(**inputs)
        extra: dict[str, Any] = {
            "stepback_question": stepped.stepback_question,
            "stepback_answer": stepped.stepback_answer,
        }
        if self.retrieval.retriever is not None:
            found: list[str] = []
            for query in (" ".join(str(v) for v in inputs.values()), str(stepped.stepback_question)):
                found += [p for p in self.retrieval.search(query)[1] if p not in found]
            extra["passages"] = bullet_list(found) or "(nothing found)"
        return dspy.Prediction(**extra, **self.answer(**inputs, **extra).toDict())


class System2Attention(TechniqueModule):
    """Call 1 rewrites each text input without opinions and distractors (``unbiased_<name>``); call 2
    runs the user's signature on the rewritten inputs only."""

    technique_id = "system2_attention"

    def __init__(self, signature: SignatureLike = "question -> answer", *, fields: Sequence[str] | None = None) -> None:
        super().__init__(signature)
        sig = self.signature
        text_inputs = [n for n, info in sig.input_fields.items() if info.annotation is str]
        names = text_inputs if fields is None else list(fields)
        unknown = [n for n in names if n not in sig.input_fields]
        if unknown or not names:
            raise InputError(
                f"system2_attention: fields={names!r} must name text input fields of {sig.signature!r}",
                hint=f"choose from {', '.join(sig.input_fields)}",
            )
        self.fields = names
        rewritten = tuple((f"unbiased_{n}", f"the {n} without opinions or irrelevant content", str) for n in names)
        listing = [{"name": n, "output": f"unbiased_{n}"} for n in names]
        self.rewrite = self.predictor(Step("system2_attention.j2", drop_outputs=True, after=rewritten), fields=listing)
        self.answer = self.predictor(Step("system2_attention_answer.j2"))

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        rewritten = self.rewrite(**inputs)
        cleaned = {name: rewritten.get(f"unbiased_{name}") for name in self.fields}
        answer = self.answer(**{**inputs, **cleaned})
        return dspy.Prediction(rewritten=cleaned, **answer.toDict())


class SkeletonOfThought(TechniqueModule):
    """Call 1: a skeleton of short points. Calls 2..n+1, in parallel: expand each point. The answer is
    the expanded points in order. An empty skeleton falls back to one direct call (as SoT-R does)."""

    technique_id = "skeleton_of_thought"

    def __init__(
        self, signature: SignatureLike = "question -> answer", *, max_points: int = 10, num_threads: int = 4
    ) -> None:
        super().__init__(signature)
        sig, tid = self.signature, self.technique_id
        self.output = require_str_output(sig, tid, "the expanded points are joined into it")
        self.max_points = positive("max_points", max_points, tid)
        self.num_threads = positive("num_threads", num_threads, tid)
        self.skeleton = self.predictor(
            Step(
                "skeleton_of_thought.j2",
                drop_outputs=True,
                after=(("points", "the skeleton: 3-5 word points, in order", list[str]),),
            ),
            max_points=max_points,
        )
        self.expand = self.predictor(
            Step(
                "skeleton_of_thought_expand.j2",
                drop_outputs=True,
                inputs=(("skeleton", "the whole skeleton", str), ("point", "the point to write", str)),
                after=(("expansion", "the point written out in 1-2 sentences", str),),
            )
        )
        self.direct = self.predictor(Step("vanilla.j2"))

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        points = [str(p) for p in self.skeleton(**inputs).points][: self.max_points]
        if not points:
            return dspy.Prediction(points=[], expansions=[], **self.direct(**inputs).toDict())
        skeleton = bullet_list(points)
        expansions = fan_out(
            lambda p: str(self.expand(**inputs, skeleton=skeleton, point=p).expansion), points, self.num_threads
        )
        answer = "\n".join(f"{i}. {p}: {e}" for i, (p, e) in enumerate(zip(points, expansions, strict=True), 1))
        return dspy.Prediction(points=points, expansions=expansions, **{self.output: answer})
