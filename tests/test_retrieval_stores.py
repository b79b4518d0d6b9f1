"""Vector store engines behind one interface: memory, edge (EdgeShard), qdrant-local (path mode).

Random normalized vectors stand in for embeddings (the model is tested in test_retrieval_index.py).
The server engine is covered in test_retrieval_server.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from promptkit.errors import BackendUnavailableError, DataError, InputError
from promptkit.retrieval.stores import CollectionNotFoundError, VectorStore, open_store, parse_store_spec
from promptkit.retrieval.stores.base import StorePoint

pytestmark = pytest.mark.retrieval

ENGINES = ["memory", "edge", "qdrant-local"]
ROOT = Path(__file__).resolve().parents[1]
DIM = 16


def make_store(engine: str, tmp_path: Path) -> VectorStore:
    if engine == "memory":
        return open_store(f"memory:{uuid.uuid4().hex}")
    return open_store(f"{engine}:{tmp_path / engine}")


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    opened = make_store(request.param, tmp_path)
    yield opened
    opened.close()


def unit_vectors(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def points(n: int, seed: int = 0, start: int = 0) -> list[StorePoint]:
    vectors = unit_vectors(n, seed=seed)
    return [
        StorePoint(
            str(uuid.UUID(int=start + i + 1)),
            vectors[i],
            {
                "text": f"passage {start + i}",
                "title": "",
                "source_id": f"doc{(start + i) % 3}",
                "metadata": {
                    "lang": "en" if (start + i) % 2 else "fr",
                    "rank": (start + i) % 5,
                    "odd": bool((start + i) % 2),
                },
            },
        )
        for i in range(n)
    ]


def test_create_upsert_query_count_info_drop(store: VectorStore) -> None:
    info = store.ensure_collection("docs", DIM, {"embedder": "m@1"})
    assert (info.dim, info.count, info.embedder) == (DIM, 0, "m@1")
    data = points(30)
    store.upsert("docs", data)
    assert store.count("docs") == 30
    hits = store.query("docs", data[7].vector, 5)
    assert hits[0].id == data[7].id and hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert hits[0].payload["text"] == "passage 7" and hits[0].payload["metadata"]["lang"] == "en"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert store.collections() == ["docs"]
    assert store.info("docs").count == 30
    assert store.drop("docs") and not store.has_collection("docs") and not store.drop("docs")


def test_upserting_the_same_points_again_adds_nothing(store: VectorStore) -> None:
    store.ensure_collection("docs", DIM)
    store.upsert("docs", points(20))
    store.upsert("docs", points(20))
    store.upsert("docs", points(10, start=15))  # 5 overlap, 5 new
    assert store.count("docs") == 25


def test_metadata_filters(store: VectorStore) -> None:
    store.ensure_collection("docs", DIM)
    data = points(30)
    store.upsert("docs", data)
    query = data[0].vector
    french = store.query("docs", query, 30, {"lang": "fr"})
    assert len(french) == 15 and all(h.payload["metadata"]["lang"] == "fr" for h in french)
    assert {h.payload["metadata"]["rank"] for h in store.query("docs", query, 30, {"rank": [1, 3]})} == {1, 3}
    both = store.query("docs", query, 30, {"lang": "en", "source_id": "doc1"})
    assert both and all(h.payload["source_id"] == "doc1" and h.payload["metadata"]["lang"] == "en" for h in both)
    assert store.query("docs", query, 5, {"lang": "de"}) == []
    # Booleans: qdrant-edge-py reads a bool as an integer, so the edge engine matches a stored text form.
    odd = store.query("docs", query, 30, {"odd": True})
    assert len(odd) == 15 and all(h.payload["metadata"] == {**h.payload["metadata"], "odd": True} for h in odd)
    assert all(set(h.payload) == set(data[0].payload) for h in odd)  # no engine-private keys shown
    assert len(store.query("docs", query, 30, {"odd": False, "lang": "fr"})) == 15
    assert store.count_matching("docs", {"odd": True}) == 15
    with pytest.raises(InputError, match="cannot match a float"):
        store.query("docs", query, 5, {"score": 0.5})


def test_dimension_mismatch_names_the_collection_and_the_fix(store: VectorStore) -> None:
    store.ensure_collection("docs", DIM)
    with pytest.raises(DataError) as err:
        store.ensure_collection("docs", DIM * 2)
    assert "'docs'" in str(err.value) and f"{DIM}-d" in str(err.value) and "drop" in str(err.value)
    with pytest.raises(DataError, match="shape"):
        store.upsert("docs", [StorePoint(str(uuid.uuid4()), np.ones(DIM + 1), {})])


def test_missing_collection_and_bad_names(store: VectorStore) -> None:
    with pytest.raises(CollectionNotFoundError, match="'nope' does not exist") as err:
        store.query("nope", np.ones(DIM), 3)
    assert "index build" in str(err.value)
    with pytest.raises(InputError, match="invalid collection name"):
        store.ensure_collection("../escape", DIM)


def test_eight_threads_writing_and_querying_lose_nothing(store: VectorStore) -> None:
    store.ensure_collection("docs", DIM)
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for batch in range(10):
                start = worker * 1000 + batch * 5
                store.upsert("docs", points(5, seed=start, start=start))
                store.query("docs", unit_vectors(1, seed=start)[0], 3)
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.count("docs") == 8 * 10 * 5


@pytest.mark.parametrize("engine", ["edge", "qdrant-local"])
def test_persisted_engines_reopen_with_their_data(engine: str, tmp_path: Path) -> None:
    first = make_store(engine, tmp_path)
    first.ensure_collection("docs", DIM, {"embedder": "m@1"})
    first.upsert("docs", points(12))
    first.close()
    assert first.closed
    with pytest.raises(InputError, match="closed"):
        first.count("docs")
    again = make_store(engine, tmp_path)
    try:
        assert again.info("docs").count == 12 and again.info("docs").embedder == "m@1"
        assert again.query("docs", points(12)[3].vector, 1)[0].payload["text"] == "passage 3"
    finally:
        again.close()


def test_store_specs_choose_the_engine(tmp_path: Path) -> None:
    assert parse_store_spec("memory") == ("memory", "memory")
    assert parse_store_spec("https://qdrant.example:6333")[0] == "server"
    assert parse_store_spec(str(tmp_path / "idx")) == ("edge", str(tmp_path / "idx"))
    assert parse_store_spec(f"qdrant-local:{tmp_path}")[0] == "qdrant-local"
    legacy = make_store("qdrant-local", tmp_path)
    legacy.ensure_collection("docs", DIM)
    legacy.close()
    # A folder made by qdrant-client's path mode is opened with that engine, not the default.
    assert parse_store_spec(str(tmp_path / "qdrant-local"))[0] == "qdrant-local"
    with pytest.raises(InputError):
        parse_store_spec("  ")


def test_open_store_shares_one_store_per_location(tmp_path: Path) -> None:
    a = open_store(str(tmp_path / "idx"))
    b = open_store(str(tmp_path / "idx"))
    assert a is b
    a.ensure_collection("docs", DIM)
    a.close()  # b still holds a handle: the shard stays open
    assert b.count("docs") == 0
    b.close()
    assert b.closed
    shared = open_store("memory")
    shared.ensure_collection("kept-in-process", DIM)
    shared.close()
    assert open_store("memory").has_collection("kept-in-process")  # memory lives as long as the process
    open_store("memory").drop("kept-in-process")


def test_a_second_process_gets_a_clear_error_for_a_locked_edge_index(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "idx"))
    store.ensure_collection("docs", DIM)
    store.upsert("docs", points(3))  # opens the shard, which locks its WAL
    code = textwrap.dedent(f"""
        from promptkit.errors import BackendUnavailableError
        from promptkit.retrieval.stores import open_store
        try:
            open_store({str(tmp_path / "idx")!r}).count("docs")
        except BackendUnavailableError as exc:
            print("LOCKED:", exc)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    store.close()
    assert "LOCKED:" in result.stdout and "another process" in result.stdout, result.stderr


@pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")
def test_an_unreachable_server_fails_fast_with_a_typed_error() -> None:
    # A socket that accepts connections but never answers: only a timeout can end the request.
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    try:
        from promptkit.retrieval.stores.server import ServerStore

        started = time.monotonic()
        with pytest.raises(BackendUnavailableError) as err:
            ServerStore(f"http://user:secret@127.0.0.1:{port}", api_key="k-123", timeout=1)
        assert time.monotonic() - started < 10
        message = str(err.value)
        assert f"127.0.0.1:{port}" in message and "secret" not in message and "k-123" not in message
        assert "fix:" in message
    finally:
        silent.close()
    with pytest.raises(BackendUnavailableError, match="cannot reach"):
        open_store(f"http://127.0.0.1:{port}")  # now nothing listens: refused


@pytest.mark.parametrize("engine", ["edge", "qdrant-local"])
def test_same_top_k_on_every_engine(engine: str, tmp_path: Path) -> None:
    data = points(200, seed=3)
    queries = unit_vectors(20, seed=99)
    results: dict[str, list[list[str]]] = {}
    for name in ("memory", engine):
        store = make_store(name, tmp_path)
        store.ensure_collection("docs", DIM)
        store.upsert("docs", data)
        store.optimize("docs")
        results[name] = [[h.id for h in store.query("docs", q, 10)] for q in queries]
        store.close()
    assert results["memory"] == results[engine]


CRASH_WRITER = """
import sys, uuid, numpy as np
from promptkit.retrieval.stores import open_store
from promptkit.retrieval.stores.base import StorePoint
store = open_store(sys.argv[1])
store.ensure_collection("docs", 16)
rng = np.random.default_rng(0)
for batch in range(10_000):
    vectors = rng.standard_normal((100, 16))
    store.upsert("docs", [StorePoint(str(uuid.uuid4()), v, {"batch": batch}) for v in vectors])
    print(batch + 1, flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["edge", "qdrant-local"])
def test_sigkill_during_writes_keeps_every_acknowledged_batch(engine: str, tmp_path: Path) -> None:
    spec = f"{engine}:{tmp_path / 'idx'}"
    proc = subprocess.Popen([sys.executable, "-c", CRASH_WRITER, spec], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    acknowledged, deadline, acked_at = 0, time.monotonic() + 60, []
    while acknowledged < 5 and time.monotonic() < deadline:
        acknowledged = int(proc.stdout.readline() or 0)
        acked_at.append(time.monotonic())
    time.sleep((acked_at[-1] - acked_at[0]) / 8)  # about halfway into the next batch
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = open_store(spec)
    try:
        count = store.count("docs")
    finally:
        store.close()
    assert count >= acknowledged * 100
    if engine == "edge":
        assert count % 100 == 0  # the WAL keeps whole batches


def test_readers_do_not_create_a_missing_index_folder(tmp_path: Path) -> None:
    from promptkit.retrieval import index_info

    missing = tmp_path / "typo"
    with pytest.raises(DataError, match="no index at this path") as err:
        index_info("docs", store=str(missing))
    assert str(missing) in str(err.value) and not missing.exists()
    store = open_store(missing)  # a writer creates it (and os.PathLike specs work)
    assert store.collections() == [] and missing.is_dir()
    store.close()
