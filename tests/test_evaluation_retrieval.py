"""Retrieval evaluation (nDCG@k, recall@k, MRR@k) with the real offline MiniLM and the real Qdrant engines.

The fixture is tests/fixtures/beir_small (15 passages, 7 queries: 5 judged, 2 without a relevant
judgement, plus a judged id that is not in the queries file).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from promptkit.errors import DataError, InputError
from promptkit.evaluation.metrics import mrr, ndcg_at_k, recall_at_k
from promptkit.evaluation.retrieval import RESULT_FILE, evaluate_retrieval
from promptkit.retrieval import CollectionNotFoundError, Embedder, Retriever, build_index, load_passages

pytestmark = pytest.mark.retrieval

ROOT = Path(__file__).resolve().parents[1]
BEIR = ROOT / "tests" / "fixtures" / "beir_small"
QUERIES = BEIR / "queries.jsonl"
QRELS = BEIR / "qrels" / "test.tsv"
JUDGED = ["q1", "q2", "q3", "q4", "q5"]


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    return Embedder(cache=tmp_path_factory.mktemp("cache") / "embeddings.sqlite")


@pytest.fixture(scope="module")
def edge_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> str:
    """A persisted (edge engine) index of the fixture corpus; build_index closes it, so subprocesses can open it."""
    path = str(tmp_path_factory.mktemp("edge") / "index")
    report = build_index(BEIR, "small", store=path, embedder=embedder)
    assert (report.engine, report.total) == ("edge", 15)
    return path


def test_scores_rows_skipped_queries_and_saved_file(edge_index: str, embedder: Embedder, tmp_path: Path) -> None:
    result = evaluate_retrieval(
        edge_index, "small", queries=QUERIES, qrels=QRELS, k=3, out=tmp_path / "run", embedder=embedder
    )
    assert set(result.scores) == {"ndcg@3", "recall@3", "mrr@3"}
    assert [row.query_id for row in result.rows] == JUDGED
    assert (result.skipped, result.missing) == (["q6", "q7"], ["q99"])  # no qrels / grade 0 only; not a query
    corpus_ids = {p.source_id for p in load_passages(BEIR)}
    for row in result.rows:
        ids = [doc for doc, _ in row.retrieved]
        assert len(ids) == 3 == len(set(ids)) and set(ids) <= corpus_ids  # scored on BEIR _ids, not point ids
        assert all(0.0 <= value <= 1.0 for value in row.scores.values())
    for name, mean in result.scores.items():
        assert 0.0 <= mean <= 1.0
        assert mean == pytest.approx(sum(row.scores[name] for row in result.rows) / len(result.rows))

    saved = json.loads((tmp_path / "run" / RESULT_FILE).read_text())
    assert result.path == tmp_path / "run" / RESULT_FILE
    assert saved["scores"] == result.scores and (saved["queries"], saved["skipped"], saved["missing"]) == (5, 2, 1)
    assert [row["query_id"] for row in saved["rows"]] == JUDGED
    assert saved["rows"][0]["retrieved"][0]["id"] == result.rows[0].retrieved[0][0]
    assert not list((tmp_path / "run").glob("*.tmp"))  # the atomic write left no temp file


def test_relevant_document_first_scores_one_and_lower_ranks_score_less(edge_index: str, embedder: Embedder) -> None:
    queries = {"q1": "At what temperature does water boil?"}
    first = evaluate_retrieval(edge_index, "small", queries=queries, qrels={"q1": {"d01": 1}}, k=5, embedder=embedder)
    row = first.rows[0]
    assert row.retrieved[0][0] == "d01"
    assert (row.scores["ndcg@5"], row.scores["recall@5"], row.scores["mrr@5"]) == (1.0, 1.0, 1.0)

    # Judge the document the index ranks second as the only relevant one: RR 1/2, nDCG 1/log2(3).
    second_id = row.retrieved[1][0]
    second = evaluate_retrieval(
        edge_index, "small", queries=queries, qrels={"q1": {second_id: 1}}, k=5, embedder=embedder
    )
    assert second.rows[0].retrieved == row.retrieved
    assert second.scores["mrr@5"] == pytest.approx(0.5)
    assert second.scores["ndcg@5"] == pytest.approx(1 / np.log2(3))
    assert second.scores["recall@5"] == 1.0
    at_one = evaluate_retrieval(
        edge_index, "small", queries=queries, qrels={"q1": {second_id: 1}}, k=1, embedder=embedder
    )
    assert at_one.scores == {"ndcg@1": 0.0, "recall@1": 0.0, "mrr@1": 0.0}  # outside the cut-off


def test_identical_to_a_numpy_cosine_baseline(edge_index: str, embedder: Embedder) -> None:
    k = 10
    result = evaluate_retrieval(edge_index, "small", queries=QUERIES, qrels=QRELS, k=k, embedder=embedder, mode="dense")

    passages = load_passages(BEIR)
    doc_ids = np.array([p.source_id for p in passages])
    doc_vectors = embedder.encode([p.embedding_text() for p in passages])  # title + text, as indexed
    queries = {json.loads(line)["_id"]: json.loads(line)["text"] for line in QUERIES.read_text().splitlines()}
    qrels: dict[str, dict[str, float]] = {}
    for line in QRELS.read_text().splitlines()[1:]:
        qid, doc, grade = line.split("\t")
        if int(grade) > 0:
            qrels.setdefault(qid, {})[doc] = float(grade)
    for row in result.rows:
        similarities = doc_vectors @ embedder.encode_query(queries[row.query_id])
        ranked = [str(doc) for doc in doc_ids[np.lexsort((doc_ids, -similarities))[:k]]]  # ties by id
        relevant = qrels[row.query_id]
        assert [doc for doc, _ in row.retrieved] == ranked
        best = sorted(similarities, reverse=True)[:k]
        assert [score for _, score in row.retrieved] == pytest.approx(best, abs=1e-5)
        assert row.scores == {
            f"ndcg@{k}": ndcg_at_k(ranked, relevant, k),
            f"recall@{k}": recall_at_k(ranked, relevant, k),
            f"mrr@{k}": mrr(ranked, relevant, k),
        }
    assert [row.query_id for row in result.rows] == [qid for qid in queries if qid in qrels]


def test_chunked_index_ranks_distinct_documents_through_a_retriever(embedder: Embedder) -> None:
    store = f"memory:{uuid.uuid4().hex}"
    report = build_index(BEIR, "chunks", store=store, embedder=embedder, chunk_size=4)
    assert report.chunks > 2 * report.kept  # several chunks per document
    retriever = Retriever(store, embedder, "chunks", k=2)
    result = evaluate_retrieval(retriever, queries=BEIR, qrels=BEIR, k=5)  # a BEIR folder for both
    assert [row.query_id for row in result.rows] == JUDGED
    for row in result.rows:
        ids = [doc for doc, _ in row.retrieved]
        assert len(ids) == 5 == len(set(ids))  # more passages fetched until 5 documents are ranked
        scores = [score for _, score in row.retrieved]
        assert scores == sorted(scores, reverse=True)  # each document at its best chunk's score
    assert 0.0 < result.scores["ndcg@5"] <= 1.0


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("case", "error", "names"),
    [
        ("missing queries file", DataError, "nope.jsonl"),
        ("qrels columns swapped", DataError, "swapped.tsv:1"),
        ("qrels not tab-separated", DataError, "trec.txt:1"),
        ("qrels grade not a number", DataError, "grade.tsv:3"),
        ("queries line without text", DataError, "queries.jsonl:2"),
        ("collection does not exist", CollectionNotFoundError, "nosuch"),
        ("qrels ids match no document", DataError, "unknown.tsv"),
        ("queries and qrels do not match", DataError, "no query"),
        ("k is zero", InputError, "k must be"),
    ],
)
def test_bad_input_raises_a_typed_error_naming_it(
    case: str, error: type[Exception], names: str, edge_index: str, embedder: Embedder, tmp_path: Path
) -> None:
    queries: Path | dict[str, str] = QUERIES
    qrels: Path | dict[str, dict[str, float]] = QRELS
    collection, k = "small", 10
    if case == "missing queries file":
        queries = tmp_path / "nope.jsonl"
    elif case == "qrels columns swapped":
        qrels = _write(tmp_path / "swapped.tsv", "corpus-id\tquery-id\tscore\nd01\tq1\t1\n")
    elif case == "qrels not tab-separated":
        qrels = _write(tmp_path / "trec.txt", "q1 0 d01 1\n")
    elif case == "qrels grade not a number":
        qrels = _write(tmp_path / "grade.tsv", "query-id\tcorpus-id\tscore\nq1\td01\t1\nq2\td12\thigh\n")
    elif case == "queries line without text":
        queries = _write(tmp_path / "queries.jsonl", '{"_id": "q1", "text": "boiling water"}\n{"_id": "q2"}\n')
    elif case == "collection does not exist":
        collection = "nosuch"
    elif case == "qrels ids match no document":
        qrels = _write(tmp_path / "unknown.tsv", "query-id\tcorpus-id\tscore\nq1\tdoc-404\t1\n")
    elif case == "queries and qrels do not match":
        queries = {"other-1": "boiling water"}
    else:
        k = 0
    with pytest.raises(error) as raised:
        evaluate_retrieval(edge_index, collection, queries=queries, qrels=qrels, k=k, embedder=embedder)
    assert names in str(raised.value) and "fix:" in str(raised.value)


# ---------------------------------------------------------------------------------------------
# the CLI, as a user runs it


def promptkit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    from promptkit.cli import COMMAND_MODULES

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PROMPTKIT_EMBED_CACHE": str(cwd / "embeddings.sqlite")}
    env.pop("PROMPTKIT_DEBUG", None)
    command = [sys.executable, "-m", "promptkit"]
    if "promptkit.cli.eval_retrieval_cmd" not in COMMAND_MODULES:
        # Until the command module is listed in promptkit.cli, importing it is what attaches `eval retrieval`.
        bootstrap = "import promptkit.cli.eval_retrieval_cmd; from promptkit.cli import main; main()"
        command = [sys.executable, "-c", bootstrap]
    return subprocess.run([*command, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


@pytest.mark.slow
def test_cli_builds_an_index_then_prints_and_saves_the_scores(tmp_path: Path, embedder: Embedder) -> None:
    built = promptkit("index", "build", str(BEIR), "--collection", "small", "--store", "index", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    run = promptkit(
        "eval",
        "retrieval",
        "--collection",
        "small",
        "--store",
        "index",
        "--queries",
        str(QUERIES),
        "--qrels",
        str(QRELS),
        "--k",
        "3",
        "--out",
        "run",
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    saved = json.loads((tmp_path / "run" / RESULT_FILE).read_text())
    for name in ("ndcg@3", "recall@3", "mrr@3"):
        assert name in run.stdout and f"{saved['scores'][name]:.4f}" in run.stdout
    assert "5 queries scored" in run.stdout and str(Path("run") / RESULT_FILE) in run.stdout
    in_process = evaluate_retrieval(
        str(tmp_path / "index"), "small", queries=QUERIES, qrels=QRELS, k=3, embedder=embedder
    )
    assert saved["scores"] == pytest.approx(in_process.scores, abs=1e-12)


@pytest.mark.parametrize(
    ("flags", "names"),
    [
        (["--queries", "nope.jsonl"], "nope.jsonl"),
        (["--qrels", "swapped.tsv"], "swapped.tsv:1"),
        (["--collection", "nosuch"], "nosuch"),
        (["--qrels", "unknown.tsv"], "unknown.tsv"),
        (["--store", "no-index-here"], "no-index-here"),
    ],
)
def test_cli_bad_input_exits_2_without_a_traceback(
    flags: list[str], names: str, edge_index: str, tmp_path: Path
) -> None:
    _write(tmp_path / "swapped.tsv", "corpus-id\tquery-id\tscore\nd01\tq1\t1\n")
    _write(tmp_path / "unknown.tsv", "query-id\tcorpus-id\tscore\nq1\tdoc-404\t1\n")
    options = {"--collection": "small", "--store": edge_index, "--queries": str(QUERIES), "--qrels": str(QRELS)}
    options.update(zip(flags[::2], flags[1::2], strict=True))
    result = promptkit("eval", "retrieval", *[part for pair in options.items() for part in pair], cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert names in result.stderr and "fix:" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()  # nothing saved for a failed run


@pytest.mark.slow
def test_cli_scores_each_search_mode_like_the_library(edge_index: str, embedder: Embedder, tmp_path: Path) -> None:
    for mode, fusion in (("sparse", "dbsf"), ("hybrid", "rrf")):
        run = promptkit(
            "eval",
            "retrieval",
            "--collection",
            "small",
            "--store",
            edge_index,
            "--queries",
            str(QUERIES),
            "--qrels",
            str(QRELS),
            "--k",
            "3",
            "--out",
            f"run-{mode}",
            "--mode",
            mode,
            "--fusion",
            fusion,
            cwd=tmp_path,
        )
        assert run.returncode == 0, run.stderr
        saved = json.loads((tmp_path / f"run-{mode}" / RESULT_FILE).read_text())
        assert saved["mode"] == (mode if mode == "sparse" else f"hybrid ({fusion})")
        in_process = evaluate_retrieval(
            edge_index, "small", queries=QUERIES, qrels=QRELS, k=3, embedder=embedder, mode=mode, fusion=fusion
        )  # type: ignore[arg-type]
        assert saved["scores"] == pytest.approx(in_process.scores, abs=1e-12)
    bad = promptkit(
        "eval",
        "retrieval",
        "--collection",
        "small",
        "--store",
        edge_index,
        "--queries",
        str(QUERIES),
        "--qrels",
        str(QRELS),
        "--mode",
        "keyword",
        cwd=tmp_path,
    )
    assert bad.returncode == 2 and "unknown search mode 'keyword'" in bad.stderr and "Traceback" not in bad.stderr
