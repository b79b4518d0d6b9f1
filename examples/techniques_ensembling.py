"""Ensembling: self-consistency (N samples, majority vote, the vote distribution), ensemble refinement,
complexity-based prompting (the most complex demos; a vote over the longest of N chains) and federated
self-consistency (a vote over answers to paraphrases of the question).

    python examples/techniques_ensembling.py                    # offline (FakeLM)
    python examples/techniques_ensembling.py --model openai/gpt-4o-mini --technique self_consistency
"""

from __future__ import annotations

from techniques_common import run, setup

IDS = ("self_consistency", "ensemble_refinement", "complex_cot", "federated_sc")
QUESTION = "When I was 6 my sister was half my age. Now I'm 70. How old is my sister?"


def main() -> None:
    lm, chosen, show = setup(__doc__ or "", IDS)
    if "self_consistency" in chosen:
        prediction = run(
            lm, "self_consistency", {"question": QUESTION}, extras=("votes",), show_prompt=show, n=5, temperature=0.8
        )
        if prediction is not None:
            for index, sample in enumerate(prediction.samples, 1):
                print(f"  sample {index}: {sample.answer}")
    if "ensemble_refinement" in chosen:
        run(
            lm,
            "ensemble_refinement",
            {"question": QUESTION},
            extras=("votes",),
            show_prompt=show,
            n=3,
            m=3,
            temperature=0.8,
        )
    if "complex_cot" in chosen:
        prediction = run(
            lm,
            "complex_cot",
            {"question": QUESTION},
            extras=("votes", "voters"),
            show_prompt=show,
            k=2,
            n=5,
            top_k=3,
            temperature=0.8,
        )
        if prediction is not None:
            for demo in prediction.demos_used:
                print(f"  demo: {demo['question'][:60]}...")
    if "federated_sc" in chosen:
        # A pool of synonymous questions other users asked; without one the model writes the paraphrases.
        pool = {
            QUESTION: [
                "I am 70 now; at 6 I was twice my sister's age. What is her age now?",
                "My sister was half as old as me when I was 6. I am 70 today: how old is she?",
            ]
        }
        for options in ({"n": 3}, {"n": 2, "pool": pool}):
            prediction = run(lm, "federated_sc", {"question": QUESTION}, extras=("votes",), show_prompt=show, **options)
            if prediction is not None:
                for question in prediction.questions:
                    print(f"  asked: {question}")


if __name__ == "__main__":
    main()
