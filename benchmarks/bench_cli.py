"""CLI start-up: `promptkit --help` and `promptkit render structured.j2 ...` vs `python -c pass`.

Run: .venv/bin/python benchmarks/bench_cli.py [--runs 10]
Target: each promptkit command <= 0.5 s wall time on this machine. Also checks that neither command
imports torch, sentence_transformers, litellm or dspy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARS = ROOT / "examples" / "objects.yaml"
HEAVY = ("torch", "sentence_transformers", "litellm", "dspy")

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "promptkit --help": [sys.executable, "-m", "promptkit", "--help"],
    "promptkit render structured.j2": [
        sys.executable,
        "-m",
        "promptkit",
        "render",
        "structured.j2",
        "--vars",
        str(VARS),
        "--format",
        "text",
    ],
}


def wall(cmd: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def heavy_imports(cmd: list[str]) -> list[str]:
    env = dict(os.environ, PYTHONPROFILEIMPORTTIME="1")
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, check=True)
    loaded = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time")}
    return sorted(name for name in HEAVY if name in loaded)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    base = wall(COMMANDS["python -c pass"], args.runs)
    print("| command | median wall time | minus `python -c pass` | heavy imports |")
    print("|---|---|---|---|")
    for name, cmd in COMMANDS.items():
        t = wall(cmd, args.runs)
        heavy = "" if name.startswith("python") else (", ".join(heavy_imports(cmd)) or "none")
        print(f"| `{name}` | {t:.3f} s | {t - base:+.3f} s | {heavy} |")
    print(f"\ncommand: .venv/bin/python benchmarks/bench_cli.py --runs {args.runs}")


if __name__ == "__main__":
    main()
