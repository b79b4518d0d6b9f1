"""Does the embedded model still break programs? Before/after field budgets and the loop guard, one run.

    .venv/bin/python benchmarks/bench_robust.py                        # both parts, ~40 minutes here
    .venv/bin/python benchmarks/bench_robust.py --only gsm8k --limit 50

Parts (data from ``../shared/data``, the bundled SmolLM2-135M-Instruct, greedy, max_tokens 512):

* ``gsm8k``: ``dspy.ChainOfThought("question -> answer")`` on the first N training questions
  (default 200): parse failures, mean completion tokens per question, accuracy (numeric match),
  loops the guard ended.
* ``hotpotqa``: ``MultiHopRAG`` with 2 hops on the first N dev questions (default 100), over the
  paragraphs of those questions (title + text, hybrid search, in-memory Qdrant): questions that
  raised, exact match, completion tokens per question, steps degraded.

Conditions, each a fresh LM on the same loaded model: ``before`` (no field budgets, no loop guard,
``on_parse_error="raise"``: the engine before this work), ``budgets`` (field budgets only) and
``after`` (the defaults: budgets, loop guard, ``on_parse_error="degrade"``). Each row is appended to
``--out`` as it completes. Greedy decoding is deterministic, so the machine's load only changes time.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
DATA = ROOT.parent / "shared" / "data"
THREADS = 2  # --threads; 1 is steadier on a machine busy with other work (no OpenMP barrier stalls)
CONDITIONS = {
    "before": {"field_budgets": False, "loop_guard": False, "on_parse_error": "raise"},
    "budgets": {"field_budgets": True, "loop_guard": False, "on_parse_error": "raise"},
    "after": {"field_budgets": True, "loop_guard": True, "on_parse_error": "degrade"},
}


def jsonl(path: Path, limit: int) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in itertools.islice(lines, limit)]


def setup(condition: dict[str, Any]) -> tuple[Any, Any]:
    import promptkit
    from promptkit.lm.local import local_lm

    lm = local_lm(cache=False, loop_guard=condition["loop_guard"], n_threads=THREADS)
    adapter = promptkit.TemplateAdapter(field_budgets=bool(condition["field_budgets"]))
    return lm, adapter


def run_rows(
    name: str,
    rows: list[dict[str, Any]],
    condition: dict[str, Any],
    out: Path,
    build: Callable[[], Any],
    call: Callable[[Any, dict[str, Any]], dict[str, Any]],
) -> list[dict[str, Any]]:
    import dspy

    lm, adapter = setup(condition)
    program = build()
    engine = lm.kwargs.get("engine") or getattr(lm, "engine", None)
    results = []
    with dspy.context(lm=lm, adapter=adapter), out.open("a", encoding="utf-8") as sink:
        for index, row in enumerate(rows):
            calls, loops = len(lm.history), getattr(getattr(engine, "stats", None), "loops_ended", 0)
            started = time.perf_counter()
            try:
                record = call(program, row)
                error = None
            except Exception as exc:  # what the benchmark counts: a program that broke on the model's output
                record, error = {}, f"{type(exc).__name__}: {str(exc)[:200]}"
            usage = [entry.get("usage") or {} for entry in lm.history[calls:]]
            record.update(
                part=name,
                index=index,
                error=error,
                seconds=round(time.perf_counter() - started, 2),
                completion_tokens=sum(u.get("completion_tokens", 0) for u in usage),
                lm_calls=len(usage),
                loops_ended=getattr(getattr(engine, "stats", None), "loops_ended", 0) - loops,
            )
            sink.write(json.dumps(record) + "\n")
            sink.flush()
            results.append(record)
    return results


def gsm8k(limit: int, conditions: list[str], out: Path) -> str:
    import dspy

    from promptkit.datasets.task_formats import convert_gsm8k
    from promptkit.evaluation.metrics.numeric import extract_number

    rows = [convert_gsm8k(record) for record in jsonl(DATA / "gsm8k" / "train.jsonl", limit)]

    def call(program: Any, row: dict[str, Any]) -> dict[str, Any]:
        answer = str(program(question=row["question"]).answer)
        gold = extract_number(str(row["answer"]))
        return {"answer": answer[:300], "correct": gold is not None and extract_number(answer) == gold}

    lines = [
        "| condition | questions | parse failures | mean completion tokens | accuracy | loops ended | minutes |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in conditions:
        started = time.perf_counter()
        results = run_rows(
            f"gsm8k/{name}", rows, CONDITIONS[name], out, lambda: dspy.ChainOfThought("question -> answer"), call
        )
        lines.append(_row(name, results, time.perf_counter() - started, score="correct"))
        print(lines[-1], flush=True)
    return "\n".join(lines)


def hotpotqa(limit: int, conditions: list[str], out: Path) -> str:
    from promptkit import MultiHopRAG, Retriever
    from promptkit.evaluation.metrics.text import normalize_answer
    from promptkit.retrieval.index import build_index

    records = jsonl(DATA / "hotpotqa" / "hotpotqa_dev_500.jsonl", limit)
    build_index(list(_paragraphs(records)), "hotpot_bench", store="memory:bench_robust")
    retriever = Retriever("memory:bench_robust", collection="hotpot_bench")

    def call(program: Any, row: dict[str, Any]) -> dict[str, Any]:
        prediction = program(question=row["question"])
        answer = str(prediction.answer)
        return {
            "answer": answer[:300],
            "correct": normalize_answer(answer) == normalize_answer(row["answer"]),
            "queries": [hop["query"][:200] for hop in prediction.hops],
            "degraded": [step["step"] for step in prediction.degraded],
        }

    lines = [
        "| condition | questions | raised | mean completion tokens | exact match | loops ended | "
        "steps degraded | minutes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in conditions:
        condition = CONDITIONS[name]
        started = time.perf_counter()

        def build(condition: dict[str, Any] = condition) -> Any:
            return MultiHopRAG(retriever, max_hops=2, on_parse_error=condition["on_parse_error"])

        results = run_rows(f"hotpotqa/{name}", records, condition, out, build, call)
        degraded = sum(len(r.get("degraded", [])) for r in results)
        lines.append(_row(name, results, time.perf_counter() - started, score="correct", extra=(degraded,)))
        print(lines[-1], flush=True)
    return "\n".join(lines)


def _paragraphs(records: list[dict[str, Any]]) -> Iterator[Any]:
    from promptkit.retrieval.passages import Passage

    seen: set[str] = set()
    for record in records:
        context = record["context"]
        for title, sentences in zip(context["title"], context["sentences"], strict=True):
            if title not in seen:
                seen.add(title)
                yield Passage(text="".join(sentences), title=title, source_id=title)


def _row(name: str, results: list[dict[str, Any]], seconds: float, *, score: str, extra: tuple[Any, ...] = ()) -> str:
    failures = sum(r["error"] is not None for r in results)
    tokens = statistics.fmean(r["completion_tokens"] for r in results)
    correct = sum(bool(r.get(score)) for r in results)
    loops = sum(r["loops_ended"] for r in results)
    cells = [
        name,
        len(results),
        failures,
        f"{tokens:.1f}",
        f"{correct}/{len(results)}",
        loops,
        *extra,
        f"{seconds / 60:.1f}",
    ]
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="gsm8k,hotpotqa")
    parser.add_argument("--limit", type=int, default=0, help="questions per part (default 200 / 100)")
    parser.add_argument("--conditions", default="before,budgets,after")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_robust.jsonl"))
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    args = parser.parse_args()
    global THREADS
    THREADS = args.threads
    args.out.parent.mkdir(parents=True, exist_ok=True)
    conditions = args.conditions.split(",")
    print(f"load average {Path('/proc/loadavg').read_text().split()[0]}; rows -> {args.out}", flush=True)
    if "gsm8k" in args.only:
        print("\nGSM8K, ChainOfThought\n" + gsm8k(args.limit or 200, conditions, args.out), flush=True)
    if "hotpotqa" in args.only:
        print("\nHotPotQA, MultiHopRAG 2 hops\n" + hotpotqa(args.limit or 100, conditions, args.out), flush=True)


if __name__ == "__main__":
    main()
