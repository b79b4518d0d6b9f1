"""Hybrid vs dense-only query latency on the in-process Qdrant engine (edge), in one run.

Builds one collection of N points (default 100,000) holding both vectors: random normalized 384-d
dense vectors (all-MiniLM-L6-v2's size) and BM25 sparse vectors of synthetic passages (60 words drawn
from a Zipf-distributed vocabulary of 20,000 made-up words, so term frequencies look like text's).
After ``optimize()`` (HNSW + sparse index), it times top-10 queries through ``VectorStore.query``:
dense only, BM25 only, hybrid with RRF and with DBSF, interleaved per query (the order rotating)
so drift hits every mode alike. Hybrid timings include BM25-encoding the query text; the dense query embedding is
excluded everywhere (it costs the same in both modes). The figure that matters is the ratio
hybrid p50 / dense p50 (issue target: at most 2).

    .venv/bin/python benchmarks/bench_hybrid_latency.py               # 100k points, ~3 min on 2 cores
    .venv/bin/python benchmarks/bench_hybrid_latency.py --points 10000 --queries 100
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from promptkit.retrieval.bm25 import Bm25Encoder, Bm25Params  # noqa: E402 - after the path setup above
from promptkit.retrieval.stores import open_store  # noqa: E402
from promptkit.retrieval.stores.base import StorePoint, VectorStore  # noqa: E402

DIM = 384
BATCH = 1000
VOCABULARY = 20_000
WORDS = 60


def make_words(rng: np.random.Generator) -> np.ndarray:
    letters = np.array(list("bcdfgklmnprstvz"))
    vowels = np.array(list("aeiou"))
    # Syllable-built words: the stemmer and stopword list leave nearly all of them whole.
    return np.array(
        ["".join(rng.choice(letters) + rng.choice(vowels) for _ in range(3)) + "x" for _ in range(VOCABULARY)]
    )


def sample_texts(words: np.ndarray, n: int, length: int, rng: np.random.Generator) -> list[str]:
    ranks = np.minimum(rng.zipf(1.2, size=(n, length)), VOCABULARY) - 1
    return [" ".join(words[row]) for row in ranks]


def unit_vectors(n: int, rng: np.random.Generator) -> np.ndarray:
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def build(store: VectorStore, n: int, encoder: Bm25Encoder, words: np.ndarray, rng: np.random.Generator) -> float:
    store.ensure_collection("bench", DIM, {"bm25": encoder.params.to_metadata()}, sparse=True)
    started = time.perf_counter()
    for start in range(0, n, BATCH):
        count = min(BATCH, n - start)
        texts = sample_texts(words, count, WORDS, rng)
        vectors = unit_vectors(count, rng)
        sparse = encoder.encode_documents(texts)
        store.upsert(
            "bench",
            [
                StorePoint(str(uuid.UUID(int=start + i + 1)), vectors[i], {"text": texts[i]}, sparse[i])
                for i in range(count)
            ],
        )
    store.optimize("bench")
    store.flush()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    words = make_words(rng)
    encoder = Bm25Encoder(Bm25Params(avg_len=WORDS))
    with tempfile.TemporaryDirectory(prefix="bench-hybrid-") as temp:
        store = open_store(f"edge:{Path(temp) / 'index'}")
        seconds = build(store, args.points, encoder, words, rng)
        vectors = unit_vectors(args.queries, rng)
        texts = sample_texts(words, args.queries, 4, rng)
        modes: dict[str, Callable[[int], object]] = {
            "dense": lambda i: store.query("bench", vectors[i], 10),
            "sparse (BM25)": lambda i: store.query("bench", None, 10, sparse=encoder.encode_query(texts[i])),
            "hybrid, RRF": lambda i: store.query(
                "bench", vectors[i], 10, sparse=encoder.encode_query(texts[i]), fusion="rrf"
            ),
            "hybrid, DBSF": lambda i: store.query(
                "bench", vectors[i], 10, sparse=encoder.encode_query(texts[i]), fusion="dbsf"
            ),
        }
        samples: dict[str, list[float]] = {name: [] for name in modes}
        for i in range(min(10, args.queries)):  # warm-up
            for run in modes.values():
                run(i)
        names = list(modes)
        for i in range(args.queries):
            for name in names[i % len(names) :] + names[: i % len(names)]:  # each mode takes each turn
                started = time.perf_counter()
                modes[name](i)
                samples[name].append((time.perf_counter() - started) * 1000)
        store.close()
    dense_p50 = float(np.percentile(samples["dense"], 50))
    command = shlex.join([".venv/bin/python", "benchmarks/bench_hybrid_latency.py", *sys.argv[1:]])
    print(
        f"`{command}` — edge engine, {args.points:,} points (384-d dense + BM25 sparse), built and optimized "
        f"in {seconds:.0f} s; {args.queries} top-10 queries per mode, interleaved\n"
    )
    print("| mode | p50 ms | p95 ms | p50 / dense p50 |")
    print("|---|---|---|---|")
    for name, values in samples.items():
        p50, p95 = np.percentile(values, 50), np.percentile(values, 95)
        print(f"| {name} | {p50:.2f} | {p95:.2f} | {p50 / dense_p50:.2f} |")
    worst = max(np.percentile(samples[m], 50) for m in ("hybrid, RRF", "hybrid, DBSF")) / dense_p50
    print(f"\nhybrid p50 / dense p50 (worst fusion): {worst:.2f} (target <= 2)")
    return 0 if worst <= 2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
