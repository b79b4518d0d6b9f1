"""Benchmarks of the embedded local model (llama.cpp + SmolLM2-135M-Instruct). Prints markdown tables.

    .venv/bin/python benchmarks/bench_local.py                 # everything, about 5-10 minutes
    .venv/bin/python benchmarks/bench_local.py --only speed,cold

Sections: ``speed`` (tokens/s through promptkit vs raw ``llama_cpp.Llama``, same prompts, same run),
``cold`` (process start to first token), ``parse`` (parse failures per backend over 20 questions),
``threads`` (8 threads: lock vs pool), ``omp`` (OMP_WAIT_POLICY / n_threads, idle and under load).
Every number is measured in this run; the load average is printed because the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # what promptkit sets; the raw baseline gets the same
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

QUESTIONS = [
    ("What is the capital of France?", "paris"),
    ("What is 2 + 2?", "4"),
    ("How many days are in a week?", "7"),
    ("What colour is the sky on a clear day?", "blue"),
    ("Who wrote Romeo and Juliet?", "shakespeare"),
    ("At what temperature in Celsius does water boil?", "100"),
    ("What is the chemical symbol for gold?", "au"),
    ("How many legs does a spider have?", "8"),
    ("What is the largest planet in the solar system?", "jupiter"),
    ("What is 10 minus 3?", "7"),
    ("What gas do plants absorb from the air?", "carbon"),
    ("How many months are in a year?", "12"),
    ("What is the opposite of hot?", "cold"),
    ("What animal says moo?", "cow"),
    ("What is the first letter of the English alphabet?", "a"),
    ("How many hours are in a day?", "24"),
    ("What colour is grass?", "green"),
    ("What is frozen water called?", "ice"),
    ("What is 3 times 3?", "9"),
    ("Which star is closest to Earth?", "sun"),
]
SPEED_PROMPTS = [
    f"Write a long story about a {thing}." for thing in ("cat", "dog", "ship", "robot", "garden", "castle")
]


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def local(**options: Any) -> Any:
    from promptkit.lm.local import local_lm

    return local_lm(cache=False, **options)


# -- speed -----------------------------------------------------------------------------------------


def bench_speed(rounds: int) -> str:
    """Same prompts, alternating raw llama.cpp and promptkit so load drift hits both alike."""
    from llama_cpp import Llama

    from promptkit.lm.local_models import bundled_model_path

    max_tokens = 128
    raw = Llama(model_path=str(bundled_model_path()), n_ctx=2048, n_threads=2, verbose=False)
    lm = local(n_threads=2, max_tokens=max_tokens)
    # Ban nothing: both stop at EOS the same way; tokens/s counts the tokens actually produced.
    totals = {"raw": [0, 0.0], "promptkit": [0, 0.0]}

    def run_raw(prompt: str) -> int:
        out: Any = raw.create_chat_completion(
            messages=[{"role": "user", "content": prompt}], temperature=0.0, max_tokens=max_tokens, seed=0
        )
        return int(out["usage"]["completion_tokens"])

    def run_promptkit(prompt: str) -> int:
        lm(prompt)
        return int(lm.history[-1]["usage"]["completion_tokens"])

    run_raw("warm up"), run_promptkit("warm up")
    for _ in range(rounds):
        for prompt in SPEED_PROMPTS:
            for name, fn in (("raw", run_raw), ("promptkit", run_promptkit)):
                started = time.perf_counter()
                totals[name][0] += fn(prompt)
                totals[name][1] += time.perf_counter() - started
    rates = {name: tokens / seconds for name, (tokens, seconds) in totals.items()}
    rows = [[name, int(totals[name][0]), f"{totals[name][1]:.1f}", f"{rates[name]:.1f}"] for name in totals]
    rows.append(["**ratio promptkit / raw**", "", "", f"**{rates['promptkit'] / rates['raw']:.2f}×** (goal ≥ 0.9)"])
    lm.engine.close()
    return (
        f"### Generation speed (n_threads=2, greedy, max_tokens={max_tokens}, {rounds}×{len(SPEED_PROMPTS)} "
        f"prompts each, load {load()})\n\n" + table(["path", "tokens", "seconds", "tokens/s (end to end)"], rows)
    )


# -- cold start ------------------------------------------------------------------------------------

COLD_PROMPTKIT = """
import time; t0 = time.perf_counter()
from promptkit.lm.local import local_lm; t1 = time.perf_counter()
lm = local_lm(max_tokens=1, cache=False); lm("Hi"); t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f}", flush=True)
"""
COLD_RAW = """
import time; t0 = time.perf_counter()
from llama_cpp import Llama; t1 = time.perf_counter()
from promptkit.lm.local_models import bundled_model_path
m = Llama(model_path=str(bundled_model_path()), n_ctx=2048, n_threads=2, verbose=False)
m.create_chat_completion(messages=[{"role": "user", "content": "Hi"}], max_tokens=1); t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f}", flush=True)
"""


def bench_cold(runs: int) -> str:
    rows = []
    for name, code in (("promptkit local_lm", COLD_PROMPTKIT), ("raw llama_cpp.Llama", COLD_RAW)):
        walls, imports, firsts = [], [], []
        for _ in range(runs):
            started = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-c", code],
                capture_output=True,
                text=True,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                check=True,
            )
            walls.append(time.perf_counter() - started)
            imported, first = (float(x) for x in out.stdout.split())
            imports.append(imported)
            firsts.append(first)
        rows.append(
            [
                name,
                f"{statistics.median(walls):.2f}",
                f"{statistics.median(imports):.2f}",
                f"{statistics.median(firsts):.2f}",
            ]
        )
    return f"### Cold start: `python -c` process start to first token (median of {runs}, load {load()})\n\n" + table(
        ["path", "process wall s", "imports s", "load + first token s"], rows
    )


# -- parse failures --------------------------------------------------------------------------------


def parse_failures(lm: Any, adapter: Any, label: str) -> list[Any]:
    import dspy

    failures = correct = 0
    started = time.perf_counter()
    with dspy.context(lm=lm, adapter=adapter):
        for question, keyword in QUESTIONS:
            try:
                answer = dspy.Predict("question -> answer")(question=question).answer
            except dspy.utils.exceptions.AdapterParseError:
                failures += 1
                continue
            correct += keyword in str(answer).lower()
    seconds = time.perf_counter() - started
    return [label, f"{failures}/{len(QUESTIONS)}", f"{correct}/{len(QUESTIONS)}", f"{seconds:.1f}"]


def bench_parse(with_server: bool) -> str:
    import dspy

    rows = []
    lm = local(max_tokens=256)
    rows.append(parse_failures(lm, dspy.JSONAdapter(), "local, constrained (JSONAdapter + schema grammar)"))
    rows.append(
        parse_failures(
            local(max_tokens=128),
            dspy.ChatAdapter(use_json_adapter_fallback=False),
            "local, unconstrained (ChatAdapter, no fallback)",
        )
    )
    if with_server:
        import promptkit.lm
        from tests.servers.llamacpp import LlamaCppServer, LlamaCppServerJSONAdapter

        with LlamaCppServer(n_threads=2) as server:
            remote = promptkit.lm.lm(
                "openai/smollm2", api_base=server.api_base, api_key="x", max_tokens=256, cache=False, num_retries=0
            )
            rows.append(
                parse_failures(
                    remote, LlamaCppServerJSONAdapter(), "llama.cpp server via LiteLLM (json_object + schema)"
                )
            )
    return (
        f"### Parse failures, `question -> answer`, {len(QUESTIONS)} fixed questions (greedy, load {load()})\n\n"
        + table(["backend", "parse failures", "correct (keyword, indicative)", "seconds"], rows)
    )


# -- threads ---------------------------------------------------------------------------------------


def bench_threads(calls_per_thread: int) -> str:
    prompts = [f"Write one short sentence about the number {i}." for i in range(8)]
    rows = []
    reference: dict[str, str] = {}
    for label, options in (
        ("sequential (1 thread)", {"pool_size": 1, "n_threads": 2}),
        ("8 threads, lock (pool_size=1, n_threads=2)", {"pool_size": 1, "n_threads": 2}),
        ("8 threads, pool (pool_size=2, n_threads=1)", {"pool_size": 2, "n_threads": 1}),
    ):
        lm = local(max_tokens=32, **options)
        lm("warm up")
        outputs: dict[int, list[str]] = {}
        errors: list[BaseException] = []
        tokens_before = lm.engine.stats.completion_tokens

        def worker(
            index: int, lm: Any = lm, outputs: dict[int, list[str]] = outputs, errors: list[BaseException] = errors
        ) -> None:
            try:
                for _ in range(calls_per_thread):
                    outputs.setdefault(index, []).append(lm(prompts[index])[0])
            except BaseException as exc:
                errors.append(exc)

        started = time.perf_counter()
        if label.startswith("sequential"):
            for i in range(8):
                worker(i)
        else:
            threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        seconds = time.perf_counter() - started
        tokens = lm.engine.stats.completion_tokens - tokens_before
        if not reference:
            reference = {prompts[i]: outputs[i][0] for i in outputs}
        mismatched = sum(text != reference[prompts[i]] for i, texts in outputs.items() for text in texts)
        calls = sum(len(texts) for texts in outputs.values())
        rows.append(
            [
                label,
                calls,
                len(errors),
                f"{mismatched}/{calls}",
                f"{seconds:.1f}",
                f"{calls / seconds:.2f}",
                f"{tokens / seconds:.1f}",
            ]
        )
        lm.engine.close()
    return f"### Concurrency: 8 prompts × {calls_per_thread} calls, max_tokens=32 (load {load()})\n\n" + table(
        ["mode", "calls", "errors", "outputs ≠ sequential", "seconds", "calls/s", "tokens/s"], rows
    )


# -- OpenMP wait policy ----------------------------------------------------------------------------

OMP_PROBE = """
import time
from llama_cpp import Llama
from promptkit.lm.local_models import bundled_model_path
m = Llama(model_path=str(bundled_model_path()), n_ctx=2048, n_threads={threads}, verbose=False)
m.create_chat_completion(messages=[{{"role": "user", "content": "hi"}}], max_tokens=2)
total_tokens, total_seconds = 0, 0.0
for prompt in ("Write a long story about a cat.", "Write a long story about a ship."):
    m.reset(); started = time.perf_counter()
    out = m.create_chat_completion(messages=[{{"role": "user", "content": prompt}}], temperature=0, max_tokens=48)
    total_seconds += time.perf_counter() - started; total_tokens += out["usage"]["completion_tokens"]
print(f"{{total_tokens / total_seconds:.1f}}")
"""


def omp_rate(threads: int, policy: str | None) -> str:
    env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    env["PYTHONPATH"] = str(ROOT)
    try:
        out = subprocess.run(
            [sys.executable, "-c", OMP_PROBE.format(threads=threads)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return "> 120 s (collapsed)"
    return out.stdout.strip()


def bench_omp() -> str:
    configs = [(2, None), (2, "PASSIVE"), (1, None), (1, "PASSIVE")]
    idle = [omp_rate(threads, policy) for threads, policy in configs]
    idle_load = load()
    # Two busy loops = a fully busy 2-core box (what a CI neighbour or another job does).
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        time.sleep(1)
        busy = [omp_rate(threads, policy) for threads, policy in configs]
        busy_load = load()
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    rows = [
        [threads, policy or "default (ACTIVE spin)", idle[i], busy[i]] for i, (threads, policy) in enumerate(configs)
    ]
    return "### OpenMP wait policy: end-to-end tokens/s (37-token prompt + 48 generated, greedy)\n\n" + table(
        ["n_threads", "OMP_WAIT_POLICY", f"as found (load {idle_load})", f"+2 busy-loop processes (load {busy_load})"],
        rows,
    )


SECTIONS: dict[str, Callable[[argparse.Namespace], str]] = {
    "speed": lambda args: bench_speed(args.rounds),
    "cold": lambda args: bench_cold(args.cold_runs),
    "parse": lambda args: bench_parse(not args.no_server),
    "threads": lambda args: bench_threads(args.calls_per_thread),
    "omp": lambda args: bench_omp(),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {', '.join(SECTIONS)}")
    parser.add_argument("--rounds", type=int, default=2, help="speed: rounds over the 6 prompts")
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--calls-per-thread", type=int, default=2)
    parser.add_argument("--no-server", action="store_true", help="parse: skip the llama.cpp server backend")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    from promptkit.lm.local_models import set_load_listener

    set_load_listener(lambda event: None)  # the tables are the output
    print(
        f"## Embedded local model benchmarks\n\nCommand: `.venv/bin/python benchmarks/bench_local.py "
        f"{' '.join(sys.argv[1:])}`".rstrip()
        + f"\n\nMachine: {os.cpu_count()} CPUs, load at start {load()}\n"
    )
    for name in chosen:
        started = time.perf_counter()
        print(SECTIONS[name](args), flush=True)
        print(f"\n_{name}: {time.perf_counter() - started:.0f} s_\n", flush=True)


if __name__ == "__main__":
    main()
