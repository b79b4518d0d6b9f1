"""``Search`` / ``Lookup`` agent tools, as the ReAct paper's Wikipedia API behaves.

``Search`` opens a page; ``Lookup[term]`` returns the next sentence of the open page that contains
the term (``(Result i / n) sentence``), as ``Ctrl+F`` does in the paper. Two searches share that
Lookup (:class:`PageLookup`):

* :class:`IndexTools` searches a promptkit index: ``Search[query]`` returns the top passages of the
  collection (title and text, numbered) and makes them the page.
* :class:`DocstoreTools` searches an in-memory ``{title: text}`` corpus: ``Search[entity]`` opens
  the page with that exact title (its first paragraph is the observation) or suggests similar titles.

Both take and return one string, so they plug into ``technique("react", tools=IndexTools(retriever).tools())``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from typing import Any

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class PageLookup:
    """``Lookup[term]`` over the page the last successful Search opened (sentences, in order)."""

    def __init__(self, *, nothing_open: str) -> None:
        self.nothing_open = nothing_open  # what Lookup says before any Search opened a page
        self._sentences: list[str] = []
        self._term: str | None = None
        self._seen = 0

    def open(self, page: str) -> None:
        self._sentences = [s.strip() for line in page.splitlines() for s in _SENTENCE_END.split(line) if s.strip()]
        self._term, self._seen = None, 0

    def lookup(self, term: str) -> str:
        """returns the next sentence containing the term in the current page."""
        if not self._sentences:
            return self.nothing_open
        matching = [s for s in self._sentences if term.strip().lower() in s.lower()]
        if term != self._term:
            self._term, self._seen = term, 0
        if self._seen >= len(matching):
            return "No more results."
        self._seen += 1
        return f"(Result {self._seen} / {len(matching)}) {matching[self._seen - 1]}"


class IndexTools:
    """``Search`` / ``Lookup`` over ``retriever`` (any ``query -> passages`` callable, e.g. a ``Retriever``)."""

    def __init__(self, retriever: Callable[..., Any], *, k: int | None = None) -> None:
        self.retriever = retriever
        self.k = k
        self.page = PageLookup(nothing_open="No passage is open: Search first.")

    def search(self, query: str) -> str:
        """returns the top passages of the index for the query; Lookup then reads them."""
        found = list(self.retriever(query) if self.k is None else self.retriever(query, k=self.k))
        if not found:
            return f"Could not find [{query}]: no passage matches. Try other words."
        page = "\n".join(_passage_text(number, passage) for number, passage in enumerate(found, 1))
        self.page.open(page)
        return page

    def lookup(self, term: str) -> str:
        """returns the next sentence containing the term in the passages of the last Search."""
        return self.page.lookup(term)

    def tools(self) -> dict[str, Callable[[str], str]]:
        return {"Search": self.search, "Lookup": self.lookup}


class DocstoreTools:
    """``Search[entity]`` / ``Lookup[keyword]`` over ``{title: text}``, as the ReAct paper's Wikipedia API."""

    def __init__(self, docs: Mapping[str, str]) -> None:
        self.docs = dict(docs)
        self.page = PageLookup(nothing_open="No page is open: Search for an entity first.")

    def search(self, entity: str) -> str:
        """searches the exact entity and returns the first paragraph if it exists. If not, it will return some similar entities to search."""  # noqa: E501 - one line: the tool description
        title = next((t for t in self.docs if t.lower() == entity.strip().lower()), None)
        if title is None:
            similar = difflib.get_close_matches(entity, list(self.docs), n=5, cutoff=0.3)
            return f"Could not find [{entity}]. Similar: {similar}."
        self.page.open(self.docs[title])
        return self.docs[title].strip().split("\n\n")[0]

    def lookup(self, keyword: str) -> str:
        """returns the next sentence containing keyword in the current passage."""
        return self.page.lookup(keyword)

    def tools(self) -> dict[str, Callable[[str], str]]:
        return {"Search": self.search, "Lookup": self.lookup}


def _passage_text(number: int, passage: Any) -> str:
    title = getattr(passage, "title", None)
    text = " ".join(str(getattr(passage, "text", passage)).split())  # one line per passage
    return f"[{number}] {title}: {text}" if title else f"[{number}] {text}"


__all__ = ["DocstoreTools", "IndexTools", "PageLookup"]
