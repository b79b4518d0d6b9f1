"""Thought generation: zero-shot and few-shot chain of thought, contrastive CoT, step-back, analogical,
Thread of Thought, Chain-of-Symbol, Auto-CoT (demos built from a question pool), structured CoT for code.

    python examples/techniques_thought_generation.py            # offline (FakeLM)
    python examples/techniques_thought_generation.py --model local --technique cot_zeroshot
"""

from __future__ import annotations

from techniques_common import run, setup

from promptkit.techniques.auto_cot import tfidf_embed

IDS = (
    "cot_zeroshot",
    "cot_fewshot",
    "contrastive_cot",
    "step_back",
    "analogical",
    "thread_of_thought",
    "chain_of_symbol",
    "auto_cot",
    "scot",
)
MATH = "A juggler can juggle 16 balls. Half of the balls are golf balls, and half of the golf balls are blue. How many blue golf balls are there?"  # noqa: E501
PASSAGES = (
    "Passage 1: The Eiffel Tower was completed in 1889.\n"
    "Passage 2: Reclining chairs were popular in the 1970s.\n"
    "Passage 3: Gustave Eiffel's company designed and built the tower for the 1889 World's Fair."
)

# Auto-CoT's unlabeled pool: three kinds of question, so k=3 clusters give one demo of each kind.
QUESTION_POOL = (
    "Tom has 3 apples and buys 5 more. How many apples does he have?",
    "A shop sells 12 apples in the morning and 7 in the afternoon. How many apples did it sell?",
    "A train travels 60 km per hour. How far does the train go in 3 hours?",
    "Two trains leave 300 km apart at 50 and 100 km per hour toward each other. When do the trains meet?",
    "Sara saves 4 coins a day. How many coins does she save in a week?",
    "Each box holds 25 coins. How many boxes do 200 coins fill?",
)


def main() -> None:
    lm, chosen, show = setup(__doc__ or "", IDS)
    if "cot_zeroshot" in chosen:
        run(lm, "cot_zeroshot", {"question": MATH}, extras=("reasoning",), show_prompt=show)
    if "cot_fewshot" in chosen:  # Wei et al.'s GSM8K exemplars go in as FEW_SHOT_EXAMPLES turns
        run(lm, "cot_fewshot", {"question": MATH}, extras=("reasoning",), show_prompt=show)
    if "contrastive_cot" in chosen:
        run(lm, "contrastive_cot", {"question": MATH}, extras=("reasoning",), show_prompt=show)
    if "step_back" in chosen:
        question = {
            "question": "What happens to the pressure of an ideal gas if the temperature doubles and the volume halves?"
        }
        run(lm, "step_back", question, extras=("stepback_question", "stepback_answer"), show_prompt=show)
    if "analogical" in chosen:
        question = {"question": "What is the area of the square with vertices (-2, 2), (2, -2), (-2, -6), (-6, -2)?"}
        run(lm, "analogical", question, extras=("relevant_problems",), show_prompt=show, n_exemplars=3)
    if "thread_of_thought" in chosen:
        run(
            lm,
            "thread_of_thought",
            {"context": PASSAGES, "question": "Who built the Eiffel Tower, and when?"},
            signature="context, question -> answer",
            extras=("reasoning",),
            show_prompt=show,
        )
    if "chain_of_symbol" in chosen:  # built-in spatial demos whose reasoning is symbols (C/A/B, ->, (x,y))
        bricks = {
            "question": "Brick E is on top of brick D. Brick D is on top of brick F. Brick G is alone on the "
            "table. To take a brick, first remove every brick above it. How do you get brick F?"
        }
        run(lm, "chain_of_symbol", bricks, extras=("reasoning",), show_prompt=show)
    if "auto_cot" in chosen:  # TF-IDF vectors keep it offline; leave embed out to use the sentence embedder
        prediction = run(
            lm,
            "auto_cot",
            {"question": MATH},
            extras=("reasoning", "demo_questions"),
            show_prompt=show,
            questions=QUESTION_POOL,
            k=3,
            embed=tfidf_embed,
        )
        if prediction is not None:
            print(f"demo questions (pool indices): {prediction.demo_indices}")
    if "scot" in chosen:  # plan (sequence / branch / loop), then the code that follows it
        requirement = {"requirement": "Return the sum of the even numbers in a list of integers."}
        run(lm, "scot", requirement, signature="requirement -> code", extras=("plan",), show_prompt=show)


if __name__ == "__main__":
    main()
