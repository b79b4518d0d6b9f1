"""Small DSPy programs several test modules compile, run and render."""

from __future__ import annotations

import dspy


class Capital(dspy.Module):
    def __init__(self) -> None:
        super().__init__()
        self.answer = dspy.Predict("question -> answer")

    def forward(self, question: str) -> dspy.Prediction:
        return self.answer(question=question)
