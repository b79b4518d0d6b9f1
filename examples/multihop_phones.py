"""The seed's multi-hop RAG over phone reviews in Qdrant, ported to promptkit and DSPy 3.4.

Per hop, a ``GenerateSearchQuery`` predictor writes a search query from the question and the
context gathered so far; the passages it retrieves are merged with ``deduplicate``; then the answer
is generated from the whole context. The reviews (``examples/data/phone_reviews.jsonl``) were
written for this project.

    python examples/multihop_phones.py                  # FakeLM: runs offline, answers are placeholders
    python examples/multihop_phones.py --model ollama_chat/qwen2.5:0.5b --hops 3

2.4 -> 3.4 porting notes: ``from dsp.utils import deduplicate`` -> ``dspy.dsp.utils.deduplicate``
(used inside ``MultiHopRAG``); ``QdrantRM`` and ``client.add`` (fastembed) are gone -> promptkit's
``build_index`` + ``Retriever`` over the same Qdrant ``:memory:`` engine;
``answer_exact_match_str(x, xs, frac=0.8)`` -> ``F1(x, xs) >= 0.8``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import dspy
from dspy.evaluate.metrics import F1

from promptkit import configure
from promptkit.programs import MultiHopRAG
from promptkit.retrieval import Embedder, Retriever, build_index

DATA = Path(__file__).resolve().parent / "data"
REVIEWS = DATA / "phone_reviews.jsonl"
COLLECTION = "phone_collection"

TRAINSET = [
    (
        "Which phones have the best camera quality and battery life based on recent reviews and specifications?",
        "Galaxy S23 Ultra, iPhone 13 Pro Max",
    ),
    (
        "What are the top-rated phones with the best display and performance in the market right now?",
        "iPhone 14 Pro, OnePlus 10 Pro, Sony Xperia 1 III",
    ),
    (
        "Can you recommend phones that have the best user interface and build quality according to recent user "
        "reviews?",
        "Nokia 8.3 5G, Sony Xperia 1 III",
    ),
]


def build_retriever(store: str = "memory", k: int = 3, embedder: Embedder | None = None) -> Retriever:
    embedder = embedder if embedder is not None else Embedder()
    report = build_index(REVIEWS, COLLECTION, store=store, embedder=embedder)
    print(f"indexed {report.total} reviews into {report.store} [{report.engine}]")
    return Retriever(store, embedder, COLLECTION, k=k)


def validate_answer_and_hops(example: dspy.Example, pred: dspy.Prediction, trace: Any = None) -> bool:
    """The seed's metric: short search queries, and no hop that repeats an earlier one."""
    queries = [outputs.query for *_, outputs in (trace or []) if "query" in outputs]
    hops = [example.question, *queries]
    if max(len(h) for h in hops) > 100:
        return False
    return not any(F1(hops[idx], hops[:idx]) >= 0.8 for idx in range(2, len(hops)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="fake", help="LM route for promptkit.lm (default: fake)")
    parser.add_argument("--store", default="memory", help="memory, an index folder, or a Qdrant URL")
    parser.add_argument("--passages-per-hop", type=int, default=3)
    parser.add_argument("--hops", type=int, default=2)
    parser.add_argument(
        "--question",
        default="Which smartphones are highly rated for its low-light camera performance "
        "also have a great front camera",
    )
    args = parser.parse_args(argv)

    retriever = build_retriever(args.store, k=args.passages_per_hop)
    from promptkit.lm import lm as make_lm  # lazy: the LM layer is only needed from here on

    configure(lm=make_lm(args.model))  # dspy.configure with promptkit's TemplateAdapter
    trainset = [dspy.Example(question=q, answer=a).with_inputs("question") for q, a in TRAINSET]
    uncompiled = MultiHopRAG(retriever, passages_per_hop=args.passages_per_hop, max_hops=args.hops)
    compiled = dspy.BootstrapFewShot(metric=validate_answer_and_hops).compile(uncompiled, trainset=trainset)
    for label, program in (("uncompiled", uncompiled), ("compiled", compiled)):
        pred = program(question=args.question)
        print(f"--- {label}")
        for number, hop in enumerate(pred.hops, start=1):
            print(f"hop {number}: query={hop['query']!r}")
            for passage in hop["passages"]:
                print(f"    {passage.score:.3f}  {passage.title}")
        print(f"context: {len(pred.context)} distinct passages")
        print(f"answer: {pred.answer}")
    retriever.store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
