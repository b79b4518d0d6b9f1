"""Retrieval quality on HotPotQA in BEIR format: dense, BM25 and hybrid search, and a numpy cosine baseline.

Builds a BEIR set from the first N HotPotQA dev questions (their context paragraphs are the corpus,
the supporting-fact paragraphs are relevant; see benchmarks/data/build_hotpotqa_beir.py), indexes it
(title + text, dense and BM25 vectors) with ``build_index`` into a persisted (edge) store, and scores
every search mode with ``evaluate_retrieval`` at k: dense, sparse (BM25), hybrid with RRF and with DBSF.
The baseline ranks the same passages by numpy dot products of the *same* vectors (the embedder's
cache returns the very vectors that were indexed; queries go through the same ``encode_query``) and
scores with the same metric functions. Dense and the baseline should agree exactly: any difference
would be a bug in indexing, id mapping, the store's search or the evaluation.

    .venv/bin/python benchmarks/bench_retrieval_quality.py                 # 150 questions, 1,500 passages
    .venv/bin/python benchmarks/bench_retrieval_quality.py --questions 200 --k 10 --keep /tmp/hp

Exit code 1 when dense and the baseline disagree by more than 1e-9 on any query's metric.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks" / "data"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from build_hotpotqa_beir import DEFAULT_SOURCE, build  # noqa: E402 - after the path setup above

from promptkit.evaluation.retrieval import (  # noqa: E402
    RetrievalResult,
    evaluate_retrieval,
    load_qrels,
    load_queries,
    metric_names,
    score_ranking,
)
from promptkit.retrieval import Embedder, build_index, load_passages  # noqa: E402
from promptkit.retrieval.modes import Fusion, Mode  # noqa: E402

TOLERANCE = 1e-9
# (row label, mode, fusion): the first is the dense row the numpy baseline is compared with.
MODES: list[tuple[str, Mode, Fusion]] = [
    ("promptkit dense (build_index + evaluate_retrieval)", "dense", "rrf"),
    ("promptkit sparse: BM25 (Snowball, English stopwords, Qdrant IDF)", "sparse", "rrf"),
    ("promptkit hybrid, RRF fusion in Qdrant", "hybrid", "rrf"),
    ("promptkit hybrid, DBSF fusion in Qdrant", "hybrid", "dbsf"),
]


Baseline = dict[str, tuple[list[str], dict[str, float]]]  # query id -> (top-k source ids, metrics)


def numpy_baseline(beir: Path, embedder: Embedder, query_ids: list[str], k: int) -> Baseline:
    """Per query: the brute-force cosine top-k over the corpus (vectors are normalized) and its metrics."""
    passages = load_passages(beir)
    encoded_before = embedder.encoded_count
    vectors = embedder.encode([p.embedding_text() for p in passages])  # title + text, as indexed
    assert embedder.encoded_count == encoded_before, "baseline vectors must be the indexed ones (from the cache)"
    doc_ids = np.array([p.source_id for p in passages])
    queries, qrels = load_queries(beir / "queries.jsonl"), load_qrels(beir / "qrels" / "test.tsv")
    rows: Baseline = {}
    for qid in query_ids:
        similarities = vectors @ embedder.encode_query(queries[qid])
        top = np.lexsort((doc_ids, -similarities))[:k]  # best first; equal scores by id, as promptkit ranks them
        relevant = {doc: grade for doc, grade in qrels[qid].items() if grade > 0}
        ranking = [str(doc) for doc in doc_ids[top]]
        rows[qid] = (ranking, score_ranking(ranking, relevant, k))
    return rows


def compare(result: RetrievalResult, baseline: Baseline) -> tuple[dict[str, float], float, int]:
    """Baseline means, the largest per-query metric difference, and how many top-k rankings are identical."""
    names = metric_names(result.k)
    means = {name: float(np.mean([baseline[row.query_id][1][name] for row in result.rows])) for name in names}
    worst = max(abs(row.scores[name] - baseline[row.query_id][1][name]) for row in result.rows for name in names)
    same = sum([doc for doc, _ in row.retrieved] == baseline[row.query_id][0] for row in result.rows)
    return means, worst, same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=150, help="HotPotQA questions (10 paragraphs each)")
    parser.add_argument("--k", type=int, default=10, help="rank cut-off")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="HotPotQA JSONL")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it (default: temp)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as temp:
        work = args.keep or Path(temp)
        beir = work / "hotpotqa_beir"
        counts = build(args.source, beir, args.questions)
        # A cold cache of its own: the index build embeds every passage, as a user's first build does.
        embedder = Embedder(cache=work / "embeddings.sqlite", progress=False)

        started = time.perf_counter()
        report = build_index(beir, "hotpotqa", store=str(work / "index"), embedder=embedder)
        index_seconds = time.perf_counter() - started
        results: dict[str, RetrievalResult] = {}
        for label, mode, fusion in MODES:
            results[label] = evaluate_retrieval(
                str(work / "index"),
                "hotpotqa",
                queries=beir / "queries.jsonl",
                qrels=beir / "qrels" / "test.tsv",
                k=args.k,
                embedder=embedder,
                mode=mode,
                fusion=fusion,
                out=work / f"run-{mode}-{fusion}",
            )
        result = results[MODES[0][0]]
        started = time.perf_counter()
        baseline = numpy_baseline(beir, embedder, [row.query_id for row in result.rows], args.k)
        baseline_seconds = time.perf_counter() - started
        means, worst, same = compare(result, baseline)

    names = metric_names(args.k)
    command = shlex.join([".venv/bin/python", "benchmarks/bench_retrieval_quality.py", *sys.argv[1:]])
    print(
        f"`{command}` — HotPotQA dev, first {args.questions} questions: {counts['queries']} queries, "
        f"{counts['passages']} passages, {counts['judgements']} relevant judgements; "
        f"{report.embedder}, {report.engine} store\n"
    )
    print(f"| retriever | {' | '.join(names)} | queries |")
    print("|---|" + "---|" * (len(names) + 1))
    for label, row in results.items():
        print(f"| {label} | {' | '.join(f'{row.scores[n]:.4f}' for n in names)} | {len(row.rows)} |")
    print(f"| numpy cosine, same embeddings | {' | '.join(f'{means[n]:.4f}' for n in names)} | {len(result.rows)} |")
    ndcg = names[0]
    best_single = max(results[MODES[0][0]].scores[ndcg], results[MODES[1][0]].scores[ndcg])
    print(
        f"\nhybrid - max(dense, BM25) in {ndcg}: RRF {results[MODES[2][0]].scores[ndcg] - best_single:+.4f}, "
        f"DBSF {results[MODES[3][0]].scores[ndcg] - best_single:+.4f}"
    )
    print(
        f"\nmax |difference| over every query's metrics: {worst:.3g} · identical top-{args.k} rankings: "
        f"{same}/{len(result.rows)}"
    )
    print(
        f"index build {index_seconds:.1f} s ({counts['passages'] / index_seconds:.1f} passages/s, embedding "
        f"included) · evaluation {sum(r.seconds for r in results.values()):.1f} s for {len(results)} modes · "
        f"baseline {baseline_seconds:.1f} s"
    )
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    raise SystemExit(main())
