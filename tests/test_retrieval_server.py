"""The server engine (``QdrantClient(url=...)``) over real HTTP.

No Qdrant server binary can be installed here, so the test starts, on 127.0.0.1, a small stand-in
that speaks the part of Qdrant's REST API the store uses (collections, upsert, query, count) and
delegates to qdrant-client's in-memory engine. The store's requests, filters, ids and payloads
therefore go through qdrant-client's real REST client and real JSON. With ``PROMPTKIT_QDRANT_URL``
set, the same tests also run against that real server.
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from promptkit.errors import BackendUnavailableError, DataError
from promptkit.retrieval.stores import VectorStore, open_store
from promptkit.retrieval.stores.base import StorePoint

pytestmark = [pytest.mark.retrieval, pytest.mark.server]
DIM = 8


class FakeQdrantHandler(BaseHTTPRequestHandler):
    backend: Any  # a QdrantClient(":memory:")
    lock = threading.Lock()
    api_key: str | None = None

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _send(self, result: Any, status: int = 200) -> None:
        body = json.dumps({"result": result, "status": "ok", "time": 0.0}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def _route(self, method: str) -> None:
        from qdrant_client.http import models

        if self.api_key is not None and self.headers.get("api-key") != self.api_key:
            self._send({"error": "forbidden"}, 403)
            return
        path = self.path.split("?")[0]
        backend = self.backend
        with self.lock:
            if method == "GET" and path == "/collections":
                names = [{"name": c.name} for c in backend.get_collections().collections]
                self._send({"collections": names})
            elif m := re.fullmatch(r"/collections/([^/]+)/exists", path):
                self._send({"exists": backend.collection_exists(m[1])})
            elif m := re.fullmatch(r"/collections/([^/]+)", path):
                if method == "PUT":
                    spec = models.CreateCollection.model_validate(self._body())
                    self._send(
                        backend.create_collection(
                            m[1],
                            vectors_config=spec.vectors,
                            metadata=spec.metadata,
                            sparse_vectors_config=spec.sparse_vectors,
                        )
                    )
                elif method == "DELETE":
                    self._send(backend.delete_collection(m[1]))
                else:
                    self._send(backend.get_collection(m[1]).model_dump(mode="json"))
            elif m := re.fullmatch(r"/collections/([^/]+)/points", path):
                batch = models.PointsList.model_validate(self._body())
                self._send(backend.upsert(m[1], points=batch.points).model_dump(mode="json"))
            elif m := re.fullmatch(r"/collections/([^/]+)/points/query", path):
                request = models.QueryRequest.model_validate(self._body())
                response = backend.query_points(
                    m[1],
                    query=request.query,
                    query_filter=request.filter,
                    limit=request.limit,
                    with_payload=request.with_payload,
                    prefetch=request.prefetch,
                    using=request.using,
                )
                self._send(response.model_dump(mode="json"))
            elif m := re.fullmatch(r"/collections/([^/]+)/points/count", path):
                counting = models.CountRequest.model_validate(self._body())
                self._send(backend.count(m[1], count_filter=counting.filter, exact=True).model_dump(mode="json"))
            else:
                self._send({"error": f"not served by the stand-in: {method} {path}"}, 404)

    def do_GET(self) -> None:
        self._route("GET")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")


def start_fake_qdrant(api_key: str | None = None) -> tuple[ThreadingHTTPServer, str]:
    from qdrant_client import QdrantClient

    handler = type(
        "Handler",
        (FakeQdrantHandler,),
        {"backend": QdrantClient(":memory:"), "api_key": api_key, "lock": threading.Lock()},
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(params=["stand-in", "real"])
def server_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "real":
        url = os.environ.get("PROMPTKIT_QDRANT_URL")
        if not url:
            pytest.skip("set PROMPTKIT_QDRANT_URL to also test a real Qdrant server")
        yield url
        return
    server, url = start_fake_qdrant()
    yield url
    server.shutdown()
    server.server_close()


@pytest.fixture
def served(server_url: str) -> Iterator[tuple[VectorStore, str]]:
    """A server store and a fresh collection name (dropped afterwards: a real server outlives the test)."""
    opened = open_store(server_url)
    name = f"t{uuid.uuid4().hex[:12]}"
    yield opened, name
    opened.drop(name)
    opened.close()


def unit(n: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def make_points(n: int, seed: int = 0) -> list[StorePoint]:
    return [
        StorePoint(
            str(uuid.UUID(int=i + 1)),
            v,
            {"text": f"p{i}", "title": "", "source_id": f"s{i % 2}", "metadata": {"lang": ["en", "fr"][i % 2]}},
        )
        for i, v in enumerate(unit(n, seed))
    ]


def test_server_store_round_trip_filters_and_dimension_check(served: tuple[VectorStore, str]) -> None:
    store, name = served
    store.ensure_collection(name, DIM, {"embedder": "m@1"})
    data = make_points(40)
    store.upsert(name, data)
    store.upsert(name, data[:10])  # idempotent
    assert store.count(name) == 40 and store.info(name).embedder == "m@1" and store.engine == "server"
    hits = store.query(name, data[5].vector, 3)
    assert hits[0].id == data[5].id and hits[0].payload["text"] == "p5"
    assert all(h.payload["metadata"]["lang"] == "fr" for h in store.query(name, data[0].vector, 40, {"lang": "fr"}))
    with pytest.raises(DataError, match="holds 8-d vectors"):
        store.ensure_collection(name, DIM + 1)


def test_server_gives_the_same_top_k_as_memory(served: tuple[VectorStore, str]) -> None:
    store, name = served
    data = make_points(150, seed=4)
    memory = open_store(f"memory:{uuid.uuid4().hex}")
    for engine in (store, memory):
        engine.ensure_collection(name, DIM)
        engine.upsert(name, data)
    queries = unit(15, seed=7)
    assert [[h.id for h in store.query(name, q, 10)] for q in queries] == [
        [h.id for h in memory.query(name, q, 10)] for q in queries
    ]
    memory.close()


def test_server_concurrent_writes_lose_nothing(served: tuple[VectorStore, str]) -> None:
    store, name = served
    store.ensure_collection(name, DIM)
    vectors = unit(8 * 25, seed=11)

    def write(worker: int) -> None:
        for i in range(worker * 25, worker * 25 + 25):
            store.upsert(name, [StorePoint(str(uuid.UUID(int=i + 1)), vectors[i], {"text": str(i)})])

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.count(name) == 200


@pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")
def test_wrong_api_key_is_reported_without_the_key() -> None:
    server, url = start_fake_qdrant(api_key="right-key")
    try:
        with pytest.raises(BackendUnavailableError) as err:
            from promptkit.retrieval.stores.server import ServerStore

            ServerStore(url, api_key="wrong-key")
        assert "refused the API key" in str(err.value) and "wrong-key" not in str(err.value)
        from promptkit.retrieval.stores.server import ServerStore

        ok = ServerStore(url, api_key="right-key")
        assert "right-key" not in repr(ok)
        ok.close()
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_that_goes_away_is_reported_as_unavailable() -> None:
    server, url = start_fake_qdrant()
    store = open_store(url)
    store.ensure_collection("docs", DIM)
    server.shutdown()
    server.server_close()
    with pytest.raises(BackendUnavailableError, match="lost the Qdrant server"):
        store.count("docs")
    store.close()


def test_server_does_sparse_and_hybrid_search_like_memory(served: tuple[VectorStore, str]) -> None:
    """BM25 vectors and the fused query travel through the REST API (prefetch, using, rrf/dbsf)."""
    from promptkit.retrieval import IndexModeError
    from promptkit.retrieval.bm25 import Bm25Encoder

    store, name = served
    encoder = Bm25Encoder()
    texts = [f"{word} notes on {other}" for word in ("liver", "lava", "barn", "stock") for other in ("cats", "ash")]
    data = [
        StorePoint(p.id, p.vector, {**p.payload, "text": t}, s)
        for p, t, s in zip(make_points(len(texts), seed=3), texts, encoder.encode_documents(texts), strict=True)
    ]
    memory = open_store(f"memory:{uuid.uuid4().hex}")
    for engine in (store, memory):
        engine.ensure_collection(name, DIM, sparse=True)
        engine.upsert(name, data)
    assert store.info(name).modes == ("dense", "sparse", "hybrid")
    query = encoder.encode_query("lava ash")
    assert store.query(name, None, 3, sparse=query)[0].payload["text"] == "lava notes on ash"
    for fusion in ("rrf", "dbsf"):
        assert [h.id for h in store.query(name, data[0].vector, 5, sparse=query, fusion=fusion)] == [
            h.id for h in memory.query(name, data[0].vector, 5, sparse=query, fusion=fusion)
        ]
    dense_only = f"{name}-dense"
    store.ensure_collection(dense_only, DIM)
    try:
        with pytest.raises(IndexModeError, match="--mode dense"):
            store.query(dense_only, data[0].vector, 3, sparse=query)
    finally:
        store.drop(dense_only)
        memory.close()
