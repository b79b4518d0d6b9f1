"""Engines reached through qdrant-client: ``:memory:``, local path mode and a server by URL.

qdrant-client's local modes (memory and path) are not thread-safe (qdrant-client #1193: lost
writes and broadcast errors with concurrent upserts), so those engines serialize every call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from promptkit.retrieval.stores.base import (
    RRF_K,
    SPARSE_VECTOR,
    FilterValue,
    SearchRequest,
    StoreHit,
    StorePoint,
    VectorStore,
    as_vector,
    filter_conditions,
    point_sparse,
)

if TYPE_CHECKING:
    from qdrant_client import QdrantClient
    from qdrant_client.http import models as qmodels

# Upserts larger than this are sent in pieces (a server rejects very large request bodies).
_UPSERT_BATCH = 512


def build_filter(conditions: list[tuple[str, FilterValue]]) -> qmodels.Filter | None:
    from qdrant_client.http import models

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

    def _create(self, name: str, dim: int, metadata: dict[str, Any], sparse: bool) -> None:
        from qdrant_client.http import models

        # The dense vector stays unnamed (as in every promptkit collection before sparse vectors).
        dense: Any = models.VectorParams(size=dim, distance=models.Distance.COSINE) if dim else {}
        sparse_config = {SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)} if sparse else None
        try:
            with self._guard():
                self.client.create_collection(
                    name,
                    vectors_config=dense,
                    sparse_vectors_config=sparse_config,
                    metadata=metadata or None,
                )
        except Exception:
            # Another process (sharing a server) may have created it first: then it is there to check.
            if not self.has_collection(name):
                raise

    def _layout(self, name: str) -> tuple[int, bool, dict[str, Any]]:
        with self._guard():
            config = self.client.get_collection(name).config
        vectors = config.params.vectors
        sparse = set(config.params.sparse_vectors or {})
        size: int | None
        if isinstance(vectors, dict) and not vectors and sparse == {SPARSE_VECTOR}:
            size = 0  # sparse-only
        else:
            size = getattr(vectors, "size", None)
        if size is None or not sparse <= {SPARSE_VECTOR}:  # named vectors: not made by promptkit
            raise self._foreign(name)
        return int(size), bool(sparse), dict(config.metadata or {})

    def _foreign(self, name: str) -> Exception:
        from promptkit.errors import DataError

        return DataError(
            f"collection {name!r} in {self.location} uses named vectors; promptkit collections have one unnamed "
            f"dense vector and/or a sparse one named {SPARSE_VECTOR!r}",
            hint="index into a new collection name",
        )

    def upsert(self, name: str, points: Sequence[StorePoint]) -> None:
        from qdrant_client.http import models

        self.require(name)
        dim, sparse, _ = self._layout(name)
        structs = [models.PointStruct(id=p.id, vector=self._vectors(p, dim, sparse), payload=p.payload) for p in points]
        for start in range(0, len(structs), _UPSERT_BATCH):
            with self._guard():
                self.client.upsert(name, points=structs[start : start + _UPSERT_BATCH], wait=True)

    @staticmethod
    def _vectors(point: StorePoint, dim: int, sparse: bool) -> Any:
        """A point's vectors as the collection holds them: a bare list for a dense-only one, else by name."""
        dense = as_vector(point.vector, dim, what=f"point {point.id}") if dim else None
        if not sparse:
            return dense
        from qdrant_client.http import models

        sparse_vector = point_sparse(point)
        named: dict[str, Any] = {
            SPARSE_VECTOR: models.SparseVector(indices=sparse_vector.indices, values=sparse_vector.values)
        }
        if dense is not None:
            named[""] = dense
        return named

    def _search(self, name: str, request: SearchRequest) -> list[StoreHit]:
        from qdrant_client.http import models

        query_filter = build_filter(request.filter)
        branches: list[tuple[Any, str | None]] = []
        if request.dense is not None:
            branches.append((request.dense, None))
        if request.sparse is not None:
            branches.append(
                (models.SparseVector(indices=request.sparse.indices, values=request.sparse.values), SPARSE_VECTOR)
            )
        if len(branches) == 1:
            (query, using), prefetch = branches[0], None
        else:
            # The filter goes on each branch: fusing unfiltered candidates could leave fewer than k.
            prefetch = [
                models.Prefetch(query=q, using=u, limit=request.prefetch, filter=query_filter) for q, u in branches
            ]
            using = None
            query = (
                models.RrfQuery(rrf=models.Rrf(k=RRF_K))
                if request.fusion == "rrf"
                else models.FusionQuery(fusion=models.Fusion.DBSF)
            )
        with self._guard():
            response = self.client.query_points(
                name,
                query=query,
                using=using,
                prefetch=prefetch,
                limit=request.k,
                query_filter=None if prefetch else query_filter,
                with_payload=True,
            )
        return [StoreHit(str(p.id), float(p.score), dict(p.payload or {})) for p in response.points]

    def count_matching(self, name: str, filter: Mapping[str, Any]) -> int:
        query_filter = build_filter(filter_conditions(filter))
        self.require(name)
        with self._guard():
            return int(self.client.count(name, count_filter=query_filter, exact=True).count)

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
