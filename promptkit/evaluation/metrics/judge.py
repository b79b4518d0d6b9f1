"""LLM-as-judge: DSPy's ``SemanticF1`` (recall/precision of key ideas, judged by an LM).

The judge needs an LM: the one given as ``lm=``, else the one configured with ``dspy.configure``.
Its verdict is a float in [0, 1]; while an optimizer traces, DSPy gets ``score >= threshold``
(0.66, DSPy's default). A judge that fails (no LM, unparseable reply) is a metric *error* for the
row, never a 0.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from .base import FieldSpec, Metric, MetricError, as_text, gold, gold_texts, predicted


class SemanticF1(Metric):
    name = "semantic_f1"

    def __init__(
        self,
        threshold: float = 0.66,
        decompositional: bool = False,
        field: FieldSpec = ("response", "answer"),
        gold_field: FieldSpec = ("response", "answer"),
        question_field: FieldSpec = "question",
        lm: Any = None,
    ) -> None:
        import dspy.evaluate  # lazily: importing dspy costs about a second

        self.threshold = threshold
        self.field, self.gold_field, self.question_field = field, gold_field, question_field
        self.lm = lm
        self.judge = dspy.evaluate.SemanticF1(threshold=threshold, decompositional=decompositional)

    def compute(self, example: Any, prediction: Any, trace: Any = None) -> float:
        import dspy

        question = as_text(gold(example, self.question_field))
        reference = "\n".join(gold_texts(example, self.gold_field))
        response = as_text(predicted(prediction, self.field))
        if self.lm is None and dspy.settings.lm is None:
            raise MetricError(
                "semantic_f1 is an LLM judge and no LM is configured",
                hint="dspy.configure(lm=...) or get('semantic_f1', lm=promptkit.lm('MODEL'))",
            )
        with dspy.context(lm=self.lm) if self.lm is not None else nullcontext():
            verdict = self.judge(
                dspy.Example(question=question, response=reference), dspy.Prediction(response=response), trace=None
            )
        return float(verdict.score)
