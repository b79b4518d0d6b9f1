"""LiteLLM Router route: wall time of an evaluation against 1, 2 and 4 deployments, and the Router's per-call overhead.

Run: .venv/bin/python benchmarks/bench_router.py [--rows 1000] [--latency 0.1] [--cap 2] [--deployments 1,2,4]

1. Scaling: ``--rows`` rows of ``dspy.Predict`` through ``promptkit.evaluate`` on a Router group of N stub
   deployments. Each deployment is an OpenAI-compatible server in its own process that answers after a fixed
   ``--latency`` and serves at most ``--cap`` requests at once (more wait in its queue, like a llama.cpp or
   vLLM server at its batch limit). The cap is the server's, not the Router's: LiteLLM's own
   ``max_parallel_requests`` answers a call over the cap with a RateLimitError instead of queueing it.
   Threads = 2 x cap x N, so every deployment always has work queued; ``--strategy`` is the Router's
   routing_strategy. Ideal wall time = rows x latency / (cap x N);
   scaling efficiency = (T1 / TN) / N, target >= 0.8.
2. Overhead: ``--calls`` prompts sent one at a time to one zero-latency server, through the direct route
   (``promptkit.lm("openai/...", api_base=...)``) and through a one-deployment Router group, in 5 alternating
   rounds; the ratio of the median per-call times (and the client CPU per call). DSPy's cache is off in both.

Results go to stdout as a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dspy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from promptkit.adapter import TemplateAdapter
from promptkit.config import load_settings
from promptkit.evaluation import evaluate
from promptkit.lm import lm

REPLY = "[[ ## answer ## ]]\nok\n\n[[ ## completed ## ]]"


class CappedServer(ThreadingHTTPServer):
    daemon_threads = True
    latency = 0.1
    slots = threading.BoundedSemaphore(2)


class Handler(BaseHTTPRequestHandler):
    """Chat completions after a fixed latency, at most ``cap`` at once (the rest wait for a slot)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # the body must not wait for a delayed ACK (~40 ms would read as latency)
    server: CappedServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.slots:
            time.sleep(self.server.latency)
        reply = json.dumps(
            {
                "id": "bench",
                "object": "chat.completion",
                "created": 0,
                "model": "bench",
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": REPLY}}],
                "usage": {"prompt_tokens": 50, "completion_tokens": 5, "total_tokens": 55},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: Any) -> None:
        pass


def serve(latency: float, cap: int) -> None:
    """Child process: each deployment gets its own interpreter, so none competes for the runner's GIL."""
    server = CappedServer(("127.0.0.1", 0), Handler)
    server.latency = latency
    server.slots = threading.BoundedSemaphore(cap)
    print(server.server_address[1], flush=True)
    server.serve_forever()


class Deployment:
    def __init__(self, latency: float, cap: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(latency), str(cap)], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.base = f"http://127.0.0.1:{int(self.process.stdout.readline())}/v1"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def router_file(directory: Path, deployments: list[Deployment], strategy: str) -> Path:
    entries = "".join(
        f"  - model_name: bench\n    litellm_params: {{model: openai/bench, api_base: {d.base}, api_key: x}}\n"
        f"    model_info: {{id: dep{i}}}\n"
        for i, d in enumerate(deployments)
    )
    path = directory / f"router-{len(deployments)}.yaml"
    path.write_text(
        f"model_list:\n{entries}router_settings: {{num_retries: 0, routing_strategy: {strategy}}}\n", encoding="utf-8"
    )
    return path


def scaling(rows: int, latency: float, cap: int, counts: list[int], strategy: str, work: Path) -> list[dict[str, Any]]:
    data = [dspy.Example(question=f"question {i}", answer="ok").with_inputs("question") for i in range(rows)]
    program = dspy.Predict("question -> answer")
    measured = []
    for count in counts:
        deployments = [Deployment(latency, cap) for _ in range(count)]
        try:
            model = lm(
                "bench",
                router=router_file(work, deployments, strategy),
                cache=False,
                settings=load_settings(environ={}),
            )
            threads = 2 * cap * count
            with dspy.context(lm=model, adapter=TemplateAdapter()):
                program(question="warm-up")  # LiteLLM's import and the first connection, not measured
                started, cpu = time.perf_counter(), time.process_time()
                result = evaluate(
                    program,
                    data,
                    ["exact_match"],
                    num_threads=threads,
                    out=work / f"run-{count}",
                    progress=False,
                    report=False,
                )
                wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            assert result.summary["errors"] == 0 and result.scores["exact_match"] == 1.0, result.summary
            measured.append(
                {
                    "deployments": count,
                    "threads": threads,
                    "wall": wall,
                    "cpu_per_row": cpu / rows,
                    "ideal": rows * latency / (cap * count),
                    "split": result.summary["deployments"],
                }
            )
        finally:
            for deployment in deployments:
                deployment.stop()
    return measured


def overhead(calls: int, work: Path, rounds: int = 5) -> dict[str, float]:
    """Median over ``rounds`` alternating rounds of the mean per-call time (the machine is shared: medians)."""
    import statistics

    server = Deployment(0.0, 64)
    try:
        settings = load_settings(environ={})
        direct = lm("openai/bench", api_base=server.base, api_key="x", cache=False, settings=settings)
        routed = lm("bench", router=router_file(work, [server], "simple-shuffle"), cache=False, settings=settings)
        samples: dict[str, list[float]] = {"direct": [], "router": [], "direct_cpu": [], "router_cpu": []}
        for model in (direct, routed):
            for _ in range(20):
                model("warm-up")
        for _ in range(rounds):
            for name, model in (("direct", direct), ("router", routed)):
                cpu, started = time.process_time(), time.perf_counter()
                for i in range(calls):
                    model(f"say ok {i}")
                samples[name].append((time.perf_counter() - started) / calls)
                samples[f"{name}_cpu"].append((time.process_time() - cpu) / calls)
        return {name: statistics.median(values) for name, values in samples.items()}
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--cap", type=int, default=2)
    parser.add_argument("--deployments", default="1,2,4")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--strategy", default="least-busy")
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(float(args.serve[0]), int(args.serve[1]))
        return
    counts = [int(n) for n in args.deployments.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench_router_"))
    rows = scaling(args.rows, args.latency, args.cap, counts, args.strategy, work)
    base = rows[0]["wall"] * rows[0]["deployments"]
    print(
        f"\n{args.rows} rows, {args.latency * 1000:g} ms per request, at most {args.cap} at once per deployment, "
        f"routing_strategy {args.strategy}\n"
    )
    print(
        "| deployments | threads | wall time | ideal | vs ideal | scaling efficiency (T1/TN/N) "
        "| client CPU per row | rows per deployment |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        efficiency = base / row["wall"] / row["deployments"]
        split = ", ".join(f"{k} {v['rows']}" for k, v in row["split"].items())
        print(
            f"| {row['deployments']} | {row['threads']} | {row['wall']:.2f} s | {row['ideal']:.2f} s | "
            f"{row['wall'] / row['ideal']:.2f}x | {efficiency:.2f} | {row['cpu_per_row'] * 1000:.1f} ms | {split} |"
        )
    timings = overhead(args.calls, work)
    print(f"\nper call, median of 5 rounds of {args.calls} sequential calls each, zero-latency server:")
    print(
        f"direct {timings['direct'] * 1000:.2f} ms (CPU {timings['direct_cpu'] * 1000:.2f} ms), "
        f"router {timings['router'] * 1000:.2f} ms (CPU {timings['router_cpu'] * 1000:.2f} ms), "
        f"ratio {timings['router'] / timings['direct']:.2f}x"
    )


if __name__ == "__main__":
    main()
