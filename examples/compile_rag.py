"""The seed's BootstrapFewShot RAG compilation, with promptkit's compile / evaluate / compare / save / load.

The seed compiled its RAG module with ``BootstrapFewShot(metric=validate_context_and_answer,
max_bootstrapped_demos=2, max_labeled_demos=2)`` and printed ``Evaluate`` scores before and after.
Here the same steps go through promptkit: ``promptkit.compile`` (progress bar, validated options, a
JSON save with metadata and no API key), ``promptkit.evaluate`` into run directories (per-row
results, 95% CIs, reports), ``compare`` (paired test of the two runs) and ``load`` (the saved
program, rebuilt around a retriever, answers exactly like the compiled one).

The corpus is the small biomedical set in examples/data (written for this project), indexed with
the offline MiniLM embedder into an in-memory Qdrant store; the program is ``promptkit.programs.RAG``.

    python examples/compile_rag.py --model fake                       # offline; FakeLM answers are placeholders
    python examples/compile_rag.py --model ollama_chat/qwen2.5:0.5b --out runs/compile_rag

The CLI equivalent (a seeded third of the questions held out for val instead of the last ones):

    promptkit compile examples/compile_rag.py:program --data examples/data/bioasq_qa.jsonl --val-split 0.33 \
        --metric examples/compile_rag.py:validate_context_and_answer --metric exact_match --metric passage_match \
        --option max_bootstrapped_demos=2 --option max_labeled_demos=2 --out runs/compile_rag
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path
from typing import Any

import dspy

from promptkit.adapter import TemplateAdapter
from promptkit.evaluation import compare, evaluate
from promptkit.evaluation.metrics import get as get_metric
from promptkit.optimize import compile, load
from promptkit.programs import RAG
from promptkit.retrieval import Embedder, Retriever, build_index

DATA = Path(__file__).resolve().parent / "data"
PASSAGES = DATA / "bioasq_passages.jsonl"
QUESTIONS = DATA / "bioasq_qa.jsonl"

exact_match = get_metric("exact_match")
passage_match = get_metric("passage_match")


def validate_context_and_answer(example: dspy.Example, prediction: dspy.Prediction, trace: Any = None) -> bool:
    """The seed's metric: the exact answer, and the answer appears in a retrieved passage."""
    return bool(exact_match(example, prediction) and passage_match(example, prediction))


def build_retriever(store: str, k: int) -> Retriever:
    embedder = Embedder()
    build_index(PASSAGES, "bioasq", store=store, embedder=embedder, min_words=20)  # the seed kept > 20 words
    return Retriever(store, embedder, "bioasq", k=k)


def program(k: int = 2) -> RAG:
    """``promptkit compile examples/compile_rag.py:program ...``: the seed's RAG over the example corpus
    (indexed in memory when the program is built)."""
    return RAG(build_retriever("memory", k), k=k)


def load_questions() -> list[dspy.Example]:
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [dspy.Example(question=r["question"], answer=r["answer"]).with_inputs("question") for r in rows]


def main(argv: list[str] | None = None, lm: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="LM route for promptkit.lm (default: the configured model)")
    parser.add_argument("--store", default="memory", help="memory, an index folder, or a Qdrant URL")
    parser.add_argument("--k", type=int, default=2, help="passages per question")
    parser.add_argument("--out", default=None, help="output folder (default runs/compile_rag-<time>)")
    args = parser.parse_args(argv)

    retriever = build_retriever(args.store, args.k)
    if lm is None:
        from promptkit.lm import lm as make_lm  # lazy: only needed once there is something to run

        lm = make_lm(args.model)
    out = Path(args.out or f"runs/compile_rag-{datetime.datetime.now():%Y%m%d-%H%M%S}")
    questions = load_questions()
    trainset, devset = questions[:8], questions[8:]
    metrics: list[Any] = [validate_context_and_answer, "exact_match", "passage_match"]
    # promptkit's adapter sends the output schema where the backend enforces it (the embedded
    # model's grammar); DSPy's default ChatAdapter would not, and a small model then rambles.
    with dspy.context(lm=lm, adapter=TemplateAdapter()):
        before = evaluate(RAG(retriever, k=args.k), devset, metrics, out=out / "before", num_threads=2)
        compiled = compile(
            RAG(retriever, k=args.k),
            trainset,
            validate_context_and_answer,
            "bootstrap_fewshot",
            max_bootstrapped_demos=2,
            max_labeled_demos=2,
            valset=devset,
            save=out / "rag.json",
        )
        after = evaluate(compiled, devset, metrics, out=out / "after", num_threads=2)
        reloaded = load(out / "rag.json", program=RAG(retriever, k=args.k))  # the index is not in the file
        question = devset[0].question
        same = reloaded(question=question).answer == compiled(question=question).answer

    delta = compare(out / "before", out / "after")
    print(f"validate_context_and_answer before: {before.score}  after: {after.score}")
    print(
        f"paired difference {delta.diff} ({delta.test}, p={delta.p_value}); "
        f"improved {len(delta.improved)}, regressed {len(delta.regressed)}"
    )
    print(f"saved program: {out / 'rag.json'}; reloaded program answers the same: {same}")
    print(f"reports: {out / 'before' / 'report.html'}  {out / 'after' / 'report.html'}")
    retriever.store.close()
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
