"""The seed's MATH-algebra evaluation, ported to promptkit and DSPy 3.4.

The seed loaded ``dspy.datasets.MATH(subset='algebra')`` from the Hugging Face hub, ran
``dspy.ChainOfThought("question -> answer")`` on ten dev rows and scored them with
``dspy.Evaluate(devset=dev, metric=dataset.metric)``. Here the rows come from a local MATH file
(by default the MATH-500 copy in ../shared/data, filtered to the Algebra subject), the metric is
promptkit's ``math_equiv`` (boxed-answer equivalence) and ``promptkit.evaluate`` writes a run
directory: results.jsonl (resumable), summary.json with a 95% CI, report.html / report.md.

    python examples/math_algebra_eval.py --limit 10                      # the configured model
    python examples/math_algebra_eval.py --model ollama_chat/qwen2.5:0.5b --limit 50 --threads 4
    python examples/math_algebra_eval.py --out runs/algebra --resume     # continue an interrupted run

2.4 -> 3.4 porting notes: ``dspy.datasets.MATH`` needs the ``datasets`` package and the hub (and its
metric the ``math_equivalence`` package from GitHub), so a local file is read instead; the
dataset's ``dev[0:10]`` slice is ``--limit 10``.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path
from typing import Any

import dspy

from promptkit.adapter import TemplateAdapter
from promptkit.datasets import load
from promptkit.evaluation import evaluate
from promptkit.evaluation.report import summary_table

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "math" / "math500.jsonl"


def load_algebra(path: str | Path, subject: str = "Algebra") -> list[dspy.Example]:
    """MATH rows of one subject; input ``question``, gold ``answer`` (the final answer only)."""
    rows = [row for row in load(path, format="math") if row.get("subject") == subject]
    if not rows:
        raise SystemExit(f"no {subject!r} rows in {path}")
    return rows


def main(argv: list[str] | None = None, lm: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="a MATH / MATH-500 JSONL file")
    parser.add_argument("--subject", default="Algebra")
    parser.add_argument("--limit", type=int, default=10, help="rows to evaluate (the seed used 10)")
    parser.add_argument("--model", default=None, help="LM route for promptkit.lm (default: the configured model)")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--out", default=None, help="run directory (default runs/math_algebra-<time>)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--fail-under", type=float, default=None, help="exit 3 when math_equiv is below this")
    args = parser.parse_args(argv)

    rows = load_algebra(args.data, args.subject)
    if lm is None:
        from promptkit.lm import lm as make_lm  # lazy: only needed once there is something to run

        lm = make_lm(args.model)
    out = Path(args.out or f"runs/math_algebra-{datetime.datetime.now():%Y%m%d-%H%M%S}")
    module = dspy.ChainOfThought("question -> answer")
    # promptkit's adapter sends the output schema where the backend enforces it (the embedded
    # model's grammar); DSPy's default ChatAdapter would not, and a small model then rambles.
    with dspy.context(lm=lm, adapter=TemplateAdapter()):
        example = rows[0]
        print("Question:", example.question)
        print("Answer:", example.answer)
        print(module(question=example.question))
        result = evaluate(
            module,
            rows,
            ["math_equiv"],
            num_threads=args.threads,
            out=out,
            resume=args.resume,
            limit=args.limit,
            fail_under=args.fail_under,
        )

    from rich.console import Console

    Console().print(summary_table(result.summary))
    print(f"report: {out / 'report.html'}")
    return 3 if result.passed is False else 0


if __name__ == "__main__":
    sys.exit(main())
