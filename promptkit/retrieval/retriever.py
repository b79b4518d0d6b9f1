"""``Retriever``: store + embedder + collection + k, callable as ``retriever(query, k=None)``.

It returns ``Passage`` objects (text, score, id, metadata, and ``long_text``), so the same object
works inside a module (``self.retriever(question)``) and as DSPy's ``rm``
(``dspy.configure(rm=retriever)`` then ``dspy.Retrieve(k)(query).passages``).

``mode`` picks the vectors searched (``dense``, ``sparse`` BM25, or ``hybrid``: both, fused by Qdrant
with ``fusion``); by default, the best the collection holds (hybrid where it has both).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from promptkit.errors import ConfigError, InputError
from promptkit.retrieval.bm25 import Bm25Encoder, Bm25Params
from promptkit.retrieval.embedder import Embedder
from promptkit.retrieval.modes import DEFAULT_FUSION, Fusion, Mode, best_mode, check_fusion, check_mode, missing_vectors
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
        mode: Mode | None = None,
        fusion: Fusion = DEFAULT_FUSION,
    ) -> None:
        self.store = open_store(store, create=False)
        self.embedder = embedder if embedder is not None else Embedder()
        self.collection = check_collection_name(collection)
        self.k = _check_k(k)
        self.filter = dict(filter) if filter else None
        self.mode: Mode | None = None if mode is None else check_mode(mode)
        self.fusion: Fusion = check_fusion(fusion)
        self._modes: tuple[Mode, ...] = ()  # what the collection serves, read once
        self._bm25: Bm25Encoder | None = None
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
            self._modes = info.modes
            if self.mode is not None and self.mode not in info.modes:
                raise missing_vectors(self.collection, self.mode, info.modes)
            if info.sparse:
                self._bm25 = Bm25Encoder(Bm25Params.from_metadata(info.metadata) or Bm25Params())
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

    @property
    def resolved_mode(self) -> Mode:
        """The mode a search uses when none is passed to it."""
        self._check_collection()
        return self.mode or best_mode("dense" in self._modes, "sparse" in self._modes)

    def search(
        self,
        query: str,
        k: int | None = None,
        *,
        filter: Mapping[str, Any] | None = None,
        mode: Mode | None = None,
        fusion: Fusion | None = None,
    ) -> list[Passage]:
        """The ``k`` best passages for ``query``, best first, each with its ``score``: the cosine in
        dense mode, the BM25 score in sparse mode, the fused score in hybrid mode."""
        if not isinstance(query, str) or not query.strip():
            raise InputError("the query is empty", hint="pass a non-empty question or search query")
        top = _check_k(k if k is not None else self.k)
        self._check_collection()
        chosen = check_mode(mode) if mode is not None else self.resolved_mode
        if chosen not in self._modes:
            raise missing_vectors(self.collection, chosen, self._modes)
        vector = self.embedder.encode_query(query) if chosen != "sparse" else None
        sparse = self._bm25.encode_query(query) if chosen != "dense" and self._bm25 is not None else None
        hits = self.store.query(
            self.collection,
            vector,
            top,
            filter if filter is not None else self.filter,
            sparse=sparse,
            fusion=check_fusion(fusion) if fusion is not None else self.fusion,
        )
        return [Passage.from_payload(hit.id, hit.payload, hit.score) for hit in hits]

    def __call__(
        self,
        query: str | Sequence[str],
        k: int | None = None,
        *,
        filter: Mapping[str, Any] | None = None,
        mode: Mode | None = None,
        fusion: Fusion | None = None,
        **_dspy_kwargs: Any,
    ) -> list[Passage]:
        """``search`` for one query; for several (DSPy's ``query_or_queries``), the best ``k`` over all."""
        if isinstance(query, str):
            return self.search(query, k, filter=filter, mode=mode, fusion=fusion)
        best: dict[str, Passage] = {}
        for one in query:
            for passage in self.search(one, k, filter=filter, mode=mode, fusion=fusion):
                kept = best.get(passage.id)
                if kept is None or (passage.score or 0.0) > (kept.score or 0.0):
                    best[passage.id] = passage
        ranked = sorted(best.values(), key=lambda p: -(p.score or 0.0))
        return ranked[: k if k is not None else self.k]

    def __deepcopy__(self, memo: dict[int, Any]) -> Retriever:
        # DSPy deep-copies programs (BootstrapFewShot's teacher): share the index, never copy it.
        return self

    def __repr__(self) -> str:
        return (
            f"Retriever(store={self.store!r}, collection={self.collection!r}, k={self.k}, "
            f"mode={self.mode!r}, fusion={self.fusion!r})"
        )
