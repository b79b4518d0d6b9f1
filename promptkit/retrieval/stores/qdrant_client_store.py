"""Engines reached through qdrant-client: ``:memory:``, local path mode and a server by URL.

qdrant-client's local modes (memory and path) are not thread-safe (qdrant-client #1193: lost
writes and broadcast errors with concurrent upserts), so those engines serialize every call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from promptkit.retrieval.stores.base import (
    StoreHit,
    StorePoint,
    VectorStore,
    as_vector,
    filter_conditions,
)

if TYPE_CHECKING:
    from qdrant_client import QdrantClient
    from qdrant_client.http import models as qmodels

# Upserts larger than this are sent in pieces (a server rejects very large request bodies).
_UPSERT_BATCH = 512


def build_filter(filter: Mapping[str, Any] | None) -> qmodels.Filter | None:
    from qdrant_client.http import models

    conditions = filter_conditions(filter)
    if not conditions:
        return None
    must: list[Any] = []
    for key, value in conditions:
        match: Any = models.MatchAny(any=value) if isinstance(value, list) else models.MatchValue(value=value)
        must.append(models.FieldCondition(key=key, match=match))
    return models.Filter(must=must)


class QdrantClientStore(VectorStore):
    """A ``VectorStore`` over a ``QdrantClient``; ``serialize`` guards engines that are not thread-safe."""

    def __init__(self, client: QdrantClient, location: str, *, serialize: bool) -> None:
        super().__init__(location)
        self.client = client
        self._serialize = serialize

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        if self._serialize:
            with self._lock:
                yield
        else:
            yield

    def collections(self) -> list[str]:
        with self._guard():
            return [c.name for c in self.client.get_collections().collections]

    def has_collection(self, name: str) -> bool:
        with self._guard():
            return bool(self.client.collection_exists(name))

    def _create(self, name: str, dim: int, metadata: dict[str, Any]) -> None:
        from qdrant_client.http import models

        try:
            with self._guard():
                self.client.create_collection(
                    name,
                    vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE),
                    metadata=metadata or None,
                )
        except Exception:
            # Another process (sharing a server) may have created it first: then it is there to check.
            if not self.has_collection(name):
                raise

    def _stored_dim_and_metadata(self, name: str) -> tuple[int, dict[str, Any]]:
        with self._guard():
            config = self.client.get_collection(name).config
        vectors = config.params.vectors
        size = getattr(vectors, "size", None)
        if size is None:  # a collection with named vectors was not made by promptkit
            raise self._foreign(name)
        return int(size), dict(config.metadata or {})

    def _foreign(self, name: str) -> Exception:
        from promptkit.errors import DataError

        return DataError(
            f"collection {name!r} in {self.location} uses named vectors; promptkit collections have one unnamed vector",
            hint="index into a new collection name",
        )

    def upsert(self, name: str, points: Sequence[StorePoint]) -> None:
        from qdrant_client.http import models

        self.require(name)
        dim, _ = self._stored_dim_and_metadata(name)
        structs = [
            models.PointStruct(id=p.id, vector=as_vector(p.vector, dim, what=f"point {p.id}"), payload=p.payload)
            for p in points
        ]
        for start in range(0, len(structs), _UPSERT_BATCH):
            with self._guard():
                self.client.upsert(name, points=structs[start : start + _UPSERT_BATCH], wait=True)

    def query(
        self, name: str, vector: Sequence[float] | np.ndarray, k: int, filter: Mapping[str, Any] | None = None
    ) -> list[StoreHit]:
        query_filter = build_filter(filter)
        self.require(name)
        values = as_vector(vector, None, what="query vector")
        with self._guard():
            response = self.client.query_points(
                name, query=values, limit=k, query_filter=query_filter, with_payload=True
            )
        return [StoreHit(str(p.id), float(p.score), dict(p.payload or {})) for p in response.points]

    def count(self, name: str) -> int:
        self.require(name)
        with self._guard():
            return int(self.client.count(name, exact=True).count)

    def drop(self, name: str) -> bool:
        if not self.has_collection(name):
            return False
        with self._guard():
            self.client.delete_collection(name)
        return True

    def _close(self) -> None:
        self.client.close()
