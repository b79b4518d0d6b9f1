"""Single-hop RAG: retrieve passages for the question, then answer from them (the seed's RAG, DSPy 3.4).

The retriever is used directly (``retriever(question, k=...)``); with no retriever the program
falls back to DSPy's configured ``rm`` (``dspy.configure(rm=...)``), as the seed's ``dspy.Retrieve`` did.
Only the predictors are saved (``program.save("x.json")``); the index stays where it is, so a
loaded program is rebuilt with its retriever: ``RAG(retriever).load("x.json")``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import dspy

from promptkit.errors import ConfigError, InputError
from promptkit.retrieval import Passage, Retriever
from promptkit.retrieval.modes import Fusion, Mode, check_fusion, check_mode

# Anything that maps (query, k) to hits: a promptkit Retriever, or any DSPy-style rm.
RetrieverLike = Callable[..., Sequence[Any]]


class GenerateAnswer(dspy.Signature):
    """Answer questions with short factoid answers."""

    context: list[str] = dspy.InputField(desc="may contain relevant facts")
    question: str = dspy.InputField()
    answer: str = dspy.OutputField(desc="often between 1 and 5 words")


def as_passage(hit: Any) -> Passage:
    """A ``Passage`` from whatever a retriever returns: a Passage, a string, or an object with ``long_text``."""
    if isinstance(hit, Passage):
        return hit
    if isinstance(hit, str):
        return Passage(text=hit)
    text = getattr(hit, "long_text", None)
    if text is None and isinstance(hit, dict):
        text = hit.get("long_text", hit.get("text"))
    if not isinstance(text, str):
        raise InputError(
            f"the retriever returned a {type(hit).__name__} with no text",
            hint="return promptkit Passages, strings, or objects with a long_text attribute",
        )
    score = getattr(hit, "score", None)
    return Passage(text=text, score=float(score) if isinstance(score, int | float) else None)


def search_options(mode: Mode | None, fusion: Fusion | None) -> dict[str, Any]:
    """The search mode and fusion a program asks its retriever for (only those it names)."""
    options: dict[str, Any] = {}
    if mode is not None:
        options["mode"] = check_mode(mode)
    if fusion is not None:
        options["fusion"] = check_fusion(fusion)
    return options


def retrieve_passages(
    retriever: RetrieverLike | None, query: str, k: int, options: dict[str, Any] | None = None
) -> list[Passage]:
    """Top-``k`` passages from ``retriever``, or from ``dspy.settings.rm`` when it is None.

    ``options`` (a search mode and fusion) go to a promptkit ``Retriever``; other rms take none.
    """
    source = retriever if retriever is not None else dspy.settings.rm
    if source is None:
        raise ConfigError(
            "this program has no retriever and no DSPy rm is configured",
            hint="pass a promptkit Retriever (RAG(retriever)) or call dspy.configure(rm=retriever)",
        )
    if options and not isinstance(source, Retriever):
        raise ConfigError(
            f"a search mode or fusion ({options}) needs a promptkit Retriever, not a {type(source).__name__}",
            hint="leave out mode= and fusion=, or pass a promptkit Retriever",
        )
    return [as_passage(hit) for hit in source(query, k=k, **(options or {}))]


def answer_predictor(chain_of_thought: bool) -> dspy.Module:
    return dspy.ChainOfThought(GenerateAnswer) if chain_of_thought else dspy.Predict(GenerateAnswer)


class SharesRetriever:
    """Deep copies of a program (BootstrapFewShot makes them) share its retriever: an index is a
    resource, not program state, and copying one would be slow or impossible (locked files)."""

    retriever: RetrieverLike | None

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        if self.retriever is not None:
            memo[id(self.retriever)] = self.retriever
        clone = self.__class__.__new__(self.__class__)
        memo[id(self)] = clone
        for name, value in self.__dict__.items():
            setattr(clone, name, copy.deepcopy(value, memo))
        return clone


class RAG(SharesRetriever, dspy.Module):
    """Retrieve ``k`` passages, answer with ``GenerateAnswer``; returns ``Prediction(context, answer, passages)``.

    ``context`` is the list of passage texts the answer was generated from; ``passages`` keeps their
    scores, ids and sources. ``chain_of_thought`` (the seed's choice) adds a reasoning step. ``mode``
    and ``fusion`` choose the search (dense, sparse BM25, hybrid) of a promptkit ``Retriever``; by
    default, the retriever's own.
    """

    def __init__(
        self,
        retriever: RetrieverLike | None = None,
        k: int = 3,
        *,
        chain_of_thought: bool = True,
        mode: Mode | None = None,
        fusion: Fusion | None = None,
    ) -> None:
        super().__init__()
        if k < 1:
            raise InputError(f"k must be >= 1, got {k}", hint="retrieve at least one passage")
        self.retriever = retriever
        self.k = k
        self.search = search_options(mode, fusion)
        self.generate_answer = answer_predictor(chain_of_thought)

    def forward(self, question: str) -> dspy.Prediction:
        passages = retrieve_passages(self.retriever, question, self.k, self.search)
        context = [p.text for p in passages]
        prediction = self.generate_answer(context=context, question=question)
        return dspy.Prediction(context=context, answer=prediction.answer, passages=passages)
