"""Implicit RAG (Vatsal & Singh, 2024, arXiv 2405.18682): the model is its own retriever over a long context.

Mechanism: one call. The template tells the model to first copy, word for word, at most
``max_snippets`` snippets of at most ``max_words`` words each from the context that bear on the task
(``snippets``, a list placed before the user's outputs), then to answer from those snippets only — no
chunking, embeddings or vector store. The limits are instructions; the reply is not truncated, so
an over-long extraction stays visible.

Options:
    max_snippets: upper bound on the number of snippets (default 3, integer >= 1).
    max_words: upper bound on each snippet's length in words (default 50, integer >= 1).
    context_field: the input field holding the text to extract from. Default: ``context`` when the
        signature has it, else every ``str`` input — so with plain ``question -> answer`` the snippets
        are drawn from the question itself (the template says no separate context was given).

Prediction: ``snippets``, the signature's outputs, and ``snippets_found`` — one bool per snippet,
True when it occurs in the source text (after collapsing whitespace, ignoring case and surrounding
quotes/ellipses). A deterministic check with no LM call, so invented "quotes" are easy to spot.
"""

from __future__ import annotations

import re
from typing import Any

import dspy

from promptkit.errors import InputError
from promptkit.techniques.base import SignatureLike, Step, TechniqueModule, positive

SNIPPETS = ("snippets", "the relevant snippets, each copied word for word from the source text", list[str])
_EDGES = " \t\n\"'`“”‘’.…"


def _normal(text: str) -> str:
    # Models re-wrap lines and change the case of a quote's first word; neither makes a quote invented.
    return re.sub(r"\s+", " ", text).strip().casefold()


def found_in(snippet: Any, source: str) -> bool:
    """True when ``snippet`` (stripped of surrounding quotes and ellipses) occurs in ``source``."""
    core = _normal(str(snippet)).strip(_EDGES)
    return bool(core) and core in _normal(source)


class ImplicitRAG(TechniqueModule):
    """One Predict: ``snippets`` extracted from the source field(s) first, then the answer from them."""

    technique_id = "implicit_rag"

    def __init__(
        self,
        signature: SignatureLike = "context, question -> answer",
        *,
        max_snippets: int = 3,
        max_words: int = 50,
        context_field: str | None = None,
    ) -> None:
        super().__init__(signature)
        sig, tid = self.signature, self.technique_id
        self.max_snippets = positive("max_snippets", max_snippets, tid)
        self.max_words = positive("max_words", max_words, tid)
        if context_field is not None and context_field not in sig.input_fields:
            raise InputError(
                f"technique {tid!r}: option context_field={context_field!r} is not an input of {sig.signature!r}",
                hint=f"use one of {', '.join(sig.input_fields)}",
            )
        name = context_field or ("context" if "context" in sig.input_fields else None)
        # Without a context field the only text is the input itself: extract from every str input.
        text_inputs = [n for n, f in sig.input_fields.items() if f.annotation is str] or list(sig.input_fields)
        self.sources = [name] if name else text_inputs
        self.predict = self.predictor(
            Step("implicit_rag.j2", before=(SNIPPETS,)),
            max_snippets=self.max_snippets,
            max_words=self.max_words,
            sources=self.sources,
            has_context=name is not None,
        )

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        prediction = self.predict(**inputs)
        source = "\n".join(str(inputs[name]) for name in self.sources)
        snippets = prediction.get("snippets") or []
        found = [found_in(s, source) for s in snippets] if isinstance(snippets, list) else []
        return dspy.Prediction(**prediction.toDict(), snippets_found=found)
