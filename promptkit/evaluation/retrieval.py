"""Retrieval evaluation: nDCG@k, recall@k and MRR@k of an index on a BEIR-format query set.

    from promptkit.evaluation.retrieval import evaluate_retrieval
    result = evaluate_retrieval(".promptkit/index", "scifact", queries="scifact/queries.jsonl",
                                qrels="scifact/qrels/test.tsv", k=10, out="runs/scifact")
    result.scores   # {"ndcg@10": ..., "recall@10": ..., "mrr@10": ...}

An index stores passages under content-hash ids and keeps the corpus id (BEIR ``_id``) as
``Passage.source_id``, so rankings are scored as lists of source ids. A chunked document is
represented by its best chunk, and more passages are fetched until ``k`` distinct documents are ranked.

Queries without a relevant judgement are skipped and counted (never scored 0: that would hide a
mismatch between the query and qrels files). ``out/retrieval.json`` holds the summary and one row
per query, written atomically.
"""

from __future__ import annotations

import datetime
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptkit.errors import DataError, InputError
from promptkit.evaluation.metrics.retrieval import mrr, ndcg_at_k, recall_at_k
from promptkit.evaluation.results import atomic_write_json, versions
from promptkit.evaluation.retrieval_data import Qrels, Queries, load_qrels, load_queries
from promptkit.evaluation.summary import bootstrap_ci

if TYPE_CHECKING:
    from promptkit.retrieval import Embedder, Retriever
    from promptkit.retrieval.modes import Fusion, Mode
    from promptkit.retrieval.stores import VectorStore

RESULT_FILE = "retrieval.json"
# A chunked document can fill a top-k with its own chunks: fetch up to this many times k passages
# to rank k distinct documents, then stop (a ranking shorter than k only lowers recall, honestly).
MAX_OVERFETCH = 16
# Judged ids are checked against the index in batches (one filtered query each).
_ID_CHECK_BATCH = 1000


@dataclass(frozen=True)
class QueryRow:
    """One evaluated query: what was retrieved (source ids, best first, with scores) and its metrics."""

    query_id: str
    text: str
    retrieved: list[tuple[str, float]]
    relevant: dict[str, float]
    scores: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "query_id": self.query_id,
            "query": self.text,
            **self.scores,
            "retrieved": [{"id": doc, "score": score} for doc, score in self.retrieved],
            "relevant": self.relevant,
        }


@dataclass
class RetrievalResult:
    """Means over the evaluated queries (``scores``), per-query ``rows``, and what was not evaluated."""

    k: int
    scores: dict[str, float]
    rows: list[QueryRow]
    collection: str
    skipped: list[str] = field(default_factory=list)  # queries without a relevant judgement
    missing: list[str] = field(default_factory=list)  # judged query ids absent from the queries
    store: str = ""
    engine: str = ""
    embedder: str = ""
    mode: str = ""  # dense, sparse or hybrid (with its fusion)
    seconds: float = 0.0
    path: Path | None = None  # the saved retrieval.json, when ``out`` was given

    def summary(self) -> dict[str, Any]:
        per_metric = {name: [row.scores[name] for row in self.rows] for name in self.scores}
        return {
            "collection": self.collection,
            "store": self.store,
            "engine": self.engine,
            "embedder": self.embedder,
            "mode": self.mode,
            "k": self.k,
            "scores": dict(self.scores),
            "ci95": {name: bootstrap_ci(values) for name, values in per_metric.items()},
            "queries": len(self.rows),
            "skipped": len(self.skipped),
            "missing": len(self.missing),
            "seconds": round(self.seconds, 3),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "skipped_ids": self.skipped,
            "missing_ids": self.missing,
            "rows": [row.to_dict() for row in self.rows],
        }


def metric_names(k: int) -> tuple[str, str, str]:
    return f"ndcg@{k}", f"recall@{k}", f"mrr@{k}"


def score_ranking(ranked: Sequence[str], relevance: Mapping[str, float], k: int) -> dict[str, float]:
    """nDCG@k, recall@k and MRR@k of one ranking (the same functions every retrieval metric uses)."""
    ndcg, recall, rr = metric_names(k)
    return {
        ndcg: ndcg_at_k(ranked, relevance, k),
        recall: recall_at_k(ranked, relevance, k),
        rr: mrr(ranked, relevance, k),
    }


# ---------------------------------------------------------------------------------------------
# inputs


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InputError(f"k must be a positive whole number, got {k!r}", hint="use e.g. --k 10")
    return k


# ---------------------------------------------------------------------------------------------
# the index


def _safe_location(location: str) -> str:
    """The store location without credentials (a server URL may carry a user:password or an api key)."""
    if not location.startswith(("http://", "https://")):
        return location
    parts = urllib.parse.urlsplit(location)
    host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def _open_retriever(
    target: Retriever | VectorStore | str | Path,
    collection: str | None,
    embedder: Embedder | None,
    k: int,
    mode: Mode | None,
    fusion: Fusion | None,
) -> tuple[Retriever, VectorStore | None]:
    """The retriever to evaluate, and the store to close afterwards (None when the caller owns it)."""
    from promptkit.retrieval import Embedder, Retriever, open_store

    search_filter = None
    if isinstance(target, Retriever):
        collection = collection or target.collection
        if collection == target.collection and embedder is None and mode is None and fusion is None:
            target.store.require(collection)
            return target, None
        mode, fusion = mode or target.mode, fusion or target.fusion
        embedder, search_filter, target = embedder or target.embedder, target.filter, target.store
    if collection is None:
        raise InputError("no collection named", hint="pass the collection to evaluate (CLI: --collection NAME)")
    # create=False: a mistyped index path is an error, not a new empty index.
    store = open_store(target, create=False)
    owned = None if store is target else store
    try:
        store.require(collection)
        if embedder is None:
            # Embed queries with the model the collection was built with (recorded as name@fingerprint).
            built_with = store.info(collection).embedder
            embedder = Embedder(built_with.rpartition("@")[0] if built_with else None)
        retriever = Retriever(
            store, embedder, collection, k, filter=search_filter, mode=mode, **({"fusion": fusion} if fusion else {})
        )
        retriever.resolved_mode  # noqa: B018 - checks now that the collection can serve the mode
        return retriever, owned
    except BaseException:
        if owned is not None:
            owned.close()
        raise


def _check_ids_known(retriever: Retriever, qrels: Qrels, where: str) -> None:
    """Fail when no judged document is in the collection: every score would be 0, for a reason a user can fix."""
    judged = sorted({doc for grades in qrels.values() for doc, grade in grades.items() if grade > 0})
    store, name = retriever.store, retriever.collection
    for start in range(0, len(judged), _ID_CHECK_BATCH):
        if store.count_matching(name, {"source_id": judged[start : start + _ID_CHECK_BATCH]}):
            return
    shown = ", ".join(repr(doc) for doc in judged[:3]) + (" ..." if len(judged) > 3 else "")
    raise DataError(
        f"none of the {len(judged)} judged document ids ({shown}) is in collection {name!r}",
        path=where,
        hint="evaluate against the collection built from this dataset's corpus.jsonl (promptkit index build "
        "CORPUS --collection NAME): its '_id's are the ids the qrels refer to",
    )


def rank_documents(retriever: Retriever, query: str, k: int) -> list[tuple[str, float]]:
    """The ``k`` best distinct documents (source ids, best chunk's score), fetching more passages if chunks repeat.

    Equal scores (duplicate texts in a corpus embed identically) are ordered by id, so the ranking does
    not depend on an engine's internal order; one extra hit is fetched so a tie at the cut-off is too.
    """
    fetch = k + 1
    while True:
        passages = retriever.search(query, fetch)
        ranked: dict[str, float] = {}
        for passage in sorted(passages, key=lambda p: (-(p.score or 0.0), p.source_id or p.id)):
            ranked.setdefault(passage.source_id or passage.id, float(passage.score or 0.0))
        if len(ranked) >= k or len(passages) < fetch or fetch >= k * MAX_OVERFETCH:
            return list(ranked.items())[:k]
        fetch = min(fetch * 4, k * MAX_OVERFETCH)


# ---------------------------------------------------------------------------------------------
# the evaluation


def evaluate_retrieval(
    retriever_or_store: Retriever | VectorStore | str | Path,
    collection: str | None = None,
    *,
    queries: str | Path | Queries,
    qrels: str | Path | Qrels,
    k: int = 10,
    out: str | Path | None = None,
    embedder: Embedder | None = None,
    mode: Mode | None = None,
    fusion: Fusion | None = None,
) -> RetrievalResult:
    """Score the top-``k`` of every judged query; save ``out/retrieval.json`` when ``out`` is given.

    ``retriever_or_store``: a ``Retriever``, or a store (spec, path or ``VectorStore``) plus ``collection``.
    ``embedder`` defaults to the model the collection was built with; ``mode`` to the best the collection
    holds (hybrid where it has dense and BM25 vectors), ``fusion`` to rrf.
    """
    started = time.perf_counter()
    _check_k(k)
    query_texts = load_queries(queries)
    judgements = load_qrels(qrels)
    queries_where = "the queries given" if isinstance(queries, Mapping) else str(queries)
    qrels_where = "the qrels given" if isinstance(qrels, Mapping) else str(qrels)
    relevant = {qid: {d: g for d, g in judgements.get(qid, {}).items() if g > 0} for qid in query_texts}
    judged = [qid for qid in query_texts if relevant[qid]]
    if not judged:
        raise DataError(
            f"no query in {queries_where} has a relevant judgement in {qrels_where}",
            path=qrels_where if not isinstance(qrels, Mapping) else None,
            hint="check that the queries and qrels files belong to the same dataset (their query ids must match)",
        )
    retriever, owned = _open_retriever(retriever_or_store, collection, embedder, k, mode, fusion)
    try:
        _check_ids_known(retriever, judgements, qrels_where)
        rows = []
        for qid in judged:
            retrieved = rank_documents(retriever, query_texts[qid], k)
            scores = score_ranking([doc for doc, _ in retrieved], relevant[qid], k)
            rows.append(QueryRow(qid, query_texts[qid], retrieved, relevant[qid], scores))
        result = RetrievalResult(
            k=k,
            scores={name: sum(row.scores[name] for row in rows) / len(rows) for name in metric_names(k)},
            rows=rows,
            collection=retriever.collection,
            skipped=[qid for qid in query_texts if not relevant[qid]],
            missing=sorted(set(judgements) - set(query_texts)),
            store=_safe_location(retriever.store.location),
            engine=retriever.store.engine,
            embedder=retriever.embedder.identity if retriever.resolved_mode != "sparse" else "",
            mode=_mode_label(retriever),
        )
    finally:
        if owned is not None:
            owned.close()
    result.seconds = time.perf_counter() - started
    if out is not None:
        result.path = save_result(result, Path(out), queries=queries_where, qrels=qrels_where)
    return result


def _mode_label(retriever: Retriever) -> str:
    mode = retriever.resolved_mode
    return f"{mode} ({retriever.fusion})" if mode == "hybrid" else mode


def save_result(result: RetrievalResult, out: Path, *, queries: str, qrels: str) -> Path:
    """Write ``out/retrieval.json`` atomically (readers see the old file or the new one, never half)."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a folder", hint="pass a folder for the results")
    path = out / RESULT_FILE
    data = {
        **result.to_dict(),
        "queries_file": queries,
        "qrels_file": qrels,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **versions(),
    }
    atomic_write_json(path, data)
    return path
