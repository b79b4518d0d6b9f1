"""Decomposition: least-to-most, plan-and-solve (PS+), Tree of Thoughts, metacognitive prompting,
Skeleton-of-Thought, chained tasks (the seed's telecom chain run as a technique), Decomposed Prompting
(a Python calculator handler next to the default LM ``qa`` handler) and three-hop reasoning (THOR).

    python examples/techniques_decomposition.py                 # offline (FakeLM)
    python examples/techniques_decomposition.py --model ollama_chat/qwen2.5 --technique tree_of_thoughts
"""

from __future__ import annotations

from typing import Any

from techniques_common import run, setup

from promptkit.lm import FakeLM

IDS = (
    "least_to_most",
    "plan_and_solve",
    "tree_of_thoughts",
    "metacognitive",
    "skeleton_of_thought",
    "chained_tasks",
    "decomp",
    "thor",
)
SLIDE = (
    "It takes Amy 4 minutes to climb to the top of a slide. It takes her 1 minute to slide down. "
    "The water slide closes in 15 minutes. How many times can she slide before it closes?"
)
FEEDBACK = (
    "My internet dropped three times during work calls this week.\n"
    "I was charged twice for the same month and nobody explains why.\n"
    "The support agent was friendly but I waited 40 minutes on hold."
)

THOR_SENTENCE = "I had to carry the charger everywhere I went with this phone."


def calculator(expression: str) -> str:
    """evaluates an arithmetic expression such as (15 - 1) / 5"""
    allowed = set("0123456789+-*/(). ")
    if not set(expression) <= allowed:  # only arithmetic reaches eval; anything else is an error result
        raise ValueError(f"not an arithmetic expression: {expression!r}")
    return str(eval(expression))  # safe: checked above, digits, operators and parentheses only


# The shared offline script fills fields generically; decomp and thor get replies that follow their flow.
_SCRIPTED = {
    "program": ["[calc] 4 + 1", "[qa] How many whole trips of #1 minutes fit in 15 minutes?"],
    "result": "3",
    "answer": "3",
    "mentioned_aspect": "the battery life of the phone",
    "implicit_opinion": "having to carry a charger everywhere means the battery drains fast, which is annoying",
    "polarity": "negative",
}


def offline(lm: Any) -> Any:
    """A scripted FakeLM for decomp / thor when running offline, else ``lm`` itself."""
    if getattr(lm, "model", "") != "fake/offline-script":
        return lm
    return FakeLM(fn=lambda call: {name: _SCRIPTED[name] for name in call.output_fields}, model=lm.model)


def main() -> None:
    lm, chosen, show = setup(__doc__ or "", IDS)
    if "least_to_most" in chosen:
        run(lm, "least_to_most", {"question": SLIDE}, extras=("subquestions", "subanswers"), show_prompt=show)
    if "plan_and_solve" in chosen:
        run(lm, "plan_and_solve", {"question": SLIDE}, extras=("plan", "solution"), show_prompt=show)
    if "tree_of_thoughts" in chosen:
        run(
            lm,
            "tree_of_thoughts",
            {"question": "Use 4, 9, 10, 13 and + - * / to make 24."},
            extras=("steps",),
            show_prompt=show,
            breadth=2,
            depth=2,
            proposals=2,
        )
    if "metacognitive" in chosen:
        run(
            lm,
            "metacognitive",
            {"question": "Does 'The cat sat on the mat' entail 'A cat was sitting'?"},
            extras=("understanding", "critical_evaluation", "confidence"),
            show_prompt=show,
        )
    if "skeleton_of_thought" in chosen:
        run(
            lm,
            "skeleton_of_thought",
            {"question": "How can I improve my sleep?"},
            extras=("points",),
            show_prompt=show,
            max_points=5,
        )
    if "chained_tasks" in chosen:
        run(
            lm,
            "chained_tasks",
            {"feedback": FEEDBACK},
            signature="feedback -> report",
            show_prompt=show,
            chain="telecom_feedback",
        )
    if "decomp" in chosen:
        run(
            offline(lm),
            "decomp",
            {"question": SLIDE},
            extras=("program", "calls"),
            show_prompt=show,
            handlers={"calc": calculator},
        )
    if "thor" in chosen:
        run(
            offline(lm),
            "thor",
            {"sentence": THOR_SENTENCE, "target": "phone"},
            signature="sentence, target -> polarity",
            extras=("aspect", "opinion"),
            show_prompt=show,
        )


if __name__ == "__main__":
    main()
