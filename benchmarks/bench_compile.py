"""Does compiling help the embedded model? bootstrap_fewshot on the ticket-routing task, val before / after.

Run: nice -n 10 .venv/bin/python benchmarks/bench_compile.py [--out runs/bench-compile] [--threads 2]

The same as the CLI command::

    promptkit compile benchmarks/ticket_routing.py:TicketRouter \\
        --data benchmarks/data/ticket_routing_train.jsonl --val benchmarks/data/ticket_routing_val.jsonl \\
        --metric exact_match --optimizer bootstrap_fewshot \\
        --option max_bootstrapped_demos=4 --option max_labeled_demos=4 --model local --out runs/bench-compile

Prints a Markdown table for BENCHMARKS.md: val exact_match before and after with 95% bootstrap
intervals, the paired McNemar test (eval compare's), compile time and LM calls. The report with the
instructions, demos and one val prompt before / after is in OUT/report.html.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/bench-compile")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import dspy

    import promptkit
    from promptkit.adapter import TemplateAdapter

    with dspy.context(lm=promptkit.lm("local"), adapter=TemplateAdapter()):
        result = promptkit.compile_to_dir(
            f"{ROOT}/benchmarks/ticket_routing.py:TicketRouter",
            ROOT / "benchmarks/data/ticket_routing_train.jsonl",
            "exact_match",
            "bootstrap_fewshot",
            args.out,
            valset=ROOT / "benchmarks/data/ticket_routing_val.jsonl",
            num_threads=args.threads,
            progress=False,
            max_bootstrapped_demos=4,
            max_labeled_demos=4,
        )
    record = result.record

    def cell(side: str) -> str:
        score = record["scores"][side]
        ci = score["ci95"]
        return f"{score['mean']:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]"

    comparison = record["comparison"]
    print("| model | optimizer | train / val | val exact_match before | after | paired test | compile |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {record['model']} | bootstrap_fewshot (max_bootstrapped_demos=4, max_labeled_demos=4) | "
        f"{record['train_size']} / {record['val_size']} | {cell('before')} | {cell('after')} | "
        f"{comparison['test']}: {comparison['improved']} improved, {comparison['regressed']} regressed, "
        f"p = {comparison['p_value']:.4f} | {record['compile_seconds']:.0f} s, {record['lm']['calls']} LM calls |"
    )


if __name__ == "__main__":
    main()
