"""Every registered technique through ``promptkit ask --technique ID --model local``, once each.

    .venv/bin/python benchmarks/bench_techniques.py                   # all 46, ~30-60 minutes here
    .venv/bin/python benchmarks/bench_techniques.py --only vanilla,binder --threads 1

The command runs in-process through the Typer app (``promptkit.cli.app``) so the embedded model
(SmolLM2-135M-Instruct, greedy by default) loads once; ``promptkit.cli.ask.build_lm`` is wrapped to
keep the LM the command builds and count its calls (``len(lm.history)``). Each technique gets what
it needs on the command line: ``--table`` (binder, dater, chain_of_table), ``--questions`` (auto_cot:
GSM8K questions from ``../shared/data``), ``--chain telecom_feedback`` (chained_tasks) and
``--collection`` over an index of ``examples/data/phone_reviews.jsonl`` built first into a temporary
store (react, react_native, cok, verify_and_edit, step_back, implicit_rag). ``PROMPTKIT_DEBUG`` is set
so an exception reaches the script: a ``PromptkitError`` is a typed error (its exit code), anything
else an internal error (a crash, exit 1, its traceback kept in the row). Each row is appended to
``--out`` as it completes; a markdown table is printed at the end. The DSPy cache is a fresh
directory per run, so every call reaches the model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ["PROMPTKIT_DEBUG"] = "1"  # exceptions reach the script with their traceback (typed vs internal)
DATA = ROOT.parent / "shared" / "data"
TABLE = ROOT / "examples" / "data" / "olympics_medals.csv"
REVIEWS = ROOT / "examples" / "data" / "phone_reviews.jsonl"
COLLECTION = "phones"

ARITHMETIC = "A farmer has 12 cows and buys 5 more. How many cows does he have now?"
PHONE = "Which phone has the best low-light camera?"
QUESTIONS = {  # technique -> question; the rest get ARITHMETIC
    "maieutic": "True or False: penguins can fly.",
    "react": PHONE,
    "react_native": PHONE,
    "implicit_rag": PHONE,
    "cok": PHONE,
    "verify_and_edit": PHONE,
    "step_back": PHONE,
    "binder": "Which nation won the most gold medals?",
    "chain_of_table": "Which nation won the most gold medals?",
    "dater": "How many gold medals did the European nations win in total?",
    "chained_tasks": "The signal drops every evening at home and support never called me back.",
    "chain_of_event": "Document 1: A storm hit the coast on Monday. Document 2: The port closed on Monday "
    "because of the storm. Document 3: Ships waited outside the harbour until Tuesday.",
    "scot": "Write a Python function that returns the sum of a list of numbers.",
    "thor": "The battery of this phone dies before lunch.",
    "term_definitions": "A patient has dyspnea and tachycardia. Which vital signs should be checked first?",
    "guideline_error_analysis": "List the medical problems in: The patient denies chest pain but reports a mild fever.",
}
WITH_COLLECTION = {"react", "react_native", "implicit_rag", "cok", "verify_and_edit", "step_back"}


def extra_args(technique: str, store: Path, pool: Path) -> list[str]:
    """The flags ``technique`` needs (or uses) besides the question, the technique and the model."""
    args: list[str] = []
    if technique in {"binder", "dater", "chain_of_table"}:
        args += ["--table", str(TABLE)]
    if technique == "auto_cot":
        args += ["--questions", str(pool)]
    if technique == "chained_tasks":
        args += ["--chain", "telecom_feedback"]
    if technique in WITH_COLLECTION:
        args += ["--collection", COLLECTION, "--store", str(store)]
    return args


def write_pool(path: Path, limit: int) -> Path:
    """auto_cot's pool: the first ``limit`` GSM8K training questions as JSONL."""
    with (DATA / "gsm8k" / "train.jsonl").open(encoding="utf-8") as source, path.open("w", encoding="utf-8") as sink:
        for index, line in enumerate(source):
            if index >= limit:
                break
            sink.write(json.dumps({"question": json.loads(line)["question"]}) + "\n")
    return path


def build_store(runner: Any, app: Any, store: Path) -> None:
    result = runner.invoke(app, ["index", "build", str(REVIEWS), "--collection", COLLECTION, "--store", str(store)])
    if result.exit_code != 0:
        raise SystemExit(f"index build failed ({result.exit_code}): {result.output}{result.exception!r}")


def run_one(runner: Any, app: Any, technique: str, family: str, args: list[str], lms: list[Any]) -> dict[str, Any]:
    from promptkit.errors import PromptkitError

    question = QUESTIONS.get(technique, ARITHMETIC)
    command = ["ask", question, "--technique", technique, "--model", "local", *args]
    lms.clear()
    started = time.perf_counter()
    result = runner.invoke(app, command)
    seconds = round(time.perf_counter() - started, 1)
    exc = result.exception
    error, kind, trace, code = None, None, None, result.exit_code
    if exc is not None and not isinstance(exc, SystemExit):
        error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        if isinstance(exc, PromptkitError):
            kind, code = "typed", exc.exit_code
        else:
            kind, code = "internal", 1
            trace = "".join(traceback.format_exception(*result.exc_info))[-3000:]
    answer = " ".join(result.stdout.split())
    return {
        "technique": technique,
        "family": family,
        "question": question,
        "args": args,
        "lm_calls": sum(len(lm.history) for lm in lms),
        "seconds": seconds,
        "exit": code,
        "answer": answer[:60],
        "error": error,
        "error_kind": kind,
        "traceback": trace,
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| technique | family | LM calls | seconds | exit | answer (first 60 chars) / error |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        error = row["error"] if row["error"] is None or len(row["error"]) <= 100 else row["error"][:100] + "…"
        shown = row["answer"] if error is None else f"{row['error_kind']} error: {error}"
        shown = shown.replace("|", "\\|")
        lines.append(
            f"| {row['technique']} | {row['family']} | {row['lm_calls']} | {row['seconds']} | {row['exit']} | {shown} |"
        )
    crashed = sum(row["error_kind"] == "internal" for row in rows)
    typed = sum(row["error_kind"] == "typed" for row in rows)
    lines.append("")
    lines.append(
        f"{len(rows)} techniques, {sum(r['lm_calls'] for r in rows)} LM calls, "
        f"{sum(r['seconds'] for r in rows) / 60:.1f} minutes; exit 0: "
        f"{sum(r['exit'] == 0 for r in rows)}, typed errors: {typed}, internal errors (crashes): {crashed}"
    )
    return "\n".join(lines)


def report_rows(paths: list[Path]) -> list[dict[str, Any]]:
    """The rows of ``paths`` (several runs, e.g. split with --only), one per technique, in registry order."""
    from promptkit import techniques

    rows: dict[str, dict[str, Any]] = {}
    for path in paths:
        with path.open(encoding="utf-8") as lines:
            rows.update((row["technique"], row) for row in map(json.loads, lines))
    return [rows[info.id] for info in techniques.list() if info.id in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="comma-separated technique ids (default: every registered one)")
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="embedded model CPU threads (1 is steadier on a machine busy with other work)",
    )
    parser.add_argument("--pool", type=int, default=8, help="GSM8K questions in auto_cot's pool")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_techniques.jsonl"))
    parser.add_argument(
        "--report",
        type=Path,
        nargs="+",
        metavar="JSONL",
        help="print the table of earlier runs' rows (in registry order; a later row wins) and exit",
    )
    options = parser.parse_args()
    if options.report:
        print(table(report_rows(options.report)))
        return
    os.environ["PROMPTKIT_N_THREADS"] = str(options.threads)
    work = Path(tempfile.mkdtemp(prefix="bench_techniques_"))
    os.environ["DSPY_CACHEDIR"] = str(work / "dspy_cache")  # read when dspy is imported: set before that

    from typer.testing import CliRunner

    import promptkit.cli.ask as ask_module
    from promptkit import techniques
    from promptkit.cli import app

    registered = {info.id: info for info in techniques.list()}
    ids = options.only.split(",") if options.only else list(registered)
    unknown = [i for i in ids if i not in registered]
    if unknown:
        parser.error(f"unknown technique(s): {', '.join(unknown)}")

    lms: list[Any] = []
    build_lm = ask_module.build_lm

    def keeping_build_lm(*args: Any, **kwargs: Any) -> Any:
        lm = build_lm(*args, **kwargs)
        lms.append(lm)
        return lm

    ask_module.build_lm = keeping_build_lm  # type: ignore[assignment]
    runner = CliRunner()
    store = work / "index"
    if any(i in WITH_COLLECTION for i in ids):
        build_store(runner, app, store)
    pool = write_pool(work / "pool.jsonl", options.pool)
    options.out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    load_before = os.getloadavg()
    started = time.perf_counter()
    with options.out.open("a", encoding="utf-8") as sink:
        for technique in ids:
            row = run_one(runner, app, technique, registered[technique].family, extra_args(technique, store, pool), lms)
            sink.write(json.dumps(row) + "\n")
            sink.flush()
            rows.append(row)
            print(
                f"{technique}: exit {row['exit']}, {row['lm_calls']} calls, {row['seconds']} s, "
                f"{row['error'] or row['answer']}",
                flush=True,
            )
    print()
    print(table(rows))
    print(
        f"\nwall {(time.perf_counter() - started) / 60:.1f} minutes, threads {options.threads}, "
        f"load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
