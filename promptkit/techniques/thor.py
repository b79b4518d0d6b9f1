"""Three-hop reasoning (THOR, Fei et al. 2023, arXiv 2305.11255): implicit sentiment in three chained calls.

Mechanism (3 LM calls, each seeing the user's inputs and the answers of the hops before it):

1. ``thor_aspect.j2``: which specific aspect of the target is mentioned -> ``mentioned_aspect``;
2. ``thor_opinion.j2``: given that aspect, the implicit opinion on it, based on common sense ->
   ``implicit_opinion``;
3. ``thor_answer.j2``: given aspect and opinion, the signature's outputs (e.g. ``polarity``). Typed
   outputs are parsed as usual by DSPy, so ``polarity: Literal['positive', 'negative', 'neutral']``
   only accepts those labels.

Option ``target_field``: the input that names the target (``sentence, target -> polarity``). Default:
an input named ``target`` or ``aspect`` if there is one, otherwise the whole input is the target — so
``question -> answer`` works too: hop 1 asks what the question is about, hop 2 what is implied, hop 3
answers. A ``target_field`` that is not an input field is an InputError naming the option.

Prediction: the outputs plus ``aspect`` and ``opinion`` (the hop answers; an output of the user's
signature with either name wins over them).
"""

from __future__ import annotations

from typing import Any

import dspy

from promptkit.errors import InputError
from promptkit.techniques.base import Field, SignatureLike, Step, TechniqueModule, outputs_of

DEFAULT_TARGETS = ("target", "aspect")
# Distinct from the prediction keys, so a user input named ``aspect`` (SemEval's aspect term) does not clash.
ASPECT: Field = ("mentioned_aspect", "the specific aspect of the target that the input mentions", str)
OPINION: Field = ("implicit_opinion", "the implicit opinion towards that aspect, based on common sense, and why", str)


class ThreeHopReasoning(TechniqueModule):
    """Aspect -> implicit opinion -> answer, each hop's answer fed to the next (see the module docstring)."""

    technique_id = "thor"

    def __init__(self, signature: SignatureLike = "question -> answer", *, target_field: str | None = None) -> None:
        super().__init__(signature)
        sig, tid = self.signature, self.technique_id
        if target_field is None:
            target_field = next((n for n in DEFAULT_TARGETS if n in sig.input_fields), None)
        elif not isinstance(target_field, str) or target_field not in sig.input_fields:
            raise InputError(
                f"technique {tid!r}: option target_field={target_field!r} is not an input of {sig.signature!r}",
                hint=f"use one of {', '.join(sig.input_fields)}, or leave it out to use the whole input",
            )
        self.target_field = target_field
        target = target_field or ""
        self.aspect = self.predictor(Step("thor_aspect.j2", drop_outputs=True, after=(ASPECT,)), target=target)
        self.opinion = self.predictor(
            Step("thor_opinion.j2", drop_outputs=True, inputs=(ASPECT,), after=(OPINION,)), target=target
        )
        self.answer = self.predictor(Step("thor_answer.j2", inputs=(ASPECT, OPINION)), target=target)

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        hops = self.run_chain(self._inputs(kwargs), "aspect", "opinion", "answer")
        return dspy.Prediction(
            **{
                "aspect": str(hops.mentioned_aspect),
                "opinion": str(hops.implicit_opinion),
                **outputs_of(hops, self.signature),
            }
        )
