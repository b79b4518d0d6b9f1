"""build_index / Retriever with the real offline MiniLM and the real Qdrant engines (small corpus)."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import dspy
import numpy as np
import pytest

from promptkit.errors import ConfigError, DataError, DimensionMismatchError, InputError
from promptkit.retrieval import (
    CollectionNotFoundError,
    Embedder,
    Passage,
    Retriever,
    build_index,
    drop_index,
    index_info,
    list_indexes,
    load_passages,
    open_store,
)

pytestmark = pytest.mark.retrieval

BIO = Path(__file__).resolve().parents[1] / "examples" / "data" / "bioasq_passages.jsonl"
QUERIES = [
    "Which cell may suffer from anemia?",
    "Which cells of the pancreas produce insulin?",
    "Which clotting factor is missing in hemophilia A?",
    "What causes scurvy?",
    "Which mosquito transmits malaria?",
    "How do statins lower cholesterol?",
]
EXPECTED_TOP = ["anemia-rbc", "insulin", "hemophilia", "scurvy", "malaria", "cholesterol"]


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    return Embedder(cache=tmp_path_factory.mktemp("cache") / "embeddings.sqlite")


def spec_for(engine: str, tmp_path: Path) -> str:
    return f"memory:{uuid.uuid4().hex}" if engine == "memory" else f"{engine}:{tmp_path / engine}"


@pytest.mark.parametrize("engine", ["memory", "edge", "qdrant-local"])
def test_build_is_idempotent_and_retrieval_finds_the_right_passages(
    engine: str, tmp_path: Path, embedder: Embedder
) -> None:
    spec = spec_for(engine, tmp_path)
    first = build_index(BIO, "bio", store=spec, embedder=embedder, min_words=20)
    assert (first.loaded, first.engine) == (42, engine) and first.kept == first.chunks == first.added == first.total
    assert first.kept < first.loaded  # the three short notes are filtered out
    again = build_index(BIO, "bio", store=spec, embedder=embedder, min_words=20)
    assert (again.added, again.total, again.encoded) == (0, first.total, 0)
    retriever = Retriever(spec, embedder, "bio", k=3)
    for query, expected in zip(QUERIES, EXPECTED_TOP, strict=True):
        top = retriever(query)
        assert len(top) == 3 and top[0].source_id == expected, (query, [p.source_id for p in top])
        assert top[0].score is not None and top[0].score >= top[1].score  # type: ignore[operator]
        assert top[0].title and top[0].metadata["topic"] == "biomed" and top[0].long_text == top[0].text
    info = index_info("bio", store=spec)
    assert (info.count, info.dim, info.engine, info.embedder) == (first.total, 384, engine, embedder.identity)
    retriever.store.close()
    if engine != "memory":  # persisted: a fresh open sees the same index
        assert list_indexes(store=spec) == ["bio"]
    assert drop_index("bio", store=spec) and not drop_index("bio", store=spec)


def test_every_engine_returns_the_same_top_k(tmp_path: Path, embedder: Embedder) -> None:
    ranked: dict[str, list[list[str]]] = {}
    for engine in ("memory", "edge", "qdrant-local"):
        spec = spec_for(engine, tmp_path)
        build_index(BIO, "bio", store=spec, embedder=embedder)
        retriever = Retriever(spec, embedder, "bio", k=5)
        ranked[engine] = [[p.id for p in retriever(q)] for q in QUERIES]
        retriever.store.close()
    assert ranked["memory"] == ranked["edge"] == ranked["qdrant-local"]


def test_scores_equal_a_numpy_cosine_baseline(embedder: Embedder) -> None:
    passages = load_passages(BIO)
    spec = f"memory:{uuid.uuid4().hex}"
    build_index(passages, "bio", store=spec, embedder=embedder)
    retriever = Retriever(spec, embedder, "bio", k=4, mode="dense")
    matrix = embedder.encode([p.embedding_text() for p in passages])  # title + text, as indexed
    for query in QUERIES:
        scores = matrix @ embedder.encode_query(query)
        best = np.argsort(-scores)[:4]
        got = retriever(query)
        assert [p.id for p in got] == [passages[i].id for i in best]
        assert np.allclose([p.score or 0.0 for p in got], scores[best], atol=1e-4)


def test_retriever_is_a_dspy_rm(embedder: Embedder) -> None:
    spec = f"memory:{uuid.uuid4().hex}"
    build_index(BIO, "bio", store=spec, embedder=embedder)
    retriever = Retriever(spec, embedder, "bio", k=3)
    with dspy.context(rm=retriever):
        passages = dspy.Retrieve(k=2)(QUERIES[0]).passages
    assert passages == [p.text for p in retriever(QUERIES[0], k=2)]
    merged = retriever([QUERIES[0], QUERIES[1]], k=4)  # DSPy's query_or_queries form
    assert {p.source_id for p in merged} >= {"anemia-rbc", "insulin"} and len(merged) == 4


def test_filters_k_and_bad_queries(embedder: Embedder) -> None:
    passages = [
        Passage(text="Warfarin blocks vitamin K recycling.", source_id="a", metadata={"lang": "en"}),
        Passage(text="La warfarine bloque le recyclage de la vitamine K.", source_id="b", metadata={"lang": "fr"}),
        Passage(text="Aspirin inhibits platelet COX-1.", source_id="c", metadata={"lang": "en"}),
    ]
    spec = f"memory:{uuid.uuid4().hex}"
    build_index(passages, "drugs", store=spec, embedder=embedder)
    english = Retriever(spec, embedder, "drugs", k=3, filter={"lang": "en"})
    assert {p.source_id for p in english("warfarin")} == {"a", "c"}
    assert [p.source_id for p in english("warfarin", k=1, filter={"lang": "fr"})] == ["b"]
    with pytest.raises(InputError, match="query is empty"):
        english("  ")
    with pytest.raises(InputError, match="positive integer"):
        english("warfarin", k=0)
    with pytest.raises(CollectionNotFoundError, match="'missing'"):
        Retriever(spec, embedder, "missing")("warfarin")


def test_collection_built_with_another_embedder_is_refused(embedder: Embedder) -> None:
    store = open_store(f"memory:{uuid.uuid4().hex}")
    store.ensure_collection("other", 384, {"embedder": "bge-small@0123456789abcdef"})
    with pytest.raises(ConfigError, match="built with the embedder 'bge-small'"):
        Retriever(store, embedder, "other")("question")
    with pytest.raises(DataError, match="bge-small"):
        build_index(BIO, "other", store=store, embedder=embedder)


def test_bad_corpora_and_dimension_mismatch_fail_before_encoding(tmp_path: Path, embedder: Embedder) -> None:
    store = open_store(f"memory:{uuid.uuid4().hex}")
    with pytest.raises(DataError, match="more than 500 words"):
        build_index(BIO, "bio", store=store, embedder=embedder, min_words=500)
    with pytest.raises(DataError, match="empty"):
        build_index([], "bio", store=store, embedder=embedder)
    with pytest.raises(DataError, match="not found"):
        build_index(tmp_path / "missing.jsonl", "bio", store=store, embedder=embedder)
    store.ensure_collection("small", 16)
    before = embedder.encoded_count
    with pytest.raises(DimensionMismatchError, match=r"holds 16-d vectors \(embedder unknown\), but .* makes 384-d"):
        build_index(BIO, "small", store=store, embedder=embedder)
    assert embedder.encoded_count == before
    # A user's own id, not one Qdrant takes: named, with the fix, before anything is embedded (was a ValueError).
    with pytest.raises(DataError, match=r"(?s)passage id 'Meet Corliss Archer' .* source_id"):
        build_index([Passage("A radio programme.", id="Meet Corliss Archer")], "ids", store=store, embedder=embedder)
    assert embedder.encoded_count == before
    own = str(uuid.uuid4())
    build_index([Passage("A radio programme.", id=own)], "ids", store=store, embedder=embedder)  # a UUID goes
    assert store.count("ids") == 1


def test_chunking_splits_long_documents(embedder: Embedder) -> None:
    spec = f"memory:{uuid.uuid4().hex}"
    whole = build_index(BIO, "whole", store=spec, embedder=embedder)
    chunked = build_index(BIO, "chunks", store=spec, embedder=embedder, chunk_size=15, chunk_overlap=3)
    assert chunked.total > whole.total
    top = Retriever(spec, embedder, "chunks", k=1)("Which mosquito transmits malaria?")[0]
    assert top.source_id == "malaria" and "chunk" in top.metadata and len(top.text.split()) <= 15


def test_concurrent_builds_into_one_persisted_index_lose_nothing(tmp_path: Path, embedder: Embedder) -> None:
    passages = load_passages(BIO)
    spec = str(tmp_path / "idx")
    store = open_store(spec)
    errors: list[BaseException] = []

    def build(part: int) -> None:
        try:
            build_index(passages[part::8], "bio", store=store, embedder=embedder, optimize=False)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=build, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.count("bio") == len(passages)
    store.close()


def test_token_chunks_use_the_embedders_tokenizer() -> None:
    from promptkit.retrieval.chunking import chunk_text, default_token_spans

    spans = default_token_spans()
    text = load_passages(BIO)[3].text  # sickle cell: long words split into several WordPieces
    chunks = chunk_text(text, 16, 4, unit="tokens", token_spans=spans)
    assert len(spans(text)) > len(text.split())  # tokens, not words
    assert len(chunks) > 1 and all(chunk in text for chunk in chunks)
    assert all(len(spans(chunk)) <= 16 for chunk in chunks)
    words = text.split()
    assert all(c.split()[0] in words and c.split()[-1] in words for c in chunks)  # never cut inside a word
    assert " ".join(chunks[0].split()[-2:]) in chunks[1]  # overlap
