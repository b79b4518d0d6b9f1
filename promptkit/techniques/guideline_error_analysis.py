"""Annotation guideline + error-analysis prompting (Hu et al., 2023, arXiv 2303.16416).

One call built from the paper's four components: the task with an ``output_format`` specification,
the annotation ``guideline`` (entity definitions and rules; text or a text file), ``error_rules``
(instructions written after studying the model's mistakes on training data) and annotated ``demos``
(dicts with every input and output, given as few-shot turns). Each component is optional, so the
technique runs as the baseline prompt when none is given. Calls: 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dspy

from promptkit.errors import DataError, InputError
from promptkit.techniques.base import SignatureLike, TechniqueModule, extend, render_instructions
from promptkit.techniques.demos import as_examples, check_demos


def read_text_option(value: str | Path, name: str) -> str:
    """A text option, read from the file when ``value`` is a Path or names an existing ``.txt``/``.md`` file."""
    path = Path(value)
    if isinstance(value, Path) or (str(value).endswith((".txt", ".md")) and "\n" not in str(value)):
        if not path.is_file():
            raise DataError(f"{name} file not found", path=str(path), hint="check the path, or pass the text itself")
        return path.read_text(encoding="utf-8").strip()
    return str(value).strip()


class GuidelineErrorAnalysis(TechniqueModule):
    """The task, its output format, the annotation guideline, error-analysis rules and annotated demos."""

    technique_id = "guideline_error_analysis"

    def __init__(
        self,
        signature: SignatureLike = "question -> answer",
        *,
        guideline: str | Path = "",
        error_rules: Sequence[str] | str = (),
        output_format: str = "",
        demos: Sequence[Mapping[str, Any] | dspy.Example] = (),
    ) -> None:
        super().__init__(signature)
        tid = self.technique_id
        rules = [error_rules] if isinstance(error_rules, str) else list(error_rules)
        if not all(isinstance(rule, str) and rule.strip() for rule in rules):
            raise InputError(
                f"technique {tid!r}: option error_rules must be a list of non-empty strings",
                hint="pass error_rules=['Do not tag negated findings as problems.', ...]",
            )
        checked = check_demos(demos, self.signature, tid, ()) if demos else []
        text = render_instructions(
            "guideline_error_analysis.j2",
            **self._values(
                output_format=output_format,
                guideline=read_text_option(guideline, "guideline") if guideline else "",
                error_rules=[r.strip() for r in rules],
                n_demos=len(checked),
            ),
        )
        self.predict = dspy.Predict(extend(self.signature, technique=tid, instructions=text))
        self.predict.demos = as_examples(checked, self.signature)

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        return self.predict(**self._inputs(kwargs))
