"""``Retriever``: store + embedder + collection + k, callable as ``retriever(query, k=None)``.

It returns ``Passage`` objects (text, score, id, metadata, and ``long_text``), so the same object
works inside a module (``self.retriever(question)``) and as DSPy's ``rm``
(``dspy.configure(rm=retriever)`` then ``dspy.Retrieve(k)(query).passages``).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from promptkit.errors import ConfigError, InputError
from promptkit.retrieval.embedder import Embedder
from promptkit.retrieval.passages import Passage
from promptkit.retrieval.stores import VectorStore, open_store
from promptkit.retrieval.stores.base import check_collection_name


def _check_k(k: int) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise InputError(f"k must be a positive integer, got {k!r}", hint="ask for at least one passage (e.g. k=3)")
    return k


class Retriever:
    """Top-k passages for a query from one collection of a vector store."""

    def __init__(
        self,
        store: VectorStore | str | Path,
        embedder: Embedder | None = None,
        collection: str = "passages",
        k: int = 3,
        *,
        filter: Mapping[str, Any] | None = None,
    ) -> None:
        self.store = open_store(store, create=False)
        self.embedder = embedder if embedder is not None else Embedder()
        self.collection = check_collection_name(collection)
        self.k = _check_k(k)
        self.filter = dict(filter) if filter else None
        self._checked = False
        self._check_lock = threading.Lock()

    def _check_collection(self) -> None:
        """Once: the collection exists and was built with this embedder (else scores are meaningless)."""
        if self._checked:
            return
        with self._check_lock:
            if self._checked:
                return
            info = self.store.info(self.collection)
            built_with = info.embedder
            if built_with is not None:
                built_name, _, built_print = built_with.rpartition("@")
                name, _, fingerprint = self.embedder.identity.rpartition("@")
                if built_name != name:
                    raise ConfigError(
                        f"collection {self.collection!r} was built with the embedder {built_name!r}, "
                        f"but this retriever embeds queries with {name!r}",
                        hint=f"use Embedder({built_name!r}) or rebuild the collection with the new embedder",
                    )
                if built_print != fingerprint:
                    warnings.warn(
                        f"collection {self.collection!r} was built with another version of {name} "
                        f"({built_print} vs {fingerprint}); rebuild it if results look wrong",
                        stacklevel=3,
                    )
            self._checked = True

    def search(
        self, query: str, k: int | None = None, *, filter: Mapping[str, Any] | None = None
    ) -> list[Passage]:
        """The ``k`` passages most similar to ``query``, best first, each with its cosine ``score``."""
        if not isinstance(query, str) or not query.strip():
            raise InputError("the query is empty", hint="pass a non-empty question or search query")
        top = _check_k(k if k is not None else self.k)
        self._check_collection()
        vector = self.embedder.encode_query(query)
        hits = self.store.query(self.collection, vector, top, filter if filter is not None else self.filter)
        return [Passage.from_payload(hit.id, hit.payload, hit.score) for hit in hits]

    def __call__(
        self, query: str | Sequence[str], k: int | None = None, *, filter: Mapping[str, Any] | None = None,
        **_dspy_kwargs: Any,
    ) -> list[Passage]:
        """``search`` for one query; for several (DSPy's ``query_or_queries``), the best ``k`` over all."""
        if isinstance(query, str):
            return self.search(query, k, filter=filter)
        best: dict[str, Passage] = {}
        for one in query:
            for passage in self.search(one, k, filter=filter):
                kept = best.get(passage.id)
                if kept is None or (passage.score or 0.0) > (kept.score or 0.0):
                    best[passage.id] = passage
        ranked = sorted(best.values(), key=lambda p: -(p.score or 0.0))
        return ranked[: k if k is not None else self.k]

    def __deepcopy__(self, memo: dict[int, Any]) -> Retriever:
        # DSPy deep-copies programs (BootstrapFewShot's teacher): share the index, never copy it.
        return self

    def __repr__(self) -> str:
        return f"Retriever(store={self.store!r}, collection={self.collection!r}, k={self.k})"
