"""Build, describe and drop indexes: what ``promptkit index build|info|drop`` calls.

``build_index`` loads a corpus, keeps passages with more than ``min_words`` words, chunks long
ones, embeds them (cached) and upserts them under content-hash ids, so building twice adds nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptkit.errors import DataError
from promptkit.retrieval.chunking import ChunkUnit, chunk_passages, filter_min_words
from promptkit.retrieval.embedder import Embedder
from promptkit.retrieval.loaders import ColumnMap, load_passages
from promptkit.retrieval.passages import Passage
from promptkit.retrieval.stores import CollectionInfo, VectorStore, open_store
from promptkit.retrieval.stores.base import StorePoint, check_collection_name

# Points per upsert call: big enough to amortize a call, small enough that a crash loses little.
UPSERT_BATCH = 1000


@dataclass(frozen=True)
class IndexReport:
    """What one ``build_index`` did."""

    collection: str
    store: str
    engine: str
    embedder: str
    loaded: int  # passages read from the source
    kept: int  # after the min_words filter
    chunks: int  # after chunking and de-duplication: the points written
    added: int  # points that were not in the collection before
    total: int  # points in the collection now
    encoded: int  # texts that went through the model (the rest came from the cache)
    seconds: float


def build_index(
    source: str | Path | Iterable[Passage],
    collection: str,
    *,
    store: str | VectorStore = "memory",
    embedder: Embedder | None = None,
    min_words: int = 0,
    chunk_size: int | None = None,
    chunk_overlap: int = 0,
    chunk_unit: ChunkUnit = "words",
    format: str | None = None,
    columns: ColumnMap | None = None,
    metadata: Mapping[str, Any] | None = None,
    optimize: bool = True,
) -> IndexReport:
    """Index ``source`` (a corpus file/folder, or passages) into ``collection`` of ``store``."""
    started = time.perf_counter()
    check_collection_name(collection)
    if isinstance(source, str | Path):
        passages = load_passages(source, format=format, columns=columns, metadata=metadata)
        where = str(source)
    else:
        passages = list(source)
        where = "the passages given"
        if not passages:
            raise DataError("the corpus is empty (no passages)", hint="pass at least one passage")
    loaded = len(passages)
    kept = filter_min_words(passages, min_words) if min_words else passages
    if not kept:
        raise DataError(
            f"no passage in {where} has more than {min_words} words", hint="lower --min-words (0 keeps every passage)"
        )
    pieces = chunk_passages(kept, chunk_size, chunk_overlap, unit=chunk_unit) if chunk_size else kept
    unique = list({p.id: p for p in pieces}.values())

    embedder = embedder if embedder is not None else Embedder()
    opened = open_store(store)
    try:
        identity = embedder.identity
        _check_embedder(opened, collection, identity)
        # Check the dimension before encoding: a mismatch should not cost a full embedding run.
        opened.ensure_collection(collection, embedder.dim, {"embedder": identity})
        encoded_before = embedder.encoded_count
        vectors = embedder.encode([p.text for p in unique])
        before = opened.count(collection)
        for start in range(0, len(unique), UPSERT_BATCH):
            batch = unique[start : start + UPSERT_BATCH]
            opened.upsert(
                collection,
                [StorePoint(p.id, v, p.to_payload()) for p, v in zip(batch, vectors[start : start + UPSERT_BATCH],
                                                                       strict=True)],
            )
        if optimize:
            opened.optimize(collection)
        opened.flush()
        total = opened.count(collection)
        return IndexReport(
            collection=collection, store=opened.location, engine=opened.engine, embedder=identity, loaded=loaded,
            kept=len(kept), chunks=len(unique), added=total - before, total=total,
            encoded=embedder.encoded_count - encoded_before, seconds=time.perf_counter() - started,
        )
    finally:
        if opened is not store:
            opened.close()


def _check_embedder(store: VectorStore, collection: str, identity: str) -> None:
    if not store.has_collection(collection):
        return
    built_with = store.info(collection).embedder
    if built_with is not None and built_with.rpartition("@")[0] != identity.rpartition("@")[0]:
        raise DataError(
            f"collection {collection!r} in {store.location} was built with the embedder {built_with!r}, "
            f"not {identity!r}",
            hint="index with the same embedder, or drop the collection first (promptkit index drop)",
        )


def index_info(collection: str, *, store: str | VectorStore = "memory") -> CollectionInfo:
    """Passages, dimension, embedder and engine of ``collection``."""
    opened = open_store(store, create=False)
    try:
        return opened.info(collection)
    finally:
        if opened is not store:
            opened.close()


def drop_index(collection: str, *, store: str | VectorStore = "memory") -> bool:
    """Delete ``collection``; False when it did not exist."""
    opened = open_store(store, create=False)
    try:
        check_collection_name(collection)
        return opened.drop(collection)
    finally:
        if opened is not store:
            opened.close()


def list_indexes(*, store: str | VectorStore = "memory") -> list[str]:
    opened = open_store(store, create=False)
    try:
        return opened.collections()
    finally:
        if opened is not store:
            opened.close()
