"""Structured chain of thought (Li et al., 2023, arXiv 2305.06599): a structured plan, then the code.

Mechanism. Call 1 (``scot_plan.j2``) sees the user's inputs and writes only ``plan``: the solving
process as pseudocode, its input-output signature (``Input:`` / ``Output:``) followed by steps built
from the three basic program structures only (sequence, branch ``if/else``, loop ``for/while``).
Call 2 (``scot_code.j2``) sees the inputs and the plan and writes the user's outputs implementing it
(the paper's second prompt; it may fix a wrong plan rather than follow it). With the example signature
``requirement -> code`` the outputs are the program; with ``question -> answer`` the plan is a
structured solution plan and call 2 writes the answer.

Options. ``one_call=True`` merges both steps into one call, as the paper's two prompts can be merged:
``scot_plan.j2`` (rendered with ``one_call``) asks for ``plan`` as an output placed before the user's
outputs, so the model writes the plan first and the outputs after it in the same reply.

Rules. The signature must not already have a ``plan`` field (InputError). The prediction carries the
user's outputs and ``plan``.
"""

from __future__ import annotations

from typing import Any

import dspy

from promptkit.errors import InputError
from promptkit.techniques.base import SignatureLike, Step, TechniqueModule

PLAN = (
    "plan",
    "the structured solving process: the input-output signature, then steps using only sequence, "
    "branch (if/else) and loop (for/while) structures",
    str,
)


class StructuredCoT(TechniqueModule):
    """A sequence/branch/loop plan, then the outputs that implement it (2 calls; 1 with ``one_call``)."""

    technique_id = "scot"

    def __init__(self, signature: SignatureLike = "requirement -> code", *, one_call: bool = False) -> None:
        super().__init__(signature)
        if not isinstance(one_call, bool):
            raise InputError(
                f"technique {self.technique_id!r}: option one_call={one_call!r} must be True or False",
                hint="pass one_call=True for a single call",
            )
        self.one_call = one_call
        targets = ", ".join(f"`{name}`" for name in self.signature.output_fields)
        if one_call:
            self.generate = self.predictor(Step("scot_plan.j2", before=(PLAN,)), one_call=True, targets=targets)
            return
        self.plan = self.predictor(
            Step("scot_plan.j2", drop_outputs=True, after=(PLAN,)), one_call=False, targets=targets
        )
        self.generate = self.predictor(Step("scot_code.j2", inputs=(PLAN,)), targets=targets)

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        return self.run_chain(self._inputs(kwargs), *(() if self.one_call else ("plan",)), "generate")


__all__ = ["PLAN", "StructuredCoT"]
