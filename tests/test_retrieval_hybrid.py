"""Sparse (BM25) and hybrid search on every engine: memory, edge (EdgeShard), qdrant-local (path mode);
titles in what is embedded; search modes on build_index, the Retriever and the RAG programs.

Dense vectors in the store tests are random stand-ins; the sparse vectors are real, from Qdrant's BM25
tokenizer. The tests at the end load the bundled MiniLM.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import dspy
import numpy as np
import pytest
from dspy.utils.dummies import DummyLM

from promptkit.errors import ConfigError, DataError, InputError
from promptkit.programs import RAG, MultiHopRAG
from promptkit.retrieval import Embedder, IndexModeError, Passage, Retriever, build_index, index_info
from promptkit.retrieval.bm25 import Bm25Encoder, Bm25Params, mean_length
from promptkit.retrieval.stores import VectorStore, open_store
from promptkit.retrieval.stores.base import StorePoint

pytestmark = pytest.mark.retrieval

ENGINES = ["memory", "edge", "qdrant-local"]
DIM = 8
TEXTS = [
    "Regenerating damaged tissue: stem cells repair the liver.",
    "The stock market fell sharply on Monday.",
    "Cats chase mice in the barn at night.",
    "Dogs are loyal animals and good companions.",
    "Volcanoes erupt lava and ash over the island.",
    "The liver filters blood and stores glycogen.",
]
BM25 = Bm25Encoder()


def make_store(engine: str, tmp_path: Path) -> VectorStore:
    return open_store(f"memory:{uuid.uuid4().hex}" if engine == "memory" else f"{engine}:{tmp_path / engine}")


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    opened = make_store(request.param, tmp_path)
    yield opened
    opened.close()


def unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def points(texts: list[str], *, dense: bool = True, start: int = 0) -> list[StorePoint]:
    vectors = unit_vectors(len(texts), seed=start)
    return [
        StorePoint(
            str(uuid.UUID(int=start + i + 1)),
            vectors[i] if dense else None,
            {"text": text, "source_id": f"doc{start + i}", "metadata": {"half": ["even", "odd"][(start + i) % 2]}},
            sparse,
        )
        for i, (text, sparse) in enumerate(zip(texts, BM25.encode_documents(texts), strict=True))
    ]


def test_the_tokenizer_stems_and_drops_stopwords() -> None:
    query, document = BM25.encode_query("regenerate tissues"), BM25.encode_documents(["the regenerating tissue"])[0]
    assert sorted(query.indices) == sorted(document.indices) and len(query.indices) == 2
    assert BM25.encode_query("the of and").indices == []
    assert mean_length(["one two three", "four five six seven eight"]) == 4.0
    with pytest.raises(InputError, match="BM25"):
        Bm25Encoder(Bm25Params(language="klingon"))


def test_sparse_and_hybrid_search(store: VectorStore) -> None:
    store.ensure_collection("docs", DIM, sparse=True)
    data = points(TEXTS)
    store.upsert("docs", data)
    info = store.info("docs")
    assert info.modes == ("dense", "sparse", "hybrid")
    assert info.vectors == [f"dense {DIM}-d cosine", "sparse bm25 (IDF)"]
    sparse_hits = store.query("docs", None, 3, sparse=BM25.encode_query("liver"))
    assert {h.payload["source_id"] for h in sparse_hits} == {"doc0", "doc5"}  # only passages with the term
    assert store.query("docs", data[2].vector, 1)[0].id == data[2].id  # dense alone, as before
    for fusion in ("rrf", "dbsf"):
        # Dense points at doc2, BM25 at doc4: fusion ranks both above the rest.
        fused = store.query("docs", data[2].vector, 6, sparse=BM25.encode_query("volcano lava"), fusion=fusion)
        assert {h.id for h in fused[:2]} == {data[2].id, data[4].id}, fusion
        assert [h.score for h in fused] == sorted((h.score for h in fused), reverse=True)
    filtered = store.query("docs", data[2].vector, 6, {"half": "even"}, sparse=BM25.encode_query("liver cats"))
    assert len(filtered) == 3 and all(h.payload["metadata"]["half"] == "even" for h in filtered)


def test_idf_comes_from_the_engine_so_adding_passages_needs_no_reindex(store: VectorStore) -> None:
    store.ensure_collection("docs", DIM, sparse=True)
    store.upsert("docs", points(TEXTS))
    query = BM25.encode_query("liver")
    before = store.query("docs", None, 1, sparse=query)[0]
    # Many more passages that mention the liver: the term is commoner, so it weighs less.
    store.upsert("docs", points([f"The liver, note {i}." for i in range(20)], start=100))
    after = {h.id: h.score for h in store.query("docs", None, 30, sparse=query)}
    assert after[before.id] < before.score * 0.8
    rare = store.query("docs", None, 1, sparse=BM25.encode_query("volcanoes"))[0]
    assert rare.payload["source_id"] == "doc4"


def test_sparse_only_collection_has_no_dense_vectors(store: VectorStore) -> None:
    info = store.ensure_collection("terms", 0, {"bm25": Bm25Params().to_metadata()}, sparse=True)
    assert (info.dim, info.modes, info.vectors) == (0, ("sparse",), ["sparse bm25 (IDF)"])
    store.upsert("terms", points(TEXTS, dense=False))
    assert store.query("terms", None, 1, sparse=BM25.encode_query("barn cats"))[0].payload["source_id"] == "doc2"
    with pytest.raises(IndexModeError, match="no dense vectors") as err:
        store.query("terms", unit_vectors(1)[0], 3)
    assert "--mode sparse" in str(err.value)
    with pytest.raises(InputError, match="dimension must be > 0"):
        store.ensure_collection("nothing", 0)


def test_a_dense_only_collection_names_mode_dense_and_the_reindex(store: VectorStore) -> None:
    store.ensure_collection("old", DIM)
    store.upsert("old", [StorePoint(p.id, p.vector, p.payload) for p in points(TEXTS[:3])])  # no sparse vectors
    assert store.info("old").modes == ("dense",)
    with pytest.raises(IndexModeError) as err:
        store.query("old", unit_vectors(1)[0], 3, sparse=BM25.encode_query("liver"))
    message = str(err.value)
    assert "no BM25 sparse vectors" in message and "--mode dense" in message and "index build" in message
    assert len(store.query("old", unit_vectors(1)[0], 3)) == 3  # dense search still works


def test_an_edge_index_from_before_sparse_vectors_still_opens(tmp_path: Path) -> None:
    store = open_store(f"edge:{tmp_path / 'idx'}")
    store.ensure_collection("docs", DIM, {"embedder": "m@1"})
    store.upsert("docs", [StorePoint(p.id, p.vector, p.payload) for p in points(TEXTS)])
    store.close()
    description = tmp_path / "idx" / "docs" / "collection.json"
    old = json.loads(description.read_text())
    del old["sparse"]  # as written by promptkit before this key existed
    description.write_text(json.dumps(old))
    again = open_store(f"edge:{tmp_path / 'idx'}")
    try:
        assert again.info("docs").modes == ("dense",) and again.count("docs") == len(TEXTS)
        with pytest.raises(IndexModeError, match="--mode dense"):
            again.query("docs", None, 3, sparse=BM25.encode_query("liver"))
    finally:
        again.close()


def test_every_engine_ranks_sparse_and_dbsf_alike(tmp_path: Path) -> None:
    texts = [
        f"{word} passage about {other} and {word}s"
        for word in ("cell", "gene", "tissue", "liver")
        for other in ("blood", "stem", "bone")
    ]
    ranked: dict[str, list[list[str]]] = {}
    queries = ["cell blood", "stem genes", "liver bone tissue"]
    for engine in ENGINES:
        store = make_store(engine, tmp_path)
        store.ensure_collection("docs", DIM, sparse=True)
        data = points(texts)
        store.upsert("docs", data)
        ranked[engine] = [[h.id for h in store.query("docs", None, 5, sparse=BM25.encode_query(q))] for q in queries]
        ranked[engine] += [
            [h.id for h in store.query("docs", data[i].vector, 5, sparse=BM25.encode_query(q), fusion="dbsf")]
            for i, q in enumerate(queries)
        ]
        store.close()
    assert ranked["memory"] == ranked["edge"] == ranked["qdrant-local"]


# -- with the model: titles, build modes, the Retriever and the programs -------------------------------

CITIES = [
    Passage(
        text="A disease caused by a lack of vitamin C; sailors on long voyages suffered it.",
        title="Scurvy",
        source_id="scurvy",
    ),
    Passage(text="Madrid is the capital of Spain and its largest city.", title="Madrid", source_id="madrid"),
    Passage(text="Rome is the capital city of Italy, founded in 753 BC.", title="Rome", source_id="rome"),
]


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    return Embedder(cache=tmp_path_factory.mktemp("cache") / "embeddings.sqlite", progress=False)


def test_titles_are_embedded_and_the_cache_keys_on_what_was_embedded(embedder: Embedder) -> None:
    spec = f"memory:{uuid.uuid4().hex}"
    build_index(CITIES, "cities", store=spec, embedder=embedder)
    info = index_info("cities", store=spec)
    assert info.metadata["embed_template"] == "{title} {text}" and info.modes == ("dense", "sparse", "hybrid")
    cached = embedder.cache.get_many(embedder.identity, [p.embedding_text() for p in CITIES])  # type: ignore[union-attr]
    assert len(cached) == 3 and CITIES[0].embedding_text().startswith("Scurvy A disease")
    # Only the title names the disease: dense and BM25 both find it through the title.
    for mode in ("dense", "sparse", "hybrid"):
        assert Retriever(spec, embedder, "cities", k=1, mode=mode)("scurvy")[0].source_id == "scurvy"
    text_only = Retriever(spec, embedder, "cities", k=3, mode="dense")
    build_index(CITIES, "plain", store=spec, embedder=embedder, embed_template="{text}")
    plain = Retriever(spec, embedder, "plain", k=3, mode="dense")
    assert plain("scurvy")[0].score < text_only("scurvy")[0].score  # type: ignore[operator]
    with pytest.raises(DataError, match=r"embeds passages as '\{text\}'"):
        build_index(CITIES, "plain", store=spec, embedder=embedder, embed_template="{title}: {text}")
    with pytest.raises(InputError, match="unknown or decorated field"):
        build_index(CITIES, "other", store=spec, embedder=embedder, embed_template="{body}")


def test_a_collection_built_before_titles_keeps_embedding_text_alone(embedder: Embedder) -> None:
    spec = f"memory:{uuid.uuid4().hex}"
    store = open_store(spec)
    store.ensure_collection("old", embedder.dim, {"embedder": embedder.identity})  # as promptkit wrote it before
    report = build_index(CITIES, "old", store=spec, embedder=embedder)  # no mode: what the collection holds
    assert report.vectors == ("dense 384-d cosine",) and report.total == 3
    hit = Retriever(spec, embedder, "old", k=1)(CITIES[1].text)[0]
    assert hit.source_id == "madrid" and hit.score == pytest.approx(1.0, abs=1e-4)  # the text alone was embedded
    with pytest.raises(IndexModeError, match="--mode dense") as err:
        build_index(CITIES, "old", store=spec, embedder=embedder, mode="hybrid")
    assert "index drop --collection old" in str(err.value)
    with pytest.raises(IndexModeError, match="--mode dense"):
        Retriever(spec, embedder, "old", mode="sparse")("capital")


def test_a_sparse_only_index_needs_no_embedder() -> None:
    spec = f"memory:{uuid.uuid4().hex}"
    report = build_index(CITIES, "terms", store=spec, mode="sparse")
    assert (report.encoded, report.embedder, report.vectors) == (0, "", ("sparse bm25 (IDF)",))
    assert index_info("terms", store=spec).metadata["bm25"]["avg_len"] == pytest.approx(
        mean_length([p.embedding_text() for p in CITIES])
    )
    retriever = Retriever(spec, collection="terms", k=2)
    assert retriever.resolved_mode == "sparse" and retriever("capital of Italy")[0].source_id == "rome"
    with pytest.raises(IndexModeError, match="--mode sparse"):
        retriever("capital", mode="hybrid")


def test_rag_programs_pass_the_mode_to_a_promptkit_retriever(embedder: Embedder) -> None:
    spec = f"memory:{uuid.uuid4().hex}"
    build_index(CITIES, "cities", store=spec, embedder=embedder)
    retriever = Retriever(spec, embedder, "cities", k=2)
    assert retriever.resolved_mode == "hybrid" and retriever.fusion == "dbsf"
    with dspy.context(lm=DummyLM([{"answer": "Madrid"}])):
        sparse = RAG(retriever, k=1, chain_of_thought=False, mode="sparse")(question="capital of Spain")
    assert sparse.passages[0].source_id == "madrid"
    assert sparse.passages[0].score == Retriever(spec, embedder, "cities", mode="sparse")("capital of Spain")[0].score
    hops = MultiHopRAG(retriever, passages_per_hop=1, max_hops=1, chain_of_thought=False, mode="dense", fusion="rrf")
    assert hops.search == {"mode": "dense", "fusion": "rrf"}
    with pytest.raises(ConfigError, match="needs a promptkit Retriever"):
        RAG(lambda query, k: ["text"], mode="dense")(question="q")
    with pytest.raises(InputError, match="unknown search mode"):
        RAG(retriever, mode="keyword")  # type: ignore[arg-type]
