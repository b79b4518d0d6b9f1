"""The one interface over every vector store engine, and the pieces the engines share.

A store holds named collections of points (id, vector, payload). Engines: ``memory``
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
from typing import Any

import numpy as np

from promptkit.errors import DataError, InputError

# Collection names become folder names for the edge engine: keep them portable and unambiguous.
_COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Filter keys that address the payload's own fields; any other key addresses user metadata.
PAYLOAD_FIELDS = ("title", "source_id")

FilterValue = str | int | bool | list[str] | list[int]


class CollectionNotFoundError(DataError):
    """A collection was queried that the store does not hold."""


@dataclass(frozen=True)
class StorePoint:
    id: str
    vector: Sequence[float] | np.ndarray
    payload: dict[str, Any]


@dataclass(frozen=True)
class StoreHit:
    id: str
    score: float
    payload: dict[str, Any]


@dataclass(frozen=True)
class CollectionInfo:
    """What ``promptkit index info`` prints about a collection."""

    name: str
    dim: int
    count: int
    engine: str
    location: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def embedder(self) -> str | None:
        value = self.metadata.get("embedder")
        return None if value is None else str(value)


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


def as_vector(vector: Sequence[float] | np.ndarray, dim: int | None = None, *, what: str = "vector") -> list[float]:
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim != 1 or (dim is not None and array.shape[0] != dim):
        raise DataError(
            f"{what} has shape {array.shape}, the collection expects ({dim},)",
            hint="embed with the same model the collection was built with",
        )
    values: list[float] = array.tolist()
    return values


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
    def _create(self, name: str, dim: int, metadata: dict[str, Any]) -> None: ...

    @abstractmethod
    def _stored_dim_and_metadata(self, name: str) -> tuple[int, dict[str, Any]]: ...

    @abstractmethod
    def upsert(self, name: str, points: Sequence[StorePoint]) -> None: ...

    @abstractmethod
    def query(
        self, name: str, vector: Sequence[float] | np.ndarray, k: int, filter: Mapping[str, Any] | None = None
    ) -> list[StoreHit]: ...

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

    def ensure_collection(self, name: str, dim: int, metadata: Mapping[str, Any] | None = None) -> CollectionInfo:
        """Create the collection, or check that the existing one has vectors of ``dim``."""
        check_collection_name(name)
        if dim <= 0:
            raise InputError(f"vector dimension must be > 0, got {dim}")
        with self._lock:
            if not self.has_collection(name):
                self._create(name, dim, dict(metadata or {}))
            stored_dim, _ = self._stored_dim_and_metadata(name)
        if stored_dim != dim:
            raise DataError(
                f"collection {name!r} in {self.location} holds {stored_dim}-d vectors, got {dim}-d ones",
                hint="use the embedder the collection was built with, drop the collection "
                f"(promptkit index drop --collection {name}), or choose another collection name",
            )
        return self.info(name)

    def info(self, name: str) -> CollectionInfo:
        self.require(name)
        dim, metadata = self._stored_dim_and_metadata(name)
        return CollectionInfo(name, dim, self.count(name), self.engine, self.location, metadata)

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
