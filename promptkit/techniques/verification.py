"""Step verification: logical_thoughts (check every reasoning step against its negation) and
verify_and_edit (self-consistency, then fact-check a low-agreement rationale and answer again).

Logical Thoughts (Zhao et al., 2023, arXiv 2309.13339). One zero-shot CoT call writes the reasoning as a
list of steps (and the user's outputs). Then, for each of the first ``max_steps`` steps in order: one call
writes two post-hoc explanations, ``explanation_for`` the step and ``explanation_against`` it (its
negation: reductio ad absurdum); one judge call picks the more plausible, A (the step) or B (the
negation). The verdict is free text read by :func:`negation_wins` (a leading A/B, else the words
"against"/"negation"/"false"); anything unclear keeps the step, so a garbled judge never rewrites good
reasoning. When B wins and fewer than ``max_revisions`` revisions were made, one call rewrites the step
using ``explanation_against`` as the critique and regenerates every later step; checking goes on with
the next (regenerated) step. Past the revision budget a losing step is recorded but kept. The answer:
if no step was revised, the CoT call's own outputs (they came from exactly these steps); otherwise one
answer call over the verified steps. Calls: 1 + 2·checked + revisions (+ 1 when revised), with
checked <= max_steps (default 8) and revisions <= max_revisions (default 3; 0 = judge only).
Prediction: the outputs, ``steps`` (final), ``checks`` (per checked step: step, for, against,
verdict "step"/"negation", revised, revision), ``initial_steps``.

Verify-and-Edit (Zhao et al., 2023, arXiv 2305.03268). Stage 1 is self-consistency: ``n`` zero-shot CoT
samples at ``temperature``, normalized majority vote on ``field`` (see :mod:`.voting`). The share
of the winning answer is its votes / ``n``; when it is **strictly greater** than ``threshold`` (default
0.5: a strict majority, the paper's gate) the winning sample is returned as is: n calls only. Otherwise
the winning sample's rationale is verified: one call writes up to ``max_questions`` verifying questions
about its facts, each is answered in its own call (in parallel, ``num_threads``) and one last call edits
the rationale with those question/answer pairs and predicts the outputs again. With ``retriever``
(``query -> passages``, like step_back's) each question's top ``k`` passages are the answer's evidence,
as in the paper (Wikipedia / web search); **without one the model answers from its own knowledge**, a
departure from the paper: it then catches only facts the model can recall better when asked directly.
Calls: n, + questions + 2 when the vote is split. Prediction: the outputs, ``votes``, ``share``,
``verified`` (whether the edit stage ran), ``rationale`` (the winning sample's), ``edited_rationale``,
``questions``, ``answers``, ``evidence`` (passages per question), ``samples``.
"""

from __future__ import annotations

import re
from typing import Any

import dspy

from promptkit.techniques.base import (
    COT,
    Field,
    SignatureLike,
    Step,
    TechniqueModule,
    bullet_list,
    fan_out,
    outputs_of,
    positive,
    render_instructions,
    step_signature,
)
from promptkit.techniques.options import SampleThenCorrect

PREMISES: Field = ("premises", "the reasoning steps accepted so far, numbered", str)
STEP: Field = ("step", "the reasoning step under scrutiny", str)
FOR: Field = ("explanation_for", "why the step is true", str)
AGAINST: Field = ("explanation_against", "why the step is false (its negation holds)", str)
VERDICT: Field = ("verdict", "A (the step holds) or B (its negation holds)", str)
CRITIQUE: Field = ("critique", "why the step is false", str)
OLD_FOLLOWING: Field = ("old_following_steps", "the steps that came after it, derived from the wrong step", str)
REVISED: tuple[Field, ...] = (
    ("revised_step", "the corrected step", str),
    ("following_steps", "the reasoning regenerated after the corrected step, one step per item", list[str]),
)
STEPS: Field = ("steps", "the verified reasoning steps, numbered", str)
RATIONALE: Field = ("rationale", "a step-by-step reasoning for the input, possibly with wrong facts", str)
QUESTIONS: Field = ("verifying_questions", "questions that each verify one fact of the rationale", list[str])
FACTS: Field = ("verified_facts", "verifying questions with their answers", str)
EDITED: Field = ("edited_rationale", "the rationale corrected with the verified facts", str)

_LETTER = re.compile(r"^\W*(?:option\s+|explanation\s+|answer\s*:?\s*)?([ab])\b", re.I)
_NEGATION_WORDS = re.compile(r"\b(?:against|negation|false|explanation_against)\b", re.I)


def negation_wins(verdict: Any) -> bool:
    """Whether the judge chose B (the negation). A leading letter decides; else a word naming the
    negation; anything else keeps the step (a revision must be asked for, never guessed)."""
    text = str(verdict or "").strip()
    letter = _LETTER.match(text)
    if letter:
        return letter.group(1).lower() == "b"
    return bool(_NEGATION_WORDS.search(text))


class LogicalThoughts(TechniqueModule):
    """Zero-shot CoT steps; each step argued for and against, judged, revised (with the later steps
    regenerated) when its negation wins; the answer from the verified steps. See the module docstring."""

    technique_id = "logical_thoughts"

    def __init__(
        self,
        signature: SignatureLike = "question -> answer",
        *,
        max_steps: int = 8,
        max_revisions: int = 3,
        trigger: str | None = None,
    ) -> None:
        super().__init__(signature)
        tid = self.technique_id
        self.max_steps = positive("max_steps", max_steps, tid)
        self.max_revisions = positive("max_revisions", max_revisions, tid, minimum=0)
        # The CoT field keeps cot_zeroshot.j2's name (`reasoning`), typed as a list so steps come pre-split.
        steps_out = (
            "reasoning",
            "your step-by-step reasoning, one step per item, written before the answer",
            list[str],
        )
        self.think = self.predictor(Step(COT.template, before=(steps_out,)), trigger=trigger)
        self.check = self.predictor(
            Step("logical_thoughts_check.j2", drop_outputs=True, inputs=(PREMISES, STEP), after=(FOR, AGAINST))
        )
        self.judge = self.predictor(
            Step(
                "logical_thoughts_judge.j2", drop_outputs=True, inputs=(PREMISES, STEP, FOR, AGAINST), after=(VERDICT,)
            )
        )
        self.revise = self.predictor(
            Step(
                "logical_thoughts_revise.j2",
                drop_outputs=True,
                inputs=(PREMISES, STEP, CRITIQUE, OLD_FOLLOWING),
                after=REVISED,
            )
        )
        self.answer = self.predictor(Step("logical_thoughts_answer.j2", inputs=(STEPS,)))

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        thought = self.think(**inputs)
        steps = [str(s) for s in thought.reasoning or []]
        initial = list(steps)
        checks: list[dict[str, Any]] = []
        revisions = 0
        index = 0
        # `steps` may change length under us (a revision regenerates the tail), hence the while loop.
        while index < min(len(steps), self.max_steps):
            premises = bullet_list(steps[:index]) or "(none yet)"
            step = steps[index]
            argued = self.check(**inputs, premises=premises, step=step)
            verdict = self.judge(
                **inputs,
                premises=premises,
                step=step,
                explanation_for=argued.explanation_for,
                explanation_against=argued.explanation_against,
            ).verdict
            record: dict[str, Any] = {
                "step": step,
                "for": argued.explanation_for,
                "against": argued.explanation_against,
                "verdict": "negation" if negation_wins(verdict) else "step",
                "revised": False,
                "revision": None,
            }
            if record["verdict"] == "negation" and revisions < self.max_revisions:
                fixed = self.revise(
                    **inputs,
                    premises=premises,
                    step=step,
                    critique=argued.explanation_against,
                    old_following_steps=bullet_list(steps[index + 1 :]) or "(none)",
                )
                steps = [*steps[:index], str(fixed.revised_step), *(str(s) for s in fixed.following_steps or [])]
                record.update(revised=True, revision=steps[index])
                revisions += 1
            checks.append(record)
            index += 1
        if revisions:
            outputs = outputs_of(self.answer(**inputs, steps=bullet_list(steps) or "(no steps)"), self.signature)
        else:  # nothing changed: the CoT call's answer already follows from these exact steps
            outputs = outputs_of(thought, self.signature)
        return dspy.Prediction(**outputs, steps=steps, checks=checks, initial_steps=initial)


class VerifyAndEdit(SampleThenCorrect):
    """Self-consistency; below the agreement threshold, verifying questions about the winning rationale
    are answered (from retrieved passages when a retriever is given), the rationale is edited and the
    outputs predicted again. See the module docstring."""

    technique_id = "verify_and_edit"

    def __init__(
        self,
        signature: SignatureLike = "question -> answer",
        *,
        max_questions: int = 3,
        trigger: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(signature, trigger=trigger, **options)
        retriever = self.retrieval.retriever
        self.max_questions = positive("max_questions", max_questions, self.technique_id)
        self.ask = self.predictor(
            Step("verify_and_edit_questions.j2", drop_outputs=True, inputs=(RATIONALE,), after=(QUESTIONS,)),
            max_questions=self.max_questions,
        )
        with_passages = retriever is not None
        evidence = (("passages", "retrieved passages about the question", str),) if with_passages else ()
        self.verify = dspy.Predict(
            step_signature(
                inputs=(("verifying_question", "a question about one fact", str), *evidence),
                outputs=(("verifying_answer", "a short, factual answer", str),),
                instructions=render_instructions("verify_and_edit_answer.j2", with_passages=with_passages),
            )
        )
        self.edit = self.predictor(Step("verify_and_edit_edit.j2", inputs=(RATIONALE, FACTS), before=(EDITED,)))

    def _answer(self, question: str) -> tuple[list[str], str]:
        """(passages, answer) for one verifying question."""
        passages = self.retrieval.search(question)[1]
        extra = {"passages": bullet_list(passages) or "(nothing found)"} if self.retrieval.retriever else {}
        return passages, str(self.verify(verifying_question=question, **extra).verifying_answer)

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        best, common, agreed = self.vote_first(inputs)
        rationale = common["rationale"]
        if agreed:
            return dspy.Prediction(
                **best, **common, verified=False, edited_rationale=None, questions=[], answers=[], evidence=[]
            )
        asked = self.ask(**inputs, rationale=rationale).verifying_questions
        questions = [str(q) for q in asked or []][: self.max_questions]
        found = fan_out(self._answer, questions, self.sampling.num_threads)
        answers = [answer for _, answer in found]
        facts = "\n".join(f"Q: {q}\nA: {a}" for q, a in zip(questions, answers, strict=True)) or "(no questions)"
        edited = self.edit(**inputs, rationale=rationale, verified_facts=facts)
        return dspy.Prediction(
            **outputs_of(edited, self.signature),
            **common,
            verified=True,
            edited_rationale=edited.edited_rationale,
            questions=questions,
            answers=answers,
            evidence=[passages for passages, _ in found],
        )
