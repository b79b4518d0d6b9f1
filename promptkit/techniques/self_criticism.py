"""Self-criticism: chain_of_verification (draft, verify claims independently, revise) and self_refine
(feedback -> revise loop with a stop rule)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dspy
from dspy.signatures.signature import Signature

from promptkit.techniques.base import (
    Field,
    SignatureLike,
    Step,
    TechniqueModule,
    fan_out,
    outputs_of,
    positive,
    render_instructions,
    step_signature,
)

DRAFT: Field = ("draft", "the current response to the task", str)
FIRST_DRAFT = Step("vanilla.j2")


def format_outputs(values: Mapping[str, Any], sig: type[Signature]) -> str:
    """A prediction's outputs as text for the next prompt: the bare value for one field, else ``name: value`` lines."""
    if len(sig.output_fields) == 1:
        return str(next(iter(values.values())))
    return "\n".join(f"{name}: {values.get(name)}" for name in sig.output_fields)


class ChainOfVerification(TechniqueModule):
    """1. a baseline draft; 2. plan verification questions about its claims; 3. answer each question on
    its own, without the draft (the paper's "factored" variant; in parallel); 4. revise the draft."""

    technique_id = "chain_of_verification"

    def __init__(
        self, signature: SignatureLike = "question -> answer", *, max_questions: int = 5, num_threads: int = 4
    ) -> None:
        super().__init__(signature)
        tid = self.technique_id
        self.max_questions = positive("max_questions", max_questions, tid)
        self.num_threads = positive("num_threads", num_threads, tid)
        self.draft = self.predictor(FIRST_DRAFT)
        questions = ("verification_questions", "questions that each check one claim of the draft", list[str])
        self.plan = self.predictor(
            Step("chain_of_verification_plan.j2", drop_outputs=True, inputs=(DRAFT,), after=(questions,)),
            max_questions=self.max_questions,
        )
        self.verify = dspy.Predict(
            step_signature(
                inputs=(("verification_question", "a question to answer on its own", str),),
                outputs=(("verification_answer", "a short, factual answer", str),),
                instructions=render_instructions("chain_of_verification_verify.j2"),
            )
        )
        verifications = ("verifications", "verification questions with their independent answers", str)
        self.revise = self.predictor(Step("chain_of_verification_revise.j2", inputs=(DRAFT, verifications)))

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        draft = format_outputs(outputs_of(self.draft(**inputs), self.signature), self.signature)
        planned = self.plan(**inputs, draft=draft).verification_questions
        questions = [str(q) for q in planned][: self.max_questions]
        answers = fan_out(
            lambda q: str(self.verify(verification_question=q).verification_answer), questions, self.num_threads
        )
        shown = "\n".join(f"Q: {q}\nA: {a}" for q, a in zip(questions, answers, strict=True)) or "(no questions)"
        revised = self.revise(**inputs, draft=draft, verifications=shown)
        return dspy.Prediction(
            draft=draft, verification_questions=questions, verification_answers=answers, **revised.toDict()
        )


class SelfRefine(TechniqueModule):
    """Generate, then up to ``max_rounds`` rounds of feedback -> revise. Stop rule: the feedback step's
    boolean ``is_good`` output is true (the draft is kept as is), or ``max_rounds`` is reached (the last
    revision is returned). ``rounds`` on the prediction records each draft, its feedback and verdict."""

    technique_id = "self_refine"

    def __init__(self, signature: SignatureLike = "question -> answer", *, max_rounds: int = 3) -> None:
        super().__init__(signature)
        self.max_rounds = positive("max_rounds", max_rounds, self.technique_id)
        self.generate = self.predictor(FIRST_DRAFT)
        feedback = ("feedback", "specific, actionable feedback on the draft", str)
        self.critique = self.predictor(
            Step(
                "self_refine_feedback.j2",
                drop_outputs=True,
                inputs=(DRAFT,),
                after=(feedback, ("is_good", "true if the draft needs no further changes", bool)),
            )
        )
        self.refine = self.predictor(
            Step(
                "self_refine_revise.j2",
                inputs=(DRAFT, feedback, ("history", "earlier drafts with their feedback", str)),
            )
        )

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        current = outputs_of(self.generate(**inputs), self.signature)
        rounds: list[dict[str, Any]] = []
        stopped_by = "max_rounds"
        for _ in range(self.max_rounds):
            draft = format_outputs(current, self.signature)
            verdict = self.critique(**inputs, draft=draft)
            rounds.append({"draft": draft, "feedback": verdict.feedback, "is_good": bool(verdict.is_good)})
            if verdict.is_good:
                stopped_by = "is_good"
                break
            history = "\n\n".join(
                f"Draft {i}:\n{r['draft']}\nFeedback {i}: {r['feedback']}" for i, r in enumerate(rounds[:-1], 1)
            )
            revised = self.refine(**inputs, draft=draft, feedback=verdict.feedback, history=history or "(none)")
            current = outputs_of(revised, self.signature)
        return dspy.Prediction(**current, rounds=rounds, stopped_by=stopped_by)
