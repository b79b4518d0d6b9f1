"""The seed's bioasq RAG, ported to promptkit and DSPy 3.4.

The seed read rag-mini-bioasq from the Hugging Face hub, kept passages with more than 20 words,
embedded them with all-MiniLM-L6-v2 in a hand-written ``dspy.Retrieve`` subclass, and compiled a
``RAG`` module with ``BootstrapFewShot``. Here the passages are a small biomedical corpus shipped in
``examples/data`` (written for this project), the retriever is ``promptkit.retrieval.Retriever``
(offline MiniLM + a Qdrant engine) and the program is ``promptkit.programs.RAG``.

    python examples/rag_bioasq.py                       # FakeLM: runs offline, answers are placeholders
    python examples/rag_bioasq.py --model ollama_chat/qwen2.5:0.5b
    python examples/rag_bioasq.py --store ./bioasq-index --save compiled_rag.json

2.4 -> 3.4 porting notes: ``dspy.settings.configure`` -> ``dspy.configure``; the ``RetrievalModel``
class -> ``Retriever`` (still usable as ``rm``); ``Evaluate(display_table=...)`` needs pandas, so the
table is off; ``BootstrapFewShot.compile(rag, trainset=...)`` is unchanged.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import dspy

from promptkit import configure
from promptkit.programs import RAG
from promptkit.retrieval import Embedder, Retriever, build_index

DATA = Path(__file__).resolve().parent / "data"
PASSAGES = DATA / "bioasq_passages.jsonl"
QUESTIONS = DATA / "bioasq_qa.jsonl"
COLLECTION = "bioasq"


def build_retriever(store: str = "memory", k: int = 2, embedder: Embedder | None = None) -> Retriever:
    """Index the passages with more than 20 words (the seed's filter) and return a retriever over them."""
    embedder = embedder if embedder is not None else Embedder()
    report = build_index(PASSAGES, COLLECTION, store=store, embedder=embedder, min_words=20)
    print(
        f"indexed {report.kept} of {report.loaded} passages ({report.added} new) into {report.store} "
        f"[{report.engine}, {report.embedder}]"
    )
    return Retriever(store, embedder, COLLECTION, k=k)


def load_dataset() -> list[dspy.Example]:
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [dspy.Example(question=r["question"], answer=r["answer"]).with_inputs("question") for r in rows]


def validate_context_and_answer(example: dspy.Example, pred: dspy.Prediction, trace: Any = None) -> bool:
    """The seed's metric: the exact answer, and the answer appears in a retrieved passage."""
    answer_em = dspy.evaluate.answer_exact_match(example, pred)
    answer_pm = dspy.evaluate.answer_passage_match(example, pred)
    return bool(answer_em and answer_pm)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="fake", help="LM route for promptkit.lm (default: fake)")
    parser.add_argument("--store", default="memory", help="memory, an index folder, or a Qdrant URL")
    parser.add_argument("--k", type=int, default=2, help="passages per question")
    parser.add_argument("--question", default="Which cell may suffer from anemia?")
    parser.add_argument("--save", help="save the compiled program to this JSON file")
    args = parser.parse_args(argv)

    retriever = build_retriever(args.store, k=args.k)
    for passage in retriever(args.question, k=args.k):
        print(f"  {passage.score:.3f}  [{passage.source_id}] {passage.text[:100]}")

    from promptkit.lm import lm as make_lm  # lazy: the LM layer is only needed from here on

    llm = make_lm(args.model)
    # the seed's dspy.settings.configure(lm=llm, rm=rm), with promptkit's TemplateAdapter as the adapter
    configure(lm=llm, rm=retriever)
    rag = RAG(k=args.k)  # no retriever given: uses the configured rm, like the seed's dspy.Retrieve
    pred = rag(question=args.question)
    print(f"Question: {args.question}")
    print(f"Predicted Answer: {pred.answer}")
    print(f"Retrieved Contexts (truncated): {[c[:200] + '...' for c in pred.context]}")

    dataset = load_dataset()
    trainset, devset = dataset[:4], dataset[8:12]
    evaluate = dspy.Evaluate(devset=devset, metric=validate_context_and_answer, num_threads=1, display_progress=False)
    print(f"Evaluation before compiling: {evaluate(rag).score:.1f}%")
    teleprompter = dspy.BootstrapFewShot(
        metric=validate_context_and_answer, max_bootstrapped_demos=2, max_labeled_demos=2
    )
    compiled = teleprompter.compile(rag, trainset=trainset)
    print(f"Evaluation after compiling: {evaluate(compiled).score:.1f}%")
    if args.save:
        compiled.save(args.save)
        print(f"saved the compiled program to {args.save} (load it with RAG(retriever).load(path))")
    retriever.store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
