"""In-memory store: qdrant-client ``QdrantClient(":memory:")`` (brute-force search; for small corpora and tests)."""

from __future__ import annotations

from promptkit.retrieval.stores.qdrant_client_store import QdrantClientStore


class MemoryStore(QdrantClientStore):
    """Lives as long as the object. ``open_store("memory")`` shares one per process."""

    engine = "memory"

    def __init__(self, name: str = "memory") -> None:
        from qdrant_client import QdrantClient

        super().__init__(QdrantClient(":memory:"), name, serialize=True)
