"""The one interface over every vector store engine, and the pieces the engines share.

A store holds named collections of points (id, vectors, payload). A point has a dense vector (unnamed,
as promptkit collections always had), a BM25 sparse vector (named ``bm25``, with Qdrant's IDF
modifier), or both; a query searches one of them or fuses both inside the engine. Engines: ``memory``
(qdrant-client ``:memory:``), ``edge`` (the Qdrant engine in-process, persisted: the default for a
path), ``qdrant-local`` (qdrant-client's pure-Python path mode) and ``server`` (a Qdrant server by URL).
Distances are cosine everywhere, so scores mean the same on every engine.
"""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from promptkit.errors import DataError, DimensionMismatchError, InputError

if TYPE_CHECKING:
    from promptkit.retrieval.modes import Fusion, Mode

# Collection names become folder names for the edge engine: keep them portable and unambiguous.
_COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Filter keys that address the payload's own fields; any other key addresses user metadata.
PAYLOAD_FIELDS = ("title", "source_id")
# The sparse vector's name in a collection (the dense vector is the unnamed one).
SPARSE_VECTOR = "bm25"
# Candidates each branch of a hybrid query hands to the fusion: enough that a passage ranked well by
# one branch only still reaches the fused top k (Qdrant's own examples fetch 2x the limit).
PREFETCH_FACTOR = 5
PREFETCH_MIN = 50
# Reciprocal-rank fusion constant: 1 / (k + rank - 1). Qdrant's own default; the published 60 (Cormack
# et al., 2009) flattens the top ranks and scored 0.020 nDCG@10 lower on the HotPotQA set (BENCHMARKS.md).
RRF_K = 2

FilterValue = str | int | bool | list[str] | list[int]


class CollectionNotFoundError(DataError):
    """A collection was queried that the store does not hold."""


@dataclass(frozen=True)
class SparseVector:
    """Term ids and their weights (ids unique)."""

    indices: list[int]
    values: list[float]


@dataclass(frozen=True)
class StorePoint:
    """A point: its dense ``vector`` (None in a sparse-only collection) and its ``sparse`` vector."""

    id: str
    vector: Sequence[float] | np.ndarray | None
    payload: dict[str, Any]
    sparse: SparseVector | None = None


@dataclass(frozen=True)
class StoreHit:
    id: str
    score: float
    payload: dict[str, Any]


@dataclass(frozen=True)
class CollectionInfo:
    """What ``promptkit index info`` prints about a collection."""

    name: str
    dim: int  # of the dense vectors; 0 when the collection holds only sparse ones
    count: int
    engine: str
    location: str
    metadata: dict[str, Any] = field(default_factory=dict)
    sparse: bool = False  # holds BM25 sparse vectors

    @property
    def embedder(self) -> str | None:
        value = self.metadata.get("embedder")
        return None if value is None else str(value)

    @property
    def modes(self) -> tuple[Mode, ...]:
        """The search modes this collection can serve."""
        from promptkit.retrieval.modes import modes_of

        return modes_of(self.dim > 0, self.sparse)

    @property
    def vectors(self) -> list[str]:
        """What each point holds, for people: e.g. ``["dense 384-d cosine", "sparse bm25 (IDF)"]``."""
        held = [f"dense {self.dim}-d cosine"] if self.dim > 0 else []
        return held + ([f"sparse {SPARSE_VECTOR} (IDF)"] if self.sparse else [])


def check_collection_name(name: str) -> str:
    if not isinstance(name, str) or not _COLLECTION_NAME.match(name):
        raise InputError(
            f"invalid collection name {name!r}",
            hint="use 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit",
        )
    return name


def filter_conditions(filter: Mapping[str, Any] | None) -> list[tuple[str, FilterValue]]:
    """Validate an equality filter ``{"key": value}`` and map keys to payload paths.

    A list value matches any of its items. Keys name user metadata (``metadata.<key>``) except
    ``title`` and ``source_id``, which name the payload's own fields.
    """
    if not filter:
        return []
    conditions: list[tuple[str, FilterValue]] = []
    for key, value in filter.items():
        if not isinstance(key, str) or not key:
            raise InputError(f"filter key {key!r} must be a non-empty string", hint='use {"field": value}')
        path = key if key in PAYLOAD_FIELDS else f"metadata.{key}"
        if isinstance(value, list):
            all_text = all(isinstance(v, str) for v in value)
            all_integers = all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            if not value or not (all_text or all_integers):
                raise InputError(
                    f"filter {key!r}: a list must hold only strings or only integers, and at least one",
                    hint='e.g. {"lang": ["en", "fr"]}',
                )
        elif not isinstance(value, str | int | bool):
            raise InputError(
                f"filter {key!r}: cannot match a {type(value).__name__} exactly",
                hint="filter on strings, integers, booleans or a list of strings/integers",
            )
        conditions.append((path, value))
    return conditions


@dataclass(frozen=True)
class SearchRequest:
    """A checked query as every engine receives it: one branch (dense or sparse) or both, fused."""

    dense: list[float] | None
    sparse: SparseVector | None
    k: int
    filter: list[tuple[str, FilterValue]]
    fusion: Fusion = "rrf"

    @property
    def prefetch(self) -> int:
        """Candidates per branch of a fused query."""
        return max(self.k * PREFETCH_FACTOR, PREFETCH_MIN)


def as_vector(
    vector: Sequence[float] | np.ndarray | None, dim: int | None = None, *, what: str = "vector"
) -> list[float]:
    if vector is None:
        raise DataError(
            f"{what} has no dense vector, and the collection holds them",
            hint="embed passages with the collection's embedder (build_index does)",
        )
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim != 1 or (dim is not None and array.shape[0] != dim):
        raise DataError(
            f"{what} has shape {array.shape}, the collection expects ({dim},)",
            hint="embed with the same model the collection was built with",
        )
    values: list[float] = array.tolist()
    return values


def point_sparse(point: StorePoint) -> SparseVector:
    """The sparse vector of a point bound for a collection that holds sparse vectors."""
    if point.sparse is None:
        raise DataError(
            f"point {point.id} has no sparse vector, and the collection holds them",
            hint="encode passages with the collection's BM25 encoder (build_index does)",
        )
    return point.sparse


class VectorStore(ABC):
    """One interface over every engine. Implementations must be safe to call from several threads."""

    engine: str = "abstract"

    def __init__(self, location: str) -> None:
        self.location = location
        # Engines that are not thread-safe take this lock around every call; others use it for setup.
        self._lock = threading.RLock()
        self._closed = False
        self._handles = 1
        self._on_close: Callable[[VectorStore], None] | None = None

    @abstractmethod
    def collections(self) -> list[str]: ...

    @abstractmethod
    def has_collection(self, name: str) -> bool: ...

    @abstractmethod
    def _create(self, name: str, dim: int, metadata: dict[str, Any], sparse: bool) -> None:
        """Create the collection: a dense vector of ``dim`` (none when 0), a sparse one when ``sparse``."""

    @abstractmethod
    def _layout(self, name: str) -> tuple[int, bool, dict[str, Any]]:
        """``(dense dim or 0, holds sparse vectors, metadata)`` of an existing collection."""

    @abstractmethod
    def upsert(self, name: str, points: Sequence[StorePoint]) -> None: ...

    @abstractmethod
    def _search(self, name: str, request: SearchRequest) -> list[StoreHit]:
        """Run a checked request (the collection holds the vectors it uses)."""

    def query(
        self,
        name: str,
        vector: Sequence[float] | np.ndarray | None,
        k: int,
        filter: Mapping[str, Any] | None = None,
        *,
        sparse: SparseVector | None = None,
        fusion: Fusion = "rrf",
    ) -> list[StoreHit]:
        """The top ``k``: by ``vector`` (dense), by ``sparse`` (BM25), or by both fused with ``fusion``."""
        from promptkit.retrieval.modes import check_fusion, missing_vectors

        if vector is None and sparse is None:
            raise InputError("a query needs a dense vector, a sparse vector or both")
        self.require(name)
        dim, has_sparse, _ = self._layout(name)
        mode: Mode = "dense" if sparse is None else ("sparse" if vector is None else "hybrid")
        if (vector is not None and dim == 0) or (sparse is not None and not has_sparse):
            raise missing_vectors(name, mode, self.info(name).modes)
        # Twice k, then equal scores ordered by id: engines break ties (frequent in rank fusion) each
        # their own way, and the same index must give the same top k on every engine.
        request = SearchRequest(
            dense=None if vector is None else as_vector(vector, dim, what="query vector"),
            sparse=sparse,
            k=2 * k,
            filter=filter_conditions(filter),
            fusion=check_fusion(fusion),
        )
        hits = self._search(name, request)
        return sorted(hits, key=lambda hit: (-float(f"{hit.score:.6g}"), hit.id))[:k]

    @abstractmethod
    def count_matching(self, name: str, filter: Mapping[str, Any]) -> int:
        """Points whose payload matches ``filter`` (see ``filter_conditions``)."""

    @abstractmethod
    def count(self, name: str) -> int: ...

    @abstractmethod
    def drop(self, name: str) -> bool:
        """Delete the collection; False when it did not exist."""

    def optimize(self, name: str) -> None:  # noqa: B027 - a hook: most engines have nothing to do
        """Build indexes after a bulk load (engines that do it in the background ignore this)."""

    def flush(self) -> None:  # noqa: B027 - a hook: most engines have nothing to do
        """Make every acknowledged write durable (engines that are always durable ignore this)."""

    def close(self) -> None:
        """Release this handle; the engine closes (flushing) when the last handle is released."""
        with self._lock:
            if self._closed:
                return
            if self._handles > 1:
                self._handles -= 1
                return
            self._closed = True
            self._close()
            on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close(self)

    def _close(self) -> None:  # noqa: B027 - a hook: most engines have nothing to do
        """Release the engine's resources (files, locks, connections)."""

    def _acquire(self) -> VectorStore:
        """Another handle on this store (``open_store`` shares one store per location)."""
        with self._lock:
            self._handles += 1
        return self

    @property
    def closed(self) -> bool:
        return self._closed

    def ensure_collection(
        self, name: str, dim: int, metadata: Mapping[str, Any] | None = None, *, sparse: bool = False
    ) -> CollectionInfo:
        """Create the collection, or check that the existing one has dense vectors of ``dim``.

        ``dim=0`` with ``sparse=True`` makes a sparse-only collection. An existing collection keeps the
        vectors it was made with (``info().sparse`` says whether it has sparse ones).
        """
        check_collection_name(name)
        if dim < 0 or (dim == 0 and not sparse):
            raise InputError(f"vector dimension must be > 0, got {dim}", hint="or make a sparse-only collection")
        with self._lock:
            if not self.has_collection(name):
                self._create(name, dim, dict(metadata or {}), sparse)
            stored_dim, _, _ = self._layout(name)
        if stored_dim != dim:
            raise DimensionMismatchError(
                f"collection {name!r} in {self.location} holds {stored_dim}-d vectors, got {dim}-d ones",
                hint="use the embedder the collection was built with, drop the collection "
                f"(promptkit index drop --collection {name}), or choose another collection name",
            )
        return self.info(name)

    def info(self, name: str) -> CollectionInfo:
        self.require(name)
        dim, sparse, metadata = self._layout(name)
        return CollectionInfo(name, dim, self.count(name), self.engine, self.location, metadata, sparse)

    def check_open(self) -> None:
        if self._closed:
            raise InputError(f"the store {self.location} is closed", hint="open it again with open_store(...)")

    def require(self, name: str) -> None:
        self.check_open()
        check_collection_name(name)
        if not self.has_collection(name):
            known = ", ".join(sorted(self.collections())) or "none"
            raise CollectionNotFoundError(
                f"collection {name!r} does not exist in {self.location} (collections: {known})",
                hint=f"build it first: promptkit index build SOURCE --collection {name} --store {self.location}",
            )

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __deepcopy__(self, memo: dict[int, Any]) -> VectorStore:
        return self  # a store is a shared resource: DSPy deep-copies programs, never their indexes

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"
