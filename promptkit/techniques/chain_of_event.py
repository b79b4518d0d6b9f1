"""Chain-of-Event (Bao et al., 2024, Int. J. of Web Information Systems 20(3), doi 10.1108/IJWIS-12-2023-0249).

Multi-document summarization in one call that walks four stages, each an output field written before
the user's outputs: the specific ``events`` of each document, the ``generalized_events`` (abstracted,
merged), the ``common_events`` (shared by several documents, with counts), then the outputs (the
summary) written from the common events only. Calls: 1.
"""

from __future__ import annotations

from typing import Any

import dspy

from promptkit.techniques.base import SignatureLike, Step, TechniqueModule

STAGES = (
    ("events", "the specific events of each document, one per line", str),
    ("generalized_events", "the events abstracted and merged", str),
    ("common_events", "the events several documents share, each with how many mention it", str),
)


class ChainOfEvent(TechniqueModule):
    """Events -> generalized events -> common events -> the output, in one call."""

    technique_id = "chain_of_event"

    def __init__(self, signature: SignatureLike = "documents -> summary") -> None:
        super().__init__(signature)
        self.predict = self.predictor(
            Step(
                "chain_of_event.j2",
                before=STAGES,
            ),
        )

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        return self.predict(**self._inputs(kwargs))
