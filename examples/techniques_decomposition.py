"""Decomposition: least-to-most, plan-and-solve (PS+), Tree of Thoughts, metacognitive prompting,
Skeleton-of-Thought, and chained tasks (the seed's telecom chain run as a technique).

    python examples/techniques_decomposition.py                 # offline (FakeLM)
    python examples/techniques_decomposition.py --model ollama_chat/qwen2.5 --technique tree_of_thoughts
"""

from __future__ import annotations

from techniques_common import run, setup

IDS = ("least_to_most", "plan_and_solve", "tree_of_thoughts", "metacognitive", "skeleton_of_thought", "chained_tasks")
SLIDE = (
    "It takes Amy 4 minutes to climb to the top of a slide. It takes her 1 minute to slide down. "
    "The water slide closes in 15 minutes. How many times can she slide before it closes?"
)
FEEDBACK = (
    "My internet dropped three times during work calls this week.\n"
    "I was charged twice for the same month and nobody explains why.\n"
    "The support agent was friendly but I waited 40 minutes on hold."
)


def main() -> None:
    lm, chosen, show = setup(__doc__ or "", IDS)
    if "least_to_most" in chosen:
        run(lm, "least_to_most", {"question": SLIDE}, extras=("subquestions", "subanswers"), show_prompt=show)
    if "plan_and_solve" in chosen:
        run(lm, "plan_and_solve", {"question": SLIDE}, extras=("plan", "solution"), show_prompt=show)
    if "tree_of_thoughts" in chosen:
        run(lm, "tree_of_thoughts", {"question": "Use 4, 9, 10, 13 and + - * / to make 24."}, extras=("steps",),
            show_prompt=show, breadth=2, depth=2, proposals=2)
    if "metacognitive" in chosen:
        run(lm, "metacognitive", {"question": "Does 'The cat sat on the mat' entail 'A cat was sitting'?"},
            extras=("understanding", "critical_evaluation", "confidence"), show_prompt=show)
    if "skeleton_of_thought" in chosen:
        run(lm, "skeleton_of_thought", {"question": "How can I improve my sleep?"}, extras=("points",),
            show_prompt=show, max_points=5)
    if "chained_tasks" in chosen:
        run(lm, "chained_tasks", {"feedback": FEEDBACK}, signature="feedback -> report", show_prompt=show,
            chain="telecom_feedback")


if __name__ == "__main__":
    main()
