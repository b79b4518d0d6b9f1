"""Small DSPy programs several test modules compile, run and render."""

from __future__ import annotations

import dspy

# Twelve countries and their capitals: the data of the compile, optimizer and viewer tests.
CAPITALS = {
    "France": "Paris",
    "Spain": "Madrid",
    "Italy": "Rome",
    "Peru": "Lima",
    "Japan": "Tokyo",
    "Egypt": "Cairo",
    "Chile": "Santiago",
    "Kenya": "Nairobi",
    "Cuba": "Havana",
    "Iran": "Tehran",
    "Ghana": "Accra",
    "Nepal": "Kathmandu",
}


class Capital(dspy.Module):
    def __init__(self) -> None:
        super().__init__()
        self.answer = dspy.Predict("question -> answer")

    def forward(self, question: str) -> dspy.Prediction:
        return self.answer(question=question)
