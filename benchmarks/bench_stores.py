"""Persisted vector store benchmark: promptkit's default engine (Qdrant edge, in-process) vs qdrant-client's
local path mode, plus the in-memory engine for reference.

Measures, on random normalized 384-d vectors (all-MiniLM-L6-v2's size; the query embedding is excluded):
write throughput (upserts of 1,000 points with passage-like payloads, flushed), index build time,
top-10 query latency p50/p95 over 100 queries, and crash safety (a writer SIGKILLed mid-run: are all
acknowledged batches kept, and are batches atomic?). Prints a markdown table and the command.

    python benchmarks/bench_stores.py                    # 10k and 100k points (~5-8 min on 2 cores)
    python benchmarks/bench_stores.py --sizes 10000 --baseline-max 2000   # quick run
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from promptkit.retrieval.stores import open_store  # noqa: E402 - after the path setup above
from promptkit.retrieval.stores.base import StorePoint  # noqa: E402

DIM = 384
BATCH = 1000
QUERIES = 100


def unit_vectors(n: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def payload(i: int) -> dict[str, Any]:
    return {
        "text": f"passage number {i} " + "lorem ipsum " * 20,
        "title": f"doc {i // 10}",
        "source_id": f"doc{i // 10}",
        "metadata": {"lang": "en" if i % 2 else "fr"},
    }


def percentiles(samples: list[float]) -> tuple[float, float]:
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 95))


def time_queries(query: Callable[[np.ndarray], object]) -> tuple[float, float]:
    queries = unit_vectors(QUERIES + 5, seed=12345)
    for q in queries[:5]:  # warm-up
        query(q)
    samples = []
    for q in queries[5:]:
        started = time.perf_counter()
        query(q)
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def bench_promptkit(spec: str, n: int) -> dict[str, Any]:
    """Through promptkit's VectorStore interface (what build_index and Retriever use)."""
    store = open_store(spec)
    store.ensure_collection("bench", DIM)
    vectors = unit_vectors(n, seed=n)
    started = time.perf_counter()
    for start in range(0, n, BATCH):
        store.upsert(
            "bench",
            [
                StorePoint(str(uuid.UUID(int=i + 1)), vectors[i], payload(i))
                for i in range(start, min(n, start + BATCH))
            ],
        )
    store.flush()
    write_s = time.perf_counter() - started
    started = time.perf_counter()
    store.optimize("bench")
    optimize_s: float | None = time.perf_counter() - started
    if store.engine == "memory":
        optimize_s = None  # qdrant-client's local modes search by brute force: there is no index to build
    assert store.count("bench") == n
    p50, p95 = time_queries(lambda q: store.query("bench", q, 10))
    store.close()
    return {"write": n / write_s, "optimize_s": optimize_s, "p50": p50, "p95": p95}


def bench_qdrant_client_path(folder: Path, n: int) -> dict[str, Any]:
    """Raw qdrant-client path mode: the baseline the issue names."""
    from qdrant_client import QdrantClient
    from qdrant_client.http import models

    client = QdrantClient(path=str(folder))
    client.create_collection("bench", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE))
    vectors = unit_vectors(n, seed=n)
    started = time.perf_counter()
    for start in range(0, n, BATCH):
        client.upsert(
            "bench",
            points=[
                models.PointStruct(id=str(uuid.UUID(int=i + 1)), vector=vectors[i].tolist(), payload=payload(i))
                for i in range(start, min(n, start + BATCH))
            ],
        )
    write_s = time.perf_counter() - started
    p50, p95 = time_queries(lambda q: client.query_points("bench", query=q.tolist(), limit=10, with_payload=True))
    client.close()
    return {"write": n / write_s, "optimize_s": None, "p50": p50, "p95": p95}  # brute force: no index


CRASH_WRITER = """
import sys, uuid, numpy as np
sys.path.insert(0, sys.argv[2])
from promptkit.retrieval.stores import open_store
from promptkit.retrieval.stores.base import StorePoint
store = open_store(sys.argv[1])
store.ensure_collection("docs", 384)
rng = np.random.default_rng(0)
for batch in range(100_000):
    vectors = rng.standard_normal((1000, 384))
    store.upsert("docs", [StorePoint(str(uuid.uuid4()), v, {"batch": batch}) for v in vectors])
    print(batch + 1, flush=True)
"""


def crash_test(spec: str, min_batches: int = 3) -> str:
    """SIGKILL a writer in the middle of its writes; reopen and count what survived."""
    proc = subprocess.Popen([sys.executable, "-c", CRASH_WRITER, spec, str(ROOT)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    acknowledged, deadline, acked_at = 0, time.monotonic() + 300, [time.monotonic()]
    while acknowledged < min_batches and time.monotonic() < deadline:
        acknowledged = int(proc.stdout.readline() or 0)
        acked_at.append(time.monotonic())
    # Land the kill in the middle of the next batch: half the time a batch has been taking.
    time.sleep((acked_at[-1] - acked_at[1]) / max(1, len(acked_at) - 2) / 2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = open_store(spec)
    count = store.count("docs")
    store.close()
    kept = "all acknowledged kept" if count >= acknowledged * 1000 else f"LOST {acknowledged * 1000 - count}"
    atomic = "whole batches" if count % 1000 == 0 else f"partial batch ({count % 1000} of 1000 points)"
    return f"{kept}; {atomic}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated point counts")
    parser.add_argument(
        "--baseline-max",
        type=int,
        default=10000,
        help="largest size for the slow qdrant-client path baseline (it writes ~1k points/s)",
    )
    parser.add_argument("--memory-max", type=int, default=10000, help="largest size for the in-memory engine")
    parser.add_argument("--no-crash", action="store_true", help="skip the SIGKILL crash test")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench-stores-"))
    rows: list[tuple[str, int, dict[str, Any]]] = []
    try:
        for n in sizes:
            rows.append(("edge (promptkit default)", n, bench_promptkit(f"edge:{work / f'edge-{n}'}", n)))
            print(f"edge {n}: {rows[-1][2]}", file=sys.stderr)
            if n <= args.baseline_max:
                rows.append(("qdrant-client path (baseline)", n, bench_qdrant_client_path(work / f"path-{n}", n)))
                print(f"path {n}: {rows[-1][2]}", file=sys.stderr)
            if n <= args.memory_max:
                rows.append(("memory (qdrant-client :memory:)", n, bench_promptkit(f"memory:bench-{n}", n)))
                print(f"memory {n}: {rows[-1][2]}", file=sys.stderr)
        crash = {}
        if not args.no_crash:
            crash["edge (promptkit default)"] = crash_test(f"edge:{work / 'crash-edge'}")
            crash["qdrant-client path (baseline)"] = crash_test(f"qdrant-local:{work / 'crash-path'}")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    command = " ".join(["python", f"benchmarks/{Path(__file__).name}", *sys.argv[1:]])
    print(f"\nCommand: `{command}`" + "\n")
    print("| engine | points | write (points/s) | index build (s) | top-10 query p50 (ms) | p95 (ms) |")
    print("|---|---:|---:|---:|---:|---:|")
    for engine, n, r in rows:
        build = "none (brute force)" if r["optimize_s"] is None else f"{r['optimize_s']:.1f}"
        print(f"| {engine} | {n:,} | {r['write']:,.0f} | {build} | {r['p50']:.2f} | {r['p95']:.2f} |")
    skipped = [n for n in sizes if n > args.baseline_max]
    if skipped:
        print(
            f"\nqdrant-client path mode was not run at {', '.join(f'{n:,}' for n in skipped)} points: it writes "
            "~60 points/s at 10k and slows as the collection grows (raise --baseline-max to run it)."
        )
    baseline = {n: r["write"] for e, n, r in rows if e.startswith("qdrant-client path")}
    edge = {n: r["write"] for e, n, r in rows if e.startswith("edge")}
    for n in sorted(set(baseline) & set(edge)):
        print(
            f"\nWrite throughput at {n:,} points: edge / qdrant-client path = {edge[n] / baseline[n]:.1f}x "
            "(goal >= 50x)"
        )
    for n, r in ((n, r) for e, n, r in rows if e.startswith("edge")):
        verdict = "meets" if r["p50"] <= 5 else "misses"
        print(f"Edge top-10 p50 at {n:,} points: {r['p50']:.2f} ms ({verdict} the <= 5 ms goal at 100k)")
    if crash:
        print("\n| engine | SIGKILL during 1,000-point upserts |\n|---|---|")
        for engine, verdict in crash.items():
            print(f"| {engine} | {verdict} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
