"""Vector stores: one interface (``VectorStore``), engines chosen by a store spec.

``open_store(spec)``:

- ``"memory"`` — qdrant-client ``:memory:``, one shared per process (``"memory:NAME"`` for another);
- a folder path — the Qdrant engine in-process (``edge``), persisted; a folder made by
  qdrant-client's path mode is opened with that engine; force one with ``edge:PATH`` or
  ``qdrant-local:PATH``;
- ``http(s)://HOST:PORT`` — a Qdrant server (API key from ``QDRANT_API_KEY``).

Persisted stores are shared per process: opening the same folder twice returns the same store
(engines lock their files against a second opener), and the last ``close()`` really closes it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from promptkit.errors import DataError, InputError
from promptkit.retrieval.stores.base import (
    CollectionInfo,
    CollectionNotFoundError,
    StoreHit,
    StorePoint,
    VectorStore,
)

ENGINES = ("memory", "edge", "qdrant-local", "server")

_open: dict[tuple[str, str], VectorStore] = {}
_open_lock = threading.Lock()


def _is_qdrant_client_folder(path: Path) -> bool:
    return (path / "meta.json").is_file() and (path / "collection").is_dir()


def parse_store_spec(spec: str) -> tuple[str, str]:
    """``(engine, location)`` for a store spec string."""
    if not isinstance(spec, str) or not spec.strip():
        raise InputError("empty store spec", hint="use 'memory', a folder path, or http(s)://HOST:6333")
    spec = spec.strip()
    if spec in ("memory", ":memory:"):
        return "memory", "memory"
    if spec.startswith("memory:"):
        return "memory", spec
    if spec.startswith(("http://", "https://")):
        return "server", spec
    for engine in ("edge", "qdrant-local"):
        if spec.startswith(engine + ":"):
            location = spec[len(engine) + 1 :]
            if not location:
                raise InputError(f"store spec {spec!r} names no folder", hint=f"use {engine}:PATH")
            return engine, str(Path(location).expanduser().resolve())
    path = Path(spec).expanduser().resolve()
    return ("qdrant-local" if _is_qdrant_client_folder(path) else "edge"), str(path)


def _make(engine: str, location: str) -> VectorStore:
    if engine == "memory":
        from promptkit.retrieval.stores.memory import MemoryStore

        return MemoryStore(location)
    if engine == "server":
        from promptkit.retrieval.stores.server import ServerStore

        return ServerStore(location)
    if engine == "qdrant-local":
        from promptkit.retrieval.stores.local_path import LocalPathStore

        return LocalPathStore(location)
    from promptkit.retrieval.stores.edge import EdgeStore

    return EdgeStore(location)


def open_store(spec: str | os.PathLike[str] | VectorStore, *, create: bool = True) -> VectorStore:
    """The store for ``spec`` (a ``VectorStore`` is returned as it is). Close it when done.

    ``create=False`` is for readers (info, drop, retrieval): a missing index folder is then an error
    instead of a new empty index, so a mistyped path is reported rather than silently created.
    """
    if isinstance(spec, VectorStore):
        return spec
    engine, location = parse_store_spec(os.fspath(spec))
    if not create and engine in ("edge", "qdrant-local") and not Path(location).is_dir():
        raise DataError(
            "no index at this path",
            path=location,
            hint="check the --store path, or build an index there first: promptkit index build SOURCE "
            f"--collection NAME --store {location}",
        )
    if engine == "server":  # clients of a server are independent; nothing to share
        return _make(engine, location)
    key = (engine, location)
    with _open_lock:
        store = _open.get(key)
        if store is not None and not store.closed:
            return store._acquire()
        store = _make(engine, location)
        if engine == "memory":
            store._acquire()  # the registry's own handle: an in-memory index lives as long as the process
        store._on_close = _forget
        _open[key] = store
        return store


def _forget(store: VectorStore) -> None:
    with _open_lock:
        for key, value in list(_open.items()):
            if value is store:
                del _open[key]


__all__ = [
    "ENGINES",
    "CollectionInfo",
    "CollectionNotFoundError",
    "StoreHit",
    "StorePoint",
    "VectorStore",
    "open_store",
    "parse_store_spec",
]
