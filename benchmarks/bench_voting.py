"""Does answer normalisation merge self-consistency's votes? Raw answers vs vote buckets on GSM8K.

    .venv/bin/python benchmarks/bench_voting.py --threads 1              # 40 questions, n=5, ~1 hour here
    .venv/bin/python benchmarks/bench_voting.py --limit 5 --n 3          # a smoke run

The first ``--limit`` GSM8K training questions (``../shared/data``) go to ``self_consistency`` over
``question -> answer`` (zero-shot CoT, ``n`` samples at temperature 0.7) on the bundled
SmolLM2-135M-Instruct, voting with ``normalize="number"`` (the final number of each answer). Per
question: the distinct raw answers (the text as sampled, stripped), the distinct buckets under the
text key (what a ``str`` field votes with by default) and under the number key (the vote), whether
the vote's answer is right and whether the first sample alone is right (no voting). Each question's
row is appended to ``--out`` as it completes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
DATA = ROOT.parent / "shared" / "data"


def question_row(program: Any, record: dict[str, Any], index: int) -> dict[str, Any]:
    from promptkit.datasets.answers import extract_gsm8k_answer
    from promptkit.techniques.voting import number_key, text_key

    started = time.perf_counter()
    gold = number_key(extract_gsm8k_answer(record["answer"]))
    try:
        prediction = program(question=record["question"])
    except Exception as exc:  # a question whose every sample failed to parse: recorded, the run goes on
        return {"index": index, "error": f"{type(exc).__name__}: {str(exc)[:200]}", "seconds": 0.0}
    raw = [str(s.get("answer") or "").strip() for s in prediction.samples]
    return {
        "index": index,
        "error": None,
        "gold": gold,
        "answers": raw,
        "votes": prediction.votes,
        "raw_distinct": len(set(raw)),
        "text_buckets": len({text_key(a) for a in raw if text_key(a)}),
        "number_buckets": len(prediction.votes),
        "failed_samples": len(prediction.failed_samples),
        "answer": str(prediction.answer)[:200],
        "correct": number_key(prediction.answer) == gold,
        "first_correct": bool(raw) and number_key(raw[0]) == gold,
        "seconds": round(time.perf_counter() - started, 1),
    }


def summary(rows: list[dict[str, Any]], n: int, minutes: float) -> str:
    ok = [r for r in rows if r["error"] is None]
    mean = (lambda key: statistics.fmean(r[key] for r in ok)) if ok else (lambda key: float("nan"))
    cells = [
        len(rows),
        n,
        f"{mean('raw_distinct'):.2f}",
        f"{mean('text_buckets'):.2f}",
        f"{mean('number_buckets'):.2f}",
        f"{sum(r['correct'] for r in ok)}/{len(rows)}",
        f"{sum(r['first_correct'] for r in ok)}/{len(rows)}",
        len(rows) - len(ok),
        f"{minutes:.0f}",
    ]
    header = (
        "| questions | n | distinct raw answers | text buckets | number buckets (vote) | accuracy (vote) "
        "| accuracy (first sample) | questions failed | minutes |\n|---|---|---|---|---|---|---|---|---|\n"
    )
    return header + "| " + " | ".join(str(c) for c in cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads (1 is steadier on a busy machine)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_voting.jsonl"))
    args = parser.parse_args()

    import dspy

    import promptkit
    from promptkit.lm.local import local_lm
    from promptkit.techniques import build

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with (DATA / "gsm8k" / "train.jsonl").open(encoding="utf-8") as lines:
        records = [json.loads(line) for line in itertools.islice(lines, args.limit)]
    print(f"load average {Path('/proc/loadavg').read_text().split()[0]}; rows -> {args.out}", flush=True)
    lm = local_lm(cache=False, n_threads=args.threads)
    program = build("self_consistency", "question -> answer", n=args.n, normalize="number")
    started = time.perf_counter()
    rows = []
    with dspy.context(lm=lm, adapter=promptkit.TemplateAdapter()), args.out.open("a", encoding="utf-8") as sink:
        for index, record in enumerate(records):
            row = question_row(program, record, index)
            sink.write(json.dumps(row) + "\n")
            sink.flush()
            rows.append(row)
            print(
                f"{index}: raw {row.get('raw_distinct')} buckets {row.get('number_buckets')} "
                f"correct {row.get('correct')} ({row['seconds']} s)",
                flush=True,
            )
    print("\n" + summary(rows, args.n, (time.perf_counter() - started) / 60), flush=True)


if __name__ == "__main__":
    main()
