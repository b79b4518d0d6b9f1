"""Basic prompting with term definitions (Vatsal et al., 2024, arXiv 2402.18419; V&D survey §2.38).

The task plus the definitions of the domain terms that appear in the input. With a ``glossary``
(term -> definition, or a YAML/JSON file of that mapping), each call gets the definitions of the
glossary terms found in its inputs (whole words, case-insensitive; ``all_terms=True``: every term)
as the ``term_definitions`` input. Without one, the model writes the definitions itself first, in a
``term_definitions`` output before the answer (a departure: the paper's definitions come from a
domain source). The survey found the block does not reliably help. Calls: 1. Prediction: the outputs,
``term_definitions``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dspy

from promptkit.errors import InputError
from promptkit.techniques.base import SignatureLike, TechniqueModule, extend, render_instructions
from promptkit.yaml_files import load_yaml_file

DEFINITIONS = ("term_definitions", "definitions of the domain terms used in the input, one per line", str)


def load_glossary(glossary: Mapping[str, Any] | str | Path, technique: str) -> dict[str, str]:
    """The glossary as ``{term: definition}``; a file is read as YAML (JSON is YAML too)."""
    value = load_yaml_file(glossary, what="glossary file") if isinstance(glossary, str | Path) else glossary
    if not isinstance(value, Mapping) or not value:
        raise InputError(
            f"technique {technique!r}: option glossary must be a non-empty mapping term -> definition",
            hint="pass glossary={'dyspnea': 'shortness of breath'} or a YAML file of such pairs",
        )
    return {str(term).strip(): str(definition).strip() for term, definition in value.items() if str(term).strip()}


class TermDefinitions(TechniqueModule):
    """The task plus definitions of the domain terms in the input (from a glossary, else the model's own)."""

    technique_id = "term_definitions"

    def __init__(
        self,
        signature: SignatureLike = "question -> answer",
        *,
        glossary: Mapping[str, Any] | str | Path | None = None,
        all_terms: bool = False,
    ) -> None:
        super().__init__(signature)
        tid = self.technique_id
        self.glossary = None if glossary is None else load_glossary(glossary, tid)
        self.all_terms = bool(all_terms)
        given = self.glossary is not None
        text = render_instructions("term_definitions.j2", **self._values(given=given))
        inputs, before = ((DEFINITIONS,), ()) if given else ((), (DEFINITIONS,))
        self.predict = dspy.Predict(
            extend(self.signature, technique=tid, instructions=text, inputs=inputs, before=before)
        )

    def definitions(self, inputs: Mapping[str, Any]) -> str:
        """The glossary lines for the terms found in ``inputs``."""
        assert self.glossary is not None
        text = " ".join(str(v) for v in inputs.values())
        found = [
            term
            for term in self.glossary
            if self.all_terms or re.search(rf"(?<!\w){re.escape(term)}(?!\w)", text, re.IGNORECASE)
        ]
        return "\n".join(f"{term}: {self.glossary[term]}" for term in found) or "(no glossary term appears)"

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        if self.glossary is None:
            return self.predict(**inputs)
        definitions = self.definitions(inputs)
        prediction = self.predict(**inputs, term_definitions=definitions)
        return dspy.Prediction(**prediction.toDict(), term_definitions=definitions)
