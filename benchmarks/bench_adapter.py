"""TemplateAdapter format+parse per call vs DSPy's ChatAdapter, same signature and demos, same process:
a text workload and one with an image, a History and an image demo.

Run: .venv/bin/python benchmarks/bench_adapter.py [--rounds 2000]
Target: ratio <= 1.1x.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import dspy

from promptkit.adapter import TemplateAdapter


class QA(dspy.Signature):
    """Answer the question with a short factoid, using the context."""

    context: str = dspy.InputField(desc="passages that may help")
    question: str = dspy.InputField()
    answer: str = dspy.OutputField(desc="a short factoid")


def workload() -> tuple[type[dspy.Signature], list[dict[str, Any]], dict[str, Any]]:
    signature = dspy.ChainOfThought(QA).predict.signature
    demos = [
        {
            "context": f"Passage {i} about topic {i}.",
            "question": f"Question {i}?",
            "reasoning": f"Because {i}.",
            "answer": f"Answer {i}",
        }
        for i in range(3)
    ]
    inputs = {"context": "Paris is the capital of France. " * 5, "question": "What is the capital of France?"}
    return signature, demos, inputs


class Visual(dspy.Signature):
    """Answer about the picture, continuing the conversation."""

    image: dspy.Image = dspy.InputField()
    question: str = dspy.InputField()
    history: dspy.History = dspy.InputField()
    answer: str = dspy.OutputField()


def multimodal_workload() -> tuple[type[dspy.Signature], list[dict[str, Any]], dict[str, Any]]:
    """An image input, a two-turn History and one demo with an image: the drop-in paths."""
    signature = dspy.ChainOfThought(Visual).predict.signature
    image = dspy.Image("https://example.com/cat.png")
    demos = [{"image": image, "question": "Colour?", "reasoning": "It is orange.", "answer": "orange"}]
    history = dspy.History(messages=[{"question": f"Turn {i}?", "answer": f"Reply {i}"} for i in range(2)])
    return signature, demos, {"image": image, "question": "What animal?", "history": history}


WORKLOADS = {"text, 3 demos": workload, "image + history, 1 demo": multimodal_workload}


def per_call(adapter: dspy.Adapter, rounds: int, make: Callable[[], Any] = workload) -> float:
    signature, demos, inputs = make()
    reply = adapter.format_assistant_message_content(signature, {"reasoning": "Paris is named.", "answer": "Paris"})

    def once() -> None:
        adapter.format(signature, demos, inputs)
        adapter.parse(signature, reply)

    return best_of(once, rounds)


def best_of(fn: Callable[[], None], rounds: int, repeats: int = 5) -> float:
    for _ in range(50):  # warm caches (template compile, pydantic schemas)
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(rounds):
            fn()
        samples.append((time.perf_counter() - start) / rounds)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    print("| workload | dspy.ChatAdapter | promptkit.TemplateAdapter | ratio |")
    print("|---|---|---|---|")
    for name, make in WORKLOADS.items():
        chat = per_call(dspy.ChatAdapter(), args.rounds, make)
        template = per_call(TemplateAdapter(), args.rounds, make)
        print(f"| {name} | {chat * 1e6:.0f} µs | {template * 1e6:.0f} µs | {template / chat:.2f} |")
    print(f"\ncommand: .venv/bin/python benchmarks/bench_adapter.py --rounds {args.rounds}")


if __name__ == "__main__":
    main()
