"""Indexing benchmark: passages/s through promptkit's ``build_index`` vs raw ``SentenceTransformer.encode``.

Same process, same model (the bundled all-MiniLM-L6-v2), same texts, same batch size. Runs are paired
and alternate (raw then promptkit, then promptkit then raw, ...); the headline ratio is the median of the
per-round ratios, so a burst of background load during one run does not decide the result.
promptkit's run is a full index build into a fresh persisted (edge) index with a cold embedding cache:
hashing, cache writes, point ids and upserts included. A re-index of the same passages (warm cache) is
timed too. Peak resident memory is sampled during each phase.

The texts are synthetic passages (40-120 words) assembled from the project's example corpora.

    python benchmarks/bench_indexing.py                  # 300 passages x 6 rounds (~3-6 min on 2 cores)
    python benchmarks/bench_indexing.py --passages 300 --rounds 1 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from promptkit.retrieval import Embedder, Passage, build_index  # noqa: E402 - after the path setup above

BATCH_SIZE = 64


def synthetic_passages(count: int, seed: int = 7) -> list[Passage]:
    sentences: list[str] = []
    for name in ("bioasq_passages.jsonl", "phone_reviews.jsonl"):
        for line in (ROOT / "examples" / "data" / name).read_text(encoding="utf-8").splitlines():
            text = json.loads(line)["text"].replace("\n", " ")
            sentences += [s.strip() + "." for s in text.split(".") if len(s.split()) > 3]
    rng = random.Random(seed)
    passages = []
    for i in range(count):
        words: list[str] = []
        target = rng.randint(40, 120)
        while len(words) < target:
            words += rng.choice(sentences).split()
        passages.append(Passage(text=" ".join(words[:target]), source_id=f"synthetic-{i}"))
    return passages


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def peak_memory(result: dict[str, float]) -> Iterator[None]:
    """Sample resident memory every 20 ms while the block runs; store the peak in result['peak']."""
    stop = threading.Event()
    result["peak"] = rss_mib()

    def sample() -> None:
        while not stop.wait(0.02):
            result["peak"] = max(result["peak"], rss_mib())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        result["peak"] = max(result["peak"], rss_mib())


def timed(run: Callable[[], Any]) -> tuple[float, float]:
    memory: dict[str, float] = {}
    with peak_memory(memory):
        started = time.perf_counter()
        run()
        elapsed = time.perf_counter() - started
    return elapsed, memory["peak"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=6, help="paired raw/promptkit rounds, alternating order")
    parser.add_argument("--threads", type=int, help="torch intra-op threads for both sides (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    passages = synthetic_passages(args.passages)
    texts = [p.text for p in passages]
    work = Path(tempfile.mkdtemp(prefix="bench-indexing-"))
    baseline_rss = rss_mib()
    embedder = Embedder(cache=False)
    model = embedder.model  # load once, outside the timings (both sides share it)
    model.encode(texts[:8], batch_size=BATCH_SIZE)  # warm-up
    raw_times, pk_times, raw_peaks, pk_peaks = [], [], [], []
    reindex: tuple[float, float] = (0.0, 0.0)
    try:
        for round_number in range(args.rounds):
            cached = Embedder(cache=work / f"cache-{round_number}.sqlite", batch_size=BATCH_SIZE, progress=False)
            spec = f"edge:{work / f'index-{round_number}'}"

            def raw_run() -> None:
                elapsed, peak = timed(
                    lambda: model.encode(
                        texts,
                        batch_size=BATCH_SIZE,
                        normalize_embeddings=True,
                        convert_to_numpy=True,
                        show_progress_bar=False,
                    )
                )
                raw_times.append(elapsed)
                raw_peaks.append(peak)

            def promptkit_run() -> None:
                elapsed, peak = timed(
                    lambda: build_index(
                        passages,
                        "bench",
                        store=spec,  # noqa: B023
                        embedder=cached,  # noqa: B023
                    )
                )
                pk_times.append(elapsed)
                pk_peaks.append(peak)

            for run in (raw_run, promptkit_run) if round_number % 2 == 0 else (promptkit_run, raw_run):
                run()
            print(
                f"round {round_number + 1}: raw {len(texts) / raw_times[-1]:.1f} passages/s, "
                f"promptkit {len(texts) / pk_times[-1]:.1f} passages/s",
                file=sys.stderr,
            )
            if round_number == 0:
                reindex = timed(lambda: build_index(passages, "bench", store=spec, embedder=cached))  # noqa: B023
    finally:
        shutil.rmtree(work, ignore_errors=True)

    raw_rate, pk_rate = len(texts) / min(raw_times), len(texts) / min(pk_times)
    ratios = [raw / pk for raw, pk in zip(raw_times, pk_times, strict=True)]
    median_ratio = float(np.median(ratios))
    import torch

    command = " ".join(["python", f"benchmarks/{Path(__file__).name}", *sys.argv[1:]])
    print(f"\nCommand: `{command}`")
    print(
        f"\n{len(texts):,} passages of 40-120 words, all-MiniLM-L6-v2 on CPU ({torch.get_num_threads()} torch "
        f"threads), batch size {BATCH_SIZE}, {args.rounds} paired rounds (rates: best round of each). "
        f"Process RSS before loading the model: {baseline_rss:.0f} MiB.\n"
    )
    print("| run | passages/s | ratio to raw | peak RSS (MiB) |")
    print("|---|---:|---:|---:|")
    print(f"| raw `SentenceTransformer.encode` | {raw_rate:.1f} | 1.00x | {max(raw_peaks):.0f} |")
    print(
        f"| promptkit `build_index` (cold cache, edge index) | {pk_rate:.1f} | {median_ratio:.2f}x (median) | "
        f"{max(pk_peaks):.0f} |"
    )
    print(
        f"| promptkit re-index, same passages (warm cache) | {len(texts) / reindex[0]:.1f} | "
        f"{len(texts) / reindex[0] / raw_rate:.1f}x | {reindex[1]:.0f} |"
    )
    print(
        f"\nPer-round promptkit / raw: {', '.join(f'{r:.2f}x' for r in ratios)}; "
        f"best-of rates: {pk_rate / raw_rate:.2f}x"
    )
    verdict = "meets" if median_ratio >= 0.95 else "misses"
    print(f"\npromptkit / raw = {median_ratio:.2f}x, median of paired rounds ({verdict} the >= 0.95x goal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
