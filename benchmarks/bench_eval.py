"""Evaluation runner benchmarks: throughput vs ideal and vs dspy.Evaluate, cache rerun, flat memory.

Run: .venv/bin/python benchmarks/bench_eval.py [--rows 1000] [--threads 16] [--latency 0.1]

1. Throughput: ``--rows`` rows against a local OpenAI-compatible server (started here on 127.0.0.1,
   fixed ``--latency`` per request), ``--threads`` threads, the same ``dspy.Predict`` program and
   ``dspy.LM("openai/bench", engine="litellm", cache=False)`` for promptkit.evaluate and dspy.Evaluate.
   Ideal = rows x latency / threads; goal <= 1.15x.
2. Rerun from the DSPy cache (fresh cache dir): LM calls on the rerun (goal 0) and speed-up (goal >= 50x).
3. Memory: RSS of a subprocess evaluating N rows with a fast fake engine (no server), for several N,
   with DSPy's LM history on (its default; DSPy caps it at 10,000 entries) and off.

Reading the numbers: the rows are I/O-bound but each LM call also costs client CPU (shown per row),
and with the GIL that CPU is serial: rows x CPU is a floor under the wall time, which is why the
litellm engine (~6 ms/call here) cannot reach 1.15x ideal on a 2-core machine and the native lm15
engine (~3 ms/call) can. The same floor applies to a cached rerun: every row still goes through
DSPy's adapter, cache lookup and parsing (~0.5 ms/row), so the rerun speed-up is bounded by
latency / 0.5 ms / threads. ``resume`` skips finished rows without calling the program at all.
The server runs in a child process so it does not compete for the runner's GIL.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dspy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from promptkit.evaluation import evaluate

QUESTION = re.compile(r"\[\[ ## question ## \]\]\n(.*?)\n")


class BenchServer(ThreadingHTTPServer):
    daemon_threads = True
    latency = 0.1
    requests = 0
    lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    """OpenAI-compatible chat completions with a fixed latency; GET /stats returns the request count."""

    protocol_version = "HTTP/1.1"  # keep-alive: connection setup is not what we measure
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's delayed
    # ACK (~40 ms), which would be measured as latency.
    disable_nagle_algorithm = True
    server: BenchServer

    def do_GET(self) -> None:
        self._send({"requests": self.server.requests})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.requests += 1
        time.sleep(self.server.latency)
        match = QUESTION.search(body["messages"][-1]["content"])
        answer = "answer " + (match.group(1).split()[-1] if match else "?")
        self._send(
            {
                "id": "bench",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", "bench"),
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {
                            "role": "assistant",
                            "content": f"[[ ## answer ## ]]\n{answer}\n\n[[ ## completed ## ]]",
                        },
                    }
                ],
                "usage": {"prompt_tokens": 50, "completion_tokens": 5, "total_tokens": 55},
            }
        )

    def _send(self, payload: dict[str, Any]) -> None:
        reply = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: Any) -> None:
        pass


def serve(latency: float) -> None:
    """Child process: the server gets its own interpreter, so it does not compete for the runner's GIL."""
    server = BenchServer(("127.0.0.1", 0), Handler)
    server.latency = latency
    print(server.server_address[1], flush=True)
    server.serve_forever()


class ServerProcess:
    def __init__(self, latency: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(latency)], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())
        self.base = f"http://127.0.0.1:{self.port}/v1"

    def requests(self) -> int:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=5) as reply:
            return int(json.loads(reply.read())["requests"])

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def examples(n: int) -> list[dspy.Example]:
    return [dspy.Example(question=f"question {i}", answer=f"answer {i}").with_inputs("question") for i in range(n)]


def exact(example: Any, prediction: Any) -> bool:
    return bool(example.answer == prediction.answer)


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def throughput_and_cache(rows: int, threads: int, latency: float, engines: list[str]) -> dict[str, Any]:
    server = ServerProcess(latency)
    data = examples(rows)
    program = dspy.Predict("question -> answer")
    work = Path(tempfile.mkdtemp(prefix="bench_eval_"))
    results: dict[str, Any] = {"engines": {}}
    try:
        for engine in engines:
            uncached = dspy.LM("openai/bench", api_base=server.base, api_key="x", engine=engine, cache=False)
            with dspy.context(lm=uncached):
                program(question="warm-up")  # pays the client import and connection setup once
                cpu = time.process_time()
                wall, run = timed(
                    lambda: evaluate(
                        program,
                        data,
                        [exact],
                        num_threads=threads,
                        out=work / f"pk-{engine}",  # noqa: B023
                        progress=False,
                    )
                )
                cpu = time.process_time() - cpu
                assert run.score == 1.0, run.summary
                evaluator = dspy.Evaluate(devset=data, metric=exact, num_threads=threads, display_progress=False)
                dspy_wall, dspy_result = timed(lambda: evaluator(program))  # noqa: B023
                assert dspy_result.score == 100.0
            results["engines"][engine] = {"promptkit": wall, "dspy": dspy_wall, "cpu_per_row_ms": cpu / rows * 1000}
        dspy.configure_cache(enable_disk_cache=True, enable_memory_cache=True, disk_cache_dir=str(work / "cache"))
        cached = dspy.LM("openai/bench", api_base=server.base, api_key="x", engine="litellm", cache=True)
        with dspy.context(lm=cached):
            results["first"], _ = timed(
                lambda: evaluate(program, data, [exact], num_threads=threads, out=work / "c1", progress=False)
            )
            before = server.requests()
            results["rerun"], rerun = timed(
                lambda: evaluate(program, data, [exact], num_threads=threads, out=work / "c2", progress=False)
            )
            results["rerun_calls"] = server.requests() - before
            results["rerun_cache_hits"] = rerun.summary["cache_hits"]
            results["resume"], _ = timed(
                lambda: evaluate(
                    program, data, [exact], num_threads=threads, out=work / "c2", resume=True, progress=False
                )
            )
    finally:
        server.stop()
    results["ideal"] = rows * latency / threads
    return results


class FastEngine:
    """No server, no latency: isolates the runner's own memory use."""

    def complete(self, request: Any) -> Any:
        from dspy.lm15 import Message, Response, Usage

        match = QUESTION.search(request.messages[-1].text)
        answer = "answer " + (match.group(1).split()[-1] if match else "?")
        return Response(
            id=None,
            model=request.model,
            finish_reason="stop",
            usage=Usage(input_tokens=50, output_tokens=5),
            message=Message.assistant(f"[[ ## answer ## ]]\n{answer}\n\n[[ ## completed ## ]]"),
        )


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def memory_child(rows: int, history: bool) -> None:
    def stream() -> Iterator[dspy.Example]:  # generated on the fly: the dataset itself takes no memory
        for i in range(rows):
            yield dspy.Example(question=f"question {i} " + "x" * 200, answer=f"answer {i}").with_inputs("question")

    lm = dspy.LM("local/fast", engine=FastEngine(), cache=False)
    baseline_kb = _status_kb("VmRSS")
    with tempfile.TemporaryDirectory() as out, dspy.context(lm=lm, disable_history=not history):
        result = evaluate(
            dspy.Predict("question -> answer"), stream(), [exact], num_threads=4, out=out, progress=False, report=False
        )
    # VmHWM, not ru_maxrss: ru_maxrss of a child started by fork counts the parent's pages at fork time
    print(
        json.dumps(
            {
                "rows": rows,
                "history": history,
                "start_mb": round(baseline_kb / 1024),
                "end_mb": round(_status_kb("VmRSS") / 1024),
                "peak_mb": round(_status_kb("VmHWM") / 1024),
                "score": result.score,
            }
        )
    )


def memory(sizes: list[int]) -> list[dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    measured = []
    for history in (True, False):
        for rows in sizes:
            command = [sys.executable, __file__, "--memory-child", str(rows)] + ([] if history else ["--no-history"])
            done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
            measured.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--engines", default="litellm,lm15", help="DSPy engines for the throughput runs")
    parser.add_argument("--memory-sizes", default="1000,10000,30000")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--no-history", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return
    if args.memory_child:
        memory_child(args.memory_child, history=not args.no_history)
        return
    engines = args.engines.split(",")
    r = throughput_and_cache(args.rows, args.threads, args.latency, engines)
    mem = memory([int(size) for size in args.memory_sizes.split(",")])
    command = (
        f".venv/bin/python benchmarks/bench_eval.py --rows {args.rows} --threads {args.threads} "
        f"--latency {args.latency} --engines {args.engines} --memory-sizes {args.memory_sizes}"
    )
    print(f"\n## Evaluation runner ({args.rows} rows, {args.threads} threads, {args.latency * 1000:.0f} ms/request)\n")
    print(f"Command: `{command}`\n")
    print("| measurement | value | goal |")
    print("|---|---:|---|")
    ideal = r["ideal"]
    print(f"| ideal wall time (rows x latency / threads) | {ideal:.2f} s | |")
    for engine, e in r["engines"].items():
        print(
            f"| promptkit.evaluate, engine={engine} | {e['promptkit']:.2f} s ({e['promptkit'] / ideal:.2f}x ideal; "
            f"client CPU {e['cpu_per_row_ms']:.1f} ms/row) | <= 1.15x |"
        )
        print(
            f"| dspy.Evaluate, engine={engine} (same program, LM, threads) | {e['dspy']:.2f} s "
            f"({e['dspy'] / ideal:.2f}x ideal) | |"
        )
        print(f"| promptkit / dspy.Evaluate, engine={engine} | {e['promptkit'] / e['dspy']:.2f}x | |")
    print(f"| first run, cache on (fresh dir), engine=litellm | {r['first']:.2f} s | |")
    print(
        f"| rerun from the DSPy cache | {r['rerun']:.3f} s, {r['rerun_calls']} LM calls, "
        f"{r['rerun_cache_hits']} cache hits | 0 calls |"
    )
    print(f"| rerun speed-up | {r['first'] / r['rerun']:.1f}x | >= 50x |")
    print(f"| resume of the finished run (no row re-run) | {r['resume']:.3f} s ({r['first'] / r['resume']:.0f}x) | |")
    for m in mem:
        label = "DSPy history on (default)" if m["history"] else "DSPy history off"
        print(
            f"| RSS, {m['rows']} rows, fast fake engine, {label}: start / end / peak | {m['start_mb']} / "
            f"{m['end_mb']} / {m['peak_mb']} MB | flat |"
        )
    load1, load5, _ = os.getloadavg()
    print(f"\nMachine: {os.cpu_count()} cores, load average {load1:.1f} (1 min) / {load5:.1f} (5 min) at the end.")


if __name__ == "__main__":
    main()
