"""Build, describe and drop indexes: what ``promptkit index build|info|drop`` calls.

``build_index`` loads a corpus, keeps passages with more than ``min_words`` words, chunks long
ones, embeds them (cached) and/or encodes their BM25 terms, and upserts them under content-hash ids,
so building twice adds nothing. What is embedded is ``embed_template`` filled from the passage
(``"{title} {text}"`` by default); the template, the embedder and the BM25 parameters are recorded in
the collection, so a later build adds passages exactly as the first one did.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from promptkit.errors import DataError, DimensionMismatchError
from promptkit.retrieval.bm25 import METADATA_KEY, Bm25Encoder, Bm25Params, mean_length
from promptkit.retrieval.chunking import ChunkUnit, chunk_passages, filter_min_words
from promptkit.retrieval.embedder import Embedder
from promptkit.retrieval.loaders import ColumnMap, load_passages
from promptkit.retrieval.modes import DEFAULT_MODE, Mode, check_mode, missing_vectors
from promptkit.retrieval.passages import (
    DEFAULT_EMBED_TEMPLATE,
    LEGACY_EMBED_TEMPLATE,
    Passage,
    check_embed_template,
)
from promptkit.retrieval.stores import CollectionInfo, VectorStore, open_store
from promptkit.retrieval.stores.base import SparseVector, StorePoint, check_collection_name

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
    vectors: tuple[str, ...] = ()  # what each point holds (``CollectionInfo.vectors``)


def build_index(
    source: str | Path | Iterable[Passage],
    collection: str,
    *,
    store: str | VectorStore = "memory",
    embedder: Embedder | None = None,
    mode: Mode | None = None,
    embed_template: str | None = None,
    bm25: Bm25Params | None = None,
    min_words: int = 0,
    chunk_size: int | None = None,
    chunk_overlap: int = 0,
    chunk_unit: ChunkUnit = "words",
    format: str | None = None,
    columns: ColumnMap | None = None,
    metadata: Mapping[str, Any] | None = None,
    optimize: bool = True,
) -> IndexReport:
    """Index ``source`` (a corpus file/folder, or passages) into ``collection`` of ``store``.

    ``mode`` says what a new collection holds: ``dense`` (embeddings), ``sparse`` (BM25 terms, no
    embedder needed) or ``hybrid`` (both, the default). An existing collection keeps what it holds; a
    ``mode`` it cannot serve is an ``IndexModeError``. ``embed_template`` (default ``"{title} {text}"``)
    and ``bm25`` (default: the corpus's mean length) apply to a new collection; an existing one keeps its own.
    """
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
    _check_point_ids(unique)

    opened = open_store(store)
    try:
        plan = _plan(opened, collection, mode, embed_template, bm25, embedder)
        texts = [p.embedding_text(plan.template) for p in unique]
        if plan.sparse and plan.bm25 is None:  # a new collection: BM25's length norm from this corpus
            plan = replace(plan, bm25=Bm25Params(avg_len=mean_length(texts)))
        dense_embedder = (embedder if embedder is not None else Embedder()) if plan.dense else None
        if dense_embedder is not None:
            # Check the dimension before encoding: a mismatch should not cost a full embedding run.
            _check_embedder(opened, collection, dense_embedder)
        opened.ensure_collection(
            collection, dense_embedder.dim if dense_embedder else 0, plan.metadata(dense_embedder), sparse=plan.sparse
        )
        encoded_before = dense_embedder.encoded_count if dense_embedder else 0
        dense = list(dense_embedder.encode(texts)) if dense_embedder else [None] * len(texts)
        encoder = Bm25Encoder(plan.bm25) if plan.sparse else None
        before = opened.count(collection)
        for start in range(0, len(unique), UPSERT_BATCH):
            batch, batch_texts = unique[start : start + UPSERT_BATCH], texts[start : start + UPSERT_BATCH]
            sparse: list[SparseVector | None] = (
                list(encoder.encode_documents(batch_texts)) if encoder else [None] * len(batch)
            )
            opened.upsert(
                collection,
                [
                    StorePoint(p.id, d, p.to_payload(), s)
                    for p, d, s in zip(batch, dense[start : start + UPSERT_BATCH], sparse, strict=True)
                ],
            )
        if optimize:
            opened.optimize(collection)
        opened.flush()
        info = opened.info(collection)
        return IndexReport(
            collection=collection,
            store=opened.location,
            engine=opened.engine,
            embedder=info.embedder or "",
            loaded=loaded,
            kept=len(kept),
            chunks=len(unique),
            added=info.count - before,
            total=info.count,
            encoded=(dense_embedder.encoded_count - encoded_before) if dense_embedder else 0,
            seconds=time.perf_counter() - started,
            vectors=tuple(info.vectors),
        )
    finally:
        if opened is not store:
            opened.close()


@dataclass(frozen=True)
class _Plan:
    """What a build writes: which vectors, the embed template, and the BM25 parameters of a new collection."""

    dense: bool
    sparse: bool
    template: str
    bm25: Bm25Params | None  # None: measure the corpus (a new collection)

    def metadata(self, embedder: Embedder | None) -> dict[str, Any]:
        """The description a new collection is created with."""
        recorded: dict[str, Any] = {"embed_template": self.template}
        if embedder is not None:
            recorded["embedder"] = embedder.identity
        if self.sparse and self.bm25 is not None:
            recorded[METADATA_KEY] = self.bm25.to_metadata()
        return recorded


def _plan(
    store: VectorStore,
    collection: str,
    mode: Mode | None,
    template: str | None,
    bm25: Bm25Params | None,
    embedder: Embedder | None,
) -> _Plan:
    if template is not None:
        check_embed_template(template)
    if not store.has_collection(collection):
        chosen = check_mode(mode) if mode is not None else DEFAULT_MODE
        return _Plan(chosen != "sparse", chosen != "dense", template or DEFAULT_EMBED_TEMPLATE, bm25)
    info = store.info(collection)
    if mode is not None and check_mode(mode) not in info.modes:
        raise missing_vectors(collection, mode, info.modes)
    recorded = str(info.metadata.get("embed_template") or LEGACY_EMBED_TEMPLATE)
    if template is not None and template != recorded:
        raise DataError(
            f"collection {collection!r} embeds passages as {recorded!r}, not {template!r}",
            hint="leave out the embed template (the collection's own is used), or build another collection",
        )
    if not info.dim and embedder is not None:
        raise DataError(
            f"collection {collection!r} holds only BM25 vectors: it embeds nothing",
            hint="leave out the embedder, or build a dense or hybrid collection under another name",
        )
    return _Plan(info.dim > 0, info.sparse, recorded, Bm25Params.from_metadata(info.metadata) or Bm25Params())


def _check_point_ids(passages: list[Passage]) -> None:
    """Point ids are UUIDs (Qdrant's other kind, integers, cannot travel as promptkit's string ids): say so
    before anything is embedded."""
    for passage in passages:
        try:
            uuid.UUID(passage.id)
        except ValueError:
            raise DataError(
                f"passage id {passage.id!r} ({passage.title or passage.text[:40]!r}) is not a UUID, "
                "which a Qdrant point id must be",
                hint="leave the id empty (promptkit derives one from the text) and put your own id in source_id",
            ) from None


def _check_embedder(store: VectorStore, collection: str, embedder: Embedder) -> None:
    """An existing collection was built with this embedder: its vector size first, then its name."""
    if not store.has_collection(collection):
        return
    info = store.info(collection)
    built_with, identity = info.embedder, embedder.identity
    if info.dim and info.dim != embedder.dim:
        raise DimensionMismatchError(
            f"collection {collection!r} in {store.location} holds {info.dim}-d vectors (embedder "
            f"{built_with or 'unknown'}), but the embedder {embedder.name!r} makes {embedder.dim}-d ones",
            hint="index with the embedder the collection was built with, drop the collection first "
            "(promptkit index drop), or build another collection",
        )
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
