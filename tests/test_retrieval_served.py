"""Served embedders: a LiteLLM embedding model behind a real HTTP server on 127.0.0.1.

The server is tests/servers/embeddings.py: OpenAI's /v1/embeddings over the bundled all-MiniLM-L6-v2
(FastAPI + uvicorn, a separate process). With ``PROMPTKIT_EMBEDDING_API_BASE`` (and
``PROMPTKIT_EMBEDDING_MODEL``, default ``openai/all-MiniLM-L6-v2``) set, the tests that only read from a
server also run against that one (infinity, TEI, vLLM ... serving all-MiniLM-L6-v2).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from promptkit.errors import BackendError, BackendUnavailableError, ConfigError, DimensionMismatchError
from promptkit.evaluation.retrieval import evaluate_retrieval
from promptkit.retrieval import Embedder, EmbeddingCache, build_index, open_store
from promptkit.retrieval.served import is_served, with_retry_after
from tests.servers.base import Reply, TestServer
from tests.servers.fixtures import refused_url_fixture  # noqa: F401 - the refused_url fixture

pytestmark = [pytest.mark.retrieval, pytest.mark.server]

ROOT = Path(__file__).resolve().parents[1]
BEIR = ROOT / "tests" / "fixtures" / "beir_small"
MODEL = os.environ.get("PROMPTKIT_EMBEDDING_MODEL", "openai/all-MiniLM-L6-v2")
TEXTS = [
    f"Passage {i}: {topic}"
    for i, topic in enumerate(
        [
            "water boils at 100 degrees",
            "the capital of France is Paris",
            "red blood cells carry oxygen",
            "a phone with a good camera",
            "photosynthesis needs light",
            "the Moon orbits the Earth",
        ]
        * 5
    )
]


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("PROMPTKIT_EMBED_CACHE", str(tmp_path / "default-cache.sqlite"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def _embedding_server(**options: float) -> object:
    pytest.importorskip("fastapi", reason="needs the server extra (fastapi, uvicorn)")
    from tests.servers.embeddings import EmbeddingServer

    return EmbeddingServer(**options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def own_server() -> Iterator[Any]:
    """Our embedding server, one per module."""
    with _embedding_server() as server:  # type: ignore[attr-defined]
        yield server


@pytest.fixture(scope="module")
def api_base(own_server: Any) -> str:
    """The api_base of a server serving MODEL: the one in PROMPTKIT_EMBEDDING_API_BASE, else ours."""
    return os.environ.get("PROMPTKIT_EMBEDDING_API_BASE") or str(own_server.api_base)


@pytest.fixture(scope="module")
def local() -> Embedder:
    return Embedder(cache=False)


def test_served_vectors_match_the_in_process_ones(api_base: str, local: Embedder) -> None:
    served = Embedder(MODEL, api_base=api_base, batch_size=4, concurrency=3, cache=False)
    vectors = served.encode(TEXTS)  # 30 distinct texts: 8 requests, 3 in flight
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32 and served.dim == 384
    assert np.allclose(vectors, local.encode(TEXTS), atol=1e-5)
    assert np.allclose(served.encode_query(TEXTS[1]), local.encode_query(TEXTS[1]), atol=1e-5)
    name, _, endpoint = served.identity.rpartition("@")
    assert name == MODEL and len(endpoint) == 16 and served.cache_key == served.identity
    assert "api_key" not in repr(served) and served.served is not None


@pytest.mark.parametrize("model", ["ollama/all-minilm", "hosted_vllm/all-MiniLM-L6-v2"])
def test_ollama_and_vllm_routes_reach_the_server(model: str, own_server: Any, local: Embedder) -> None:
    base = own_server.url if model.startswith("ollama/") else own_server.api_base  # Ollama's root; vLLM's /v1
    served = Embedder(model, api_base=base, batch_size=8, cache=False)
    assert np.allclose(served.encode(TEXTS[:10]), local.encode(TEXTS[:10]), atol=1e-5)
    assert served.identity.startswith(model + "@")


def test_served_index_has_the_in_process_ndcg_and_caches_every_batch(
    api_base: str, local: Embedder, tmp_path: Path
) -> None:
    served = Embedder(MODEL, api_base=api_base, batch_size=4, cache=tmp_path / "cache.sqlite")
    report = build_index(BEIR, "small", store=str(tmp_path / "served"), embedder=served, mode="dense")
    assert report.encoded == 15 and report.embedder.startswith(MODEL + "@")
    assert EmbeddingCache(tmp_path / "cache.sqlite").count(served.identity) == 15
    build_index(BEIR, "small", store=str(tmp_path / "local"), embedder=local, mode="dense")
    scores = {}
    for name, embedder in (("served", served), ("local", local)):
        scores[name] = evaluate_retrieval(
            str(tmp_path / name),
            "small",
            queries=BEIR / "queries.jsonl",
            qrels=BEIR / "qrels" / "test.tsv",
            k=5,
            embedder=embedder,
        ).scores
    assert scores["served"] == pytest.approx(scores["local"], abs=1e-9)
    again = build_index(BEIR, "small", store=str(tmp_path / "served"), embedder=served, mode="dense")
    assert (again.added, again.encoded) == (0, 0)  # every vector came from the cache


def test_a_collection_of_another_dimension_is_a_typed_error(api_base: str, tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "index"))
    store.ensure_collection("docs", 8, {"embedder": f"{MODEL}@0123456789abcdef"})
    served = Embedder(MODEL, api_base=api_base, cache=tmp_path / "cache.sqlite")
    with pytest.raises(DimensionMismatchError, match=r"holds 8-d vectors .* makes 384-d ones") as caught:
        build_index(BEIR, "docs", store=store, embedder=served)
    assert caught.value.exit_code == 2 and "index drop" in str(caught.value)
    assert served.encoded_count == 0  # checked before embedding anything
    store.close()


@pytest.mark.slow
def test_retries_wait_what_retry_after_asks(tmp_path: Path) -> None:
    with _embedding_server(rate_limit=2, retry_after=2.5) as server:  # type: ignore[attr-defined]
        served = Embedder(MODEL, api_base=server.api_base, concurrency=1, num_retries=3, cache=False)
        started = time.perf_counter()
        vectors = served.encode(TEXTS[:3])
        waited = time.perf_counter() - started
        assert vectors.shape == (3, 384)
        assert waited >= 5.0  # two 429s, each asking for 2.5 s (the default backoff waits 1 + 2 s)
    with _embedding_server(rate_limit=5, retry_after=0.1) as server:  # type: ignore[attr-defined]
        impatient = Embedder(MODEL, api_base=server.api_base, num_retries=1, cache=False)
        with pytest.raises(BackendError, match=r"429.*slow down") as caught:
            impatient.encode(TEXTS[:3])
        assert caught.value.exit_code == 1 and "concurrency" in str(caught.value)


@pytest.mark.slow
def test_a_server_killed_mid_index_keeps_every_finished_batch_and_a_rerun_resumes(tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    store = str(tmp_path / "index")
    with _embedding_server(die_after=3) as server:  # type: ignore[attr-defined]
        port = server.port
        served = Embedder(MODEL, api_base=server.api_base, batch_size=2, concurrency=2, num_retries=1, cache=cache)
        with pytest.raises(BackendUnavailableError, match="run the same command again to resume") as caught:
            build_index(BEIR, "small", store=store, embedder=served, mode="dense")
        assert not server.alive and caught.value.exit_code == 1
    kept = EmbeddingCache(cache).count(served.identity)
    # 3 requests answered: the dimension probe and (unless the crash beat the last reply out) two batches of 2.
    assert 2 <= kept == served.encoded_count < 15
    assert f"{kept} of" in str(caught.value)

    with _embedding_server(port=port) as server:  # the server is back, at the same address
        resumed = Embedder(MODEL, api_base=server.api_base, batch_size=2, cache=cache)
        report = build_index(BEIR, "small", store=store, embedder=resumed, mode="dense")
    assert report.total == 15 and resumed.encoded_count == 15 - kept and resumed.cache_hits == kept


def test_served_model_names_and_options() -> None:
    assert is_served("openai/text-embedding-3-small") and is_served("ollama/nomic-embed-text")
    assert is_served("hosted_vllm/BAAI/bge-m3")
    assert not is_served("all-MiniLM-L6-v2") and not is_served("BAAI/bge-small-en-v1.5") and not is_served(None)
    with pytest.raises(ConfigError, match="is for sentence-transformers models"):
        Embedder("openai/text-embedding-3-small", backend="onnx", api_base="http://127.0.0.1:1/v1")
    with pytest.raises(ConfigError, match="openai/all-MiniLM-L6-v2"):
        Embedder("all-MiniLM-L6-v2", api_base="http://127.0.0.1:8000/v1")
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        Embedder("openai/text-embedding-3-small")  # hosted, no key: said before any request


def test_the_retry_after_header_reaches_the_retry_loop() -> None:
    class Mapped(Exception):
        retry_after = None

    from_litellm = Exception("429")
    from_litellm.litellm_response_headers = {"retry-after": "2.5"}  # type: ignore[attr-defined]
    assert with_retry_after(Mapped(), from_litellm).retry_after == 2.5  # type: ignore[attr-defined]
    assert with_retry_after(Mapped(), Exception()).retry_after is None  # type: ignore[attr-defined]
    hinted = Mapped()
    hinted.retry_after = 1.0  # type: ignore[assignment]
    assert with_retry_after(hinted, from_litellm).retry_after == 1.0  # the error's own hint wins


def test_a_refused_server_is_a_typed_error_at_once(refused_url: str) -> None:
    served = Embedder(MODEL, api_base=refused_url + "/v1", cache=False)
    started = time.perf_counter()
    with pytest.raises(BackendUnavailableError, match="cannot connect") as caught:
        served.encode(["hello"])
    assert time.perf_counter() - started < 5 and caught.value.exit_code == 1


def test_the_api_key_never_appears_in_an_error() -> None:
    secret = "sk-test-do-not-leak-123456"

    class Echoing(TestServer):
        """Answers 401 with the Authorization header in the body, as some servers do."""

        def __init__(self) -> None:
            super().__init__()
            self.routes[("POST", "/v1/embeddings")] = lambda request: Reply(
                401, {"error": {"message": f"bad key {request.header('Authorization')}", "type": "auth"}}
            )

    with Echoing() as server:
        served = Embedder(MODEL, api_base=server.url + "/v1", api_key=secret, num_retries=0, cache=False)
        with pytest.raises(BackendError) as caught:
            served.encode(["hello"])
    assert secret not in str(caught.value) and secret not in repr(served)
    assert "***" in str(caught.value) or "key" in str(caught.value)
