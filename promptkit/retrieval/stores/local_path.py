"""qdrant-client's local path mode: pure Python, SQLite + pickled points, brute-force search.

Kept for compatibility with indexes made by plain qdrant-client; the ``edge`` engine is the default
for a path (see BENCHMARKS.md: it writes far faster, queries a 100k index in milliseconds and
commits each batch atomically). Writes are serialized here because the engine is not thread-safe.
Opening a path unpickles its contents: only open folders you trust.
"""

from __future__ import annotations

from pathlib import Path

from promptkit.errors import BackendUnavailableError
from promptkit.retrieval.stores.qdrant_client_store import QdrantClientStore


class LocalPathStore(QdrantClientStore):
    engine = "qdrant-local"

    def __init__(self, path: str | Path) -> None:
        from qdrant_client import QdrantClient

        folder = Path(path).expanduser().resolve()
        try:
            client = QdrantClient(path=str(folder))
        except RuntimeError as exc:
            # The folder is locked by another client (another process, or an unclosed one here).
            raise BackendUnavailableError(
                f"the qdrant-local index {str(folder)!r} is open elsewhere: {exc}",
                hint="close the other process or client using it, or use a Qdrant server for shared access",
            ) from None
        super().__init__(client, str(folder), serialize=True)
