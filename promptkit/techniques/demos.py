"""Worked examples for the demo-driven techniques, and the check that user demos fit a signature.

The defaults are for ``question -> answer`` only (any other signature must bring its own demos):
the first three GSM8K exemplars of Wei et al. (2022, arXiv 2201.11903) for few-shot CoT, and
Chia et al.'s (2023, arXiv 2311.09277) contrastive format — a correct and a wrong explanation —
for contrastive CoT (the second wrong explanation is built the paper's way: the bridging numbers
of the correct one, shuffled).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dspy
from dspy.signatures.signature import Signature

from promptkit.errors import InputError

COT_DEMOS: tuple[dict[str, str], ...] = (
    {
        "question": "There are 15 trees in the grove. Grove workers will plant trees in the grove today. "
        "After they are done, there will be 21 trees. How many trees did the grove workers plant today?",
        "reasoning": "There are 15 trees originally. Then there were 21 trees after some more were planted. "
        "So there must have been 21 - 15 = 6.",
        "answer": "6",
    },
    {
        "question": "If there are 3 cars in the parking lot and 2 more cars arrive, "
        "how many cars are in the parking lot?",
        "reasoning": "There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5.",
        "answer": "5",
    },
    {
        "question": "Leah had 32 chocolates and her sister had 42. If they ate 35, "
        "how many pieces do they have left in total?",
        "reasoning": "Originally, Leah had 32 chocolates. Her sister had 42. So in total they had 32 + 42 = 74. "
        "After eating 35, they had 74 - 35 = 39.",
        "answer": "39",
    },
)

CONTRASTIVE_DEMOS: tuple[dict[str, str], ...] = (
    {
        "question": "James writes a 3-page letter to 2 different friends twice a week. "
        "How many pages does he write a year?",
        "reasoning": "He writes each friend 3 * 2 = 6 pages a week. So he writes 6 * 2 = 12 pages every week. "
        "That means he writes 12 * 52 = 624 pages a year.",
        "wrong_reasoning": "He writes each friend 12 * 52 = 624 pages a week. So he writes 3 * 2 = 6 pages every week. "
        "That means he writes 6 * 2 = 12 pages a year.",
        "answer": "624",
    },
    {
        "question": "There are 15 trees in the grove. Grove workers will plant trees in the grove today. "
        "After they are done, there will be 21 trees. How many trees did the grove workers plant today?",
        "reasoning": "There are 15 trees originally and 21 trees afterwards, so the workers planted 21 - 15 = 6 trees.",
        "wrong_reasoning": "There are 21 trees originally and 6 trees afterwards, "
        "so the workers planted 15 - 21 = -6 trees.",
        "answer": "6",
    },
)


def default_demos(sig: type[Signature], demos: Sequence[Mapping[str, str]], technique: str) -> list[dict[str, Any]]:
    """The built-in demos when ``sig`` is ``question -> answer``; otherwise an InputError asking for demos."""
    if list(sig.input_fields) == ["question"] and list(sig.output_fields) == ["answer"]:
        return [dict(d) for d in demos]
    raise InputError(
        f"technique {technique!r} needs demos for signature {sig.signature!r} "
        "(its built-in examples are for 'question -> answer')",
        hint=f"pass demos=[{{{', '.join(repr(k) + ': ...' for k in demo_keys(sig, ('reasoning',)))}}}, ...]",
    )


def demo_keys(sig: type[Signature], extra: Iterable[str]) -> list[str]:
    return [*sig.input_fields, *extra, *sig.output_fields]


def check_demos(
    demos: Iterable[Mapping[str, Any] | dspy.Example], sig: type[Signature], technique: str, extra: Iterable[str]
) -> list[dict[str, Any]]:
    """Each demo as a dict holding every input, every ``extra`` key and every output; else an InputError."""
    needed = demo_keys(sig, extra)
    checked: list[dict[str, Any]] = []
    for index, demo in enumerate(demos):
        values = dict(demo.toDict() if isinstance(demo, dspy.Example) else demo) if _is_mapping(demo) else None
        if values is None:
            raise InputError(
                f"technique {technique!r}: demo #{index + 1} is a {type(demo).__name__}, not a mapping",
                hint=f"give each demo as a dict with keys {', '.join(needed)}",
            )
        missing = [key for key in needed if values.get(key) in (None, "")]
        if missing:
            raise InputError(
                f"technique {technique!r}: demo #{index + 1} has no {', '.join(missing)}",
                hint=f"each demo needs {', '.join(needed)}",
            )
        checked.append(values)
    if not checked:
        raise InputError(f"technique {technique!r}: demos is empty", hint="give at least one worked example")
    return checked


def _is_mapping(value: Any) -> bool:
    return isinstance(value, Mapping | dspy.Example)


def as_examples(demos: Iterable[Mapping[str, Any]], sig: type[Signature]) -> list[dspy.Example]:
    return [dspy.Example(**demo).with_inputs(*sig.input_fields) for demo in demos]
