"""Embedder backends on one machine, in one run: indexing passages/s and nDCG@10 of torch, onnx and onnx-int8.

The set is the HotPotQA-derived BEIR set of bench_retrieval_quality.py (title + text, first N dev
questions). Each round indexes the whole corpus once per backend with ``build_index`` as a user runs it
(default hybrid mode: dense + BM25, a fresh persisted edge index and a cold embedding cache, so hashing,
cache writes and upserts are included), alternating the backend order between rounds; the headline ratio
is the median of the per-round ratios, so a burst of load from other jobs during one run does not decide
it. Model loading and the ONNX export (timed separately, into a fresh export folder) happen before the
rounds. Quality: ``evaluate_retrieval`` in dense mode (what the backend changes) and hybrid mode on each
backend's index, queries embedded by the same backend.

With ``--served``, the same corpus is also indexed once through a real OpenAI-compatible embedding server
on 127.0.0.1 (tests/servers/embeddings.py: the bundled MiniLM behind FastAPI) and scored the same way.

    nice -n 10 .venv/bin/python benchmarks/bench_embedder_backends.py               # 150 questions, 3 rounds
    nice -n 10 .venv/bin/python benchmarks/bench_embedder_backends.py --questions 50 --rounds 1 --served
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks" / "data"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from build_hotpotqa_beir import DEFAULT_SOURCE, build  # noqa: E402 - after the path setup above

from promptkit.evaluation.retrieval import evaluate_retrieval  # noqa: E402
from promptkit.retrieval import Embedder, build_index  # noqa: E402
from promptkit.retrieval.modes import Mode  # noqa: E402
from promptkit.retrieval.onnx_backend import Backend  # noqa: E402

BACKENDS: tuple[Backend, ...] = ("torch", "onnx", "onnx-int8")
BATCH_SIZE = 64


def index_once(beir: Path, work: Path, label: str, embedder: Embedder) -> tuple[float, str]:
    """Seconds to index the corpus into a fresh store; the store's path."""
    store = str(work / f"index-{label}")
    started = time.perf_counter()
    build_index(beir, "hotpotqa", store=store, embedder=embedder)
    return time.perf_counter() - started, store


def ndcg(beir: Path, work: Path, store: str, embedder: Embedder, mode: Mode, k: int) -> float:
    result = evaluate_retrieval(
        store,
        "hotpotqa",
        queries=beir / "queries.jsonl",
        qrels=beir / "qrels" / "test.tsv",
        k=k,
        embedder=embedder,
        mode=mode,
        out=work / f"run-{Path(store).name}-{mode}",
    )
    return result.scores[f"ndcg@{k}"]


def served_row(beir: Path, work: Path, passages: int, k: int) -> tuple[float, float, float]:
    """(passages/s, dense nDCG, hybrid nDCG) through a real embedding server on 127.0.0.1."""
    from tests.servers.embeddings import EmbeddingServer

    with EmbeddingServer() as server:
        embedder = Embedder(
            "openai/all-MiniLM-L6-v2",
            api_base=server.api_base,
            batch_size=BATCH_SIZE,
            cache=work / "cache-served.sqlite",
            progress=False,
        )
        seconds, store = index_once(beir, work, "served", embedder)
        return (
            passages / seconds,
            ndcg(beir, work, store, embedder, "dense", k),
            ndcg(beir, work, store, embedder, "hybrid", k),
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=150, help="HotPotQA questions (10 paragraphs each)")
    parser.add_argument("--rounds", type=int, default=3, help="indexing rounds per backend, alternating order")
    parser.add_argument("--k", type=int, default=10, help="rank cut-off")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="HotPotQA JSONL")
    parser.add_argument("--served", action="store_true", help="also index through a local embedding server")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-backends-") as temp:
        work = Path(temp)
        os.environ["PROMPTKIT_ONNX_CACHE"] = str(work / "onnx")  # a cold export folder: the first use is timed
        beir = work / "hotpotqa_beir"
        counts = build(args.source, beir, args.questions)
        passages = counts["passages"]
        prepare: dict[str, float] = {}
        for backend in BACKENDS:  # load the model and export the graphs outside the timed rounds
            started = time.perf_counter()
            Embedder(backend=backend, cache=False).encode(["warm-up"])
            prepare[backend] = time.perf_counter() - started
        rates: dict[str, list[float]] = {backend: [] for backend in BACKENDS}
        stores: dict[str, str] = {}
        for number in range(args.rounds):
            order = BACKENDS if number % 2 == 0 else tuple(reversed(BACKENDS))
            for backend in order:
                embedder = Embedder(
                    backend=backend,
                    batch_size=BATCH_SIZE,
                    progress=False,
                    cache=work / f"cache-{backend}-{number}.sqlite",
                )
                seconds, stores[backend] = index_once(beir, work, f"{backend}-{number}", embedder)
                rates[backend].append(passages / seconds)
            print(
                f"round {number + 1}: " + ", ".join(f"{b} {rates[b][-1]:.1f}" for b in BACKENDS) + " passages/s",
                file=sys.stderr,
            )
        quality = {
            backend: (
                ndcg(beir, work, stores[backend], Embedder(backend=backend, cache=False), "dense", args.k),
                ndcg(beir, work, stores[backend], Embedder(backend=backend, cache=False), "hybrid", args.k),
            )
            for backend in BACKENDS
        }
        served = served_row(beir, work, passages, args.k) if args.served else None

    command = shlex.join(
        ["nice", "-n", "10", ".venv/bin/python", "benchmarks/bench_embedder_backends.py", *sys.argv[1:]]
    )
    print(
        f"`{command}` — HotPotQA dev, first {args.questions} questions: {passages} passages (title + text), "
        f"{counts['queries']} queries; all-MiniLM-L6-v2 (bundled), batch {BATCH_SIZE}, {args.rounds} rounds, "
        f"build_index into an edge store (hybrid: dense + BM25), cold embedding cache\n"
    )
    print(
        f"| backend | passages/s (median of {args.rounds}) | × torch (median of per-round ratios) | "
        f"nDCG@{args.k} dense | Δ vs torch | nDCG@{args.k} hybrid | first use (load + export) |"
    )
    print("|---|---|---|---|---|---|---|")
    base_dense = quality["torch"][0]
    for backend in BACKENDS:
        ratio = statistics.median(r / t for r, t in zip(rates[backend], rates["torch"], strict=True))
        dense, hybrid = quality[backend]
        print(
            f"| {backend} | {statistics.median(rates[backend]):.1f} | {ratio:.2f}× | {dense:.4f} | "
            f"{dense - base_dense:+.4f} | {hybrid:.4f} | {prepare[backend]:.1f} s |"
        )
    if served is not None:
        rate, dense, hybrid = served
        print(
            f"| served: openai/all-MiniLM-L6-v2 at a local /v1/embeddings server (1 run) | {rate:.1f} | "
            f"{rate / statistics.median(rates['torch']):.2f}× | {dense:.4f} | {dense - base_dense:+.4f} | "
            f"{hybrid:.4f} | – |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
