"""Single-call techniques: one ``dspy.Predict`` whose instructions come from the technique's template.

vanilla, instructed, cot_zeroshot, cot_fewshot, thread_of_thought, analogical, metacognitive,
contrastive_cot, and rephrase_and_respond (one call; two with ``two_step=True``). They differ in
their template (the trigger phrase, the stages, the demos) and in the output fields they place
before the user's outputs (``reasoning``, ``relevant_problems``, ...), so the model writes them first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import dspy

from promptkit.techniques.base import (
    COT,
    COT_FEWSHOT,
    REASONING,
    Field,
    SignatureLike,
    Step,
    TechniqueModule,
    as_signature,
    positive,
)
from promptkit.techniques.demos import (
    CONTRASTIVE_DEMOS,
    COT_DEMOS,
    as_examples,
    check_demos,
    default_demos,
)


class SingleStep(TechniqueModule):
    """One Predict over the user's signature, with template instructions and extra leading/trailing outputs."""

    step: ClassVar[Step]

    def __init__(self, signature: SignatureLike, **template_values: Any) -> None:
        super().__init__(signature)
        self.predict = self.predictor(self.declared_step(), **template_values)

    def declared_step(self) -> Step:
        """The technique's one step (a subclass whose fields depend on an option builds it here)."""
        return self.step

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        return self.predict(**self._inputs(kwargs))


class Vanilla(SingleStep):
    """The structured prompt as is: the task's instructions, optionally behind a persona."""

    technique_id = "vanilla"
    step = Step("vanilla.j2")

    def __init__(self, signature: SignatureLike = "question -> answer", *, persona: str = "") -> None:
        super().__init__(signature, persona=persona)


class Instructed(SingleStep):
    """The task plus an instruction to ignore irrelevant information (GSM-IC)."""

    technique_id = "instructed"
    step = Step("instructed.j2")

    def __init__(
        self,
        signature: SignatureLike = "question -> answer",
        *,
        instruction: str = "Feel free to ignore irrelevant information given in the questions.",
    ) -> None:
        super().__init__(signature, instruction=instruction)


class ZeroShotCoT(SingleStep):
    """The task plus a trigger phrase; the model writes ``reasoning`` before the outputs (one call)."""

    technique_id = "cot_zeroshot"
    step = COT

    def __init__(self, signature: SignatureLike = "question -> answer", *, trigger: str | None = None) -> None:
        super().__init__(signature, trigger=trigger)


def _demos_for(
    signature: SignatureLike,
    demos: Sequence[Mapping[str, Any] | dspy.Example] | None,
    defaults: Any,
    technique_id: str,
    rationale_fields: tuple[str, ...],
) -> tuple[Any, list[Any]]:
    """The signature and its checked demos: the given ones, else the technique's defaults (question -> answer only)."""
    sig = as_signature(signature, technique_id)
    given = default_demos(sig, defaults, technique_id) if demos is None else demos
    return sig, check_demos(given, sig, technique_id, rationale_fields)


class FewShotCoT(SingleStep):
    """Worked examples with their reasoning, given to the predictor as demos (FEW_SHOT_EXAMPLES turns).

    ``demos``: dicts (or ``dspy.Example``) with every input field, ``reasoning`` and every output field.
    Without demos, ``question -> answer`` gets Wei et al.'s GSM8K exemplars; other signatures must give some.
    """

    technique_id = "cot_fewshot"
    step = COT_FEWSHOT

    def __init__(
        self,
        signature: SignatureLike = "question -> answer",
        *,
        demos: Sequence[Mapping[str, Any] | dspy.Example] | None = None,
    ) -> None:
        _, checked = _demos_for(signature, demos, COT_DEMOS, self.technique_id, ("reasoning",))
        super().__init__(signature, n_demos=len(checked))
        self.predict.demos = as_examples(checked, self.signature)


class ThreadOfThought(SingleStep):
    """Zero-shot CoT with the ThoT trigger for long or chaotic contexts."""

    technique_id = "thread_of_thought"
    step = Step("thread_of_thought.j2", before=(REASONING,))

    def __init__(self, signature: SignatureLike = "context, question -> answer", *, trigger: str | None = None) -> None:
        super().__init__(signature, trigger=trigger)


class Analogical(SingleStep):
    """The model recalls ``n_exemplars`` relevant solved problems (and a tutorial if ``with_knowledge``)."""

    technique_id = "analogical"
    step = Step("analogical.j2")

    def __init__(
        self, signature: SignatureLike = "question -> answer", *, n_exemplars: int = 3, with_knowledge: bool = False
    ) -> None:
        self.with_knowledge = bool(with_knowledge)
        positive("n_exemplars", n_exemplars, self.technique_id)
        super().__init__(signature, n_exemplars=n_exemplars, with_knowledge=self.with_knowledge)

    def declared_step(self) -> Step:
        problems: Field = ("relevant_problems", "relevant, distinct problems you recall, each with its solution", str)
        knowledge: Field = ("knowledge", "a short tutorial on the core concepts of the problem", str)
        return Step(self.step.template, before=(knowledge, problems) if self.with_knowledge else (problems,))


class Metacognitive(SingleStep):
    """Five stages in one call: understand, judge, re-evaluate, decide (the outputs), rate confidence."""

    technique_id = "metacognitive"
    step = Step(
        "metacognitive.j2",
        before=(
            ("understanding", "your understanding of the input, in your own words", str),
            ("preliminary_judgment", "your first judgment", str),
            ("critical_evaluation", "a critical assessment of the preliminary judgment", str),
        ),
        after=(("confidence", "your confidence (0-100%) in the final decision, with a short explanation", str),),
    )

    def __init__(self, signature: SignatureLike = "question -> answer") -> None:
        super().__init__(signature)


class ContrastiveCoT(SingleStep):
    """Few-shot CoT whose examples show a correct and a wrong explanation (rendered in the instructions).

    ``demos``: dicts with every input, ``reasoning``, ``wrong_reasoning`` and every output.
    """

    technique_id = "contrastive_cot"
    step = Step("contrastive_cot.j2", before=(REASONING,))

    def __init__(
        self,
        signature: SignatureLike = "question -> answer",
        *,
        demos: Sequence[Mapping[str, Any] | dspy.Example] | None = None,
    ) -> None:
        sig, checked = _demos_for(
            signature, demos, CONTRASTIVE_DEMOS, self.technique_id, ("reasoning", "wrong_reasoning")
        )
        rendered = [
            {
                "inputs": [{"name": n, "value": str(d[n])} for n in sig.input_fields],
                "reasoning": str(d["reasoning"]),
                "wrong_reasoning": str(d["wrong_reasoning"]),
                "outputs": [{"name": n, "value": str(d[n])} for n in sig.output_fields],
            }
            for d in checked
        ]
        super().__init__(signature, demos=rendered)


REPHRASED: Field = ("rephrased_question", "the question rephrased and expanded, keeping all its information", str)


class RephraseAndRespond(TechniqueModule):
    """One call that rephrases then answers; ``two_step=True``: a rephrasing call, then an answering call
    that sees the original input and the rephrased question."""

    technique_id = "rephrase_and_respond"

    def __init__(self, signature: SignatureLike = "question -> answer", *, two_step: bool = False) -> None:
        super().__init__(signature)
        self.two_step = bool(two_step)
        if not self.two_step:
            self.respond = self.predictor(Step("rephrase_and_respond.j2", before=(REPHRASED,)))
            return
        self.rephrase = self.predictor(Step("rephrase_and_respond_rephrase.j2", drop_outputs=True, after=(REPHRASED,)))
        self.respond = self.predictor(Step("rephrase_and_respond_answer.j2", inputs=(REPHRASED,)))

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        return self.run_chain(self._inputs(kwargs), *(("rephrase",) if self.two_step else ()), "respond")
