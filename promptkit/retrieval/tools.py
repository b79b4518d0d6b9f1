"""``Search`` / ``Lookup`` agent tools over a promptkit index, as the ReAct paper's Wikipedia API behaves.

``Search[query]`` returns the top passages of the collection for the query (title and text, numbered)
and makes them the current page; ``Lookup[term]`` returns the next sentence of the current page that
contains the term (``(Result i / n) sentence``), as ``Ctrl+F`` does in the paper. Both take and return
one string, so they plug into ``technique("react", tools=IndexTools(retriever).tools())``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class IndexTools:
    """``Search`` / ``Lookup`` over ``retriever`` (any ``query -> passages`` callable, e.g. a ``Retriever``)."""

    def __init__(self, retriever: Callable[..., Any], *, k: int | None = None) -> None:
        self.retriever = retriever
        self.k = k
        self._sentences: list[str] = []  # the current page, split into sentences
        self._term: str | None = None
        self._seen = 0

    def search(self, query: str) -> str:
        """returns the top passages of the index for the query; Lookup then reads them."""
        found = list(self.retriever(query) if self.k is None else self.retriever(query, k=self.k))
        if not found:
            return f"Could not find [{query}]: no passage matches. Try other words."
        blocks = [_passage_text(number, passage) for number, passage in enumerate(found, 1)]
        page = "\n".join(blocks)
        self._sentences = [s.strip() for line in page.splitlines() for s in _SENTENCE_END.split(line) if s.strip()]
        self._term, self._seen = None, 0
        return page

    def lookup(self, term: str) -> str:
        """returns the next sentence containing the term in the passages of the last Search."""
        if not self._sentences:
            return "No passage is open: Search first."
        matching = [s for s in self._sentences if term.strip().lower() in s.lower()]
        if term != self._term:
            self._term, self._seen = term, 0
        if self._seen >= len(matching):
            return "No more results."
        self._seen += 1
        return f"(Result {self._seen} / {len(matching)}) {matching[self._seen - 1]}"

    def tools(self) -> dict[str, Callable[[str], str]]:
        return {"Search": self.search, "Lookup": self.lookup}


def _passage_text(number: int, passage: Any) -> str:
    title = getattr(passage, "title", None)
    text = " ".join(str(getattr(passage, "text", passage)).split())  # one line per passage
    return f"[{number}] {title}: {text}" if title else f"[{number}] {text}"


__all__ = ["IndexTools"]
