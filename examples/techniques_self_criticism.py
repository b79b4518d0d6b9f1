"""Self-criticism: Chain-of-Verification, Self-Refine (critique -> revise until the critique says good),
Logical Thoughts (every reasoning step argued for and against, revised when its negation wins) and
Verify-and-Edit (self-consistency; a split vote gets its rationale fact-checked and edited) and
Chain-of-Knowledge (self-consistency + knowledge domains; a split vote gets each rationale step queried,
grounded in retrieved knowledge and corrected in turn).

    python examples/techniques_self_criticism.py                # offline (FakeLM)
    python examples/techniques_self_criticism.py --model local --technique self_refine
"""

from __future__ import annotations

from techniques_common import HOTPOT_DOCS, HOTPOT_QUESTION, run, setup

IDS = ("chain_of_verification", "self_refine", "logical_thoughts", "verify_and_edit", "cok")


def wiki(query: str) -> list[str]:
    """A toy retriever over the seed's two "Wikipedia" pages: the pages sharing most words with the query."""
    words = set(query.lower().split())
    return sorted(HOTPOT_DOCS.values(), key=lambda page: -len(words & set(page.lower().split())))


def main() -> None:
    lm, chosen, show = setup(__doc__ or "", IDS)
    if "chain_of_verification" in chosen:
        run(
            lm,
            "chain_of_verification",
            {"question": "Name some politicians who were born in New York."},
            extras=("draft", "verification_questions", "verification_answers"),
            show_prompt=show,
        )
    if "self_refine" in chosen:
        prediction = run(
            lm,
            "self_refine",
            {"question": "Write a one-sentence tagline for a bike-repair cafe."},
            extras=("stopped_by",),
            show_prompt=show,
            max_rounds=3,
        )
        if prediction is not None:
            for index, round_ in enumerate(prediction.rounds, 1):
                print(f"  round {index}: good={round_['is_good']} feedback={round_['feedback']}")
    if "logical_thoughts" in chosen:
        prediction = run(
            lm,
            "logical_thoughts",
            {"question": "A shop sells pens in boxes of 6. How many pens are in 7 boxes?"},
            extras=("steps",),
            show_prompt=show,
            max_steps=4,
            max_revisions=2,
        )
        if prediction is not None:
            for check in prediction.checks:
                print(f"  step {check['step']!r}: verdict={check['verdict']}, revised={check['revised']}")
    if "verify_and_edit" in chosen:
        # threshold=1.0 verifies even a unanimous vote, so the offline run shows the whole edit stage;
        # the default (0.5) verifies only when no answer has a strict majority.
        prediction = run(
            lm,
            "verify_and_edit",
            {"question": HOTPOT_QUESTION},
            extras=("votes", "verified", "questions", "answers", "edited_rationale"),
            show_prompt=show,
            n=3,
            threshold=1.0,
            retriever=wiki,
            k=1,
            num_threads=1,
        )
        if prediction is not None:
            for question, passages in zip(prediction.questions, prediction.evidence, strict=True):
                print(f"  evidence for {question!r}: {passages[0][:70]}...")
    if "cok" in chosen:
        # threshold=1.0 corrects even a unanimous vote, so the offline run shows every stage; the default
        # (0.5) corrects only when no answer has a strict majority. A mapping routes each query by source.
        prediction = run(
            lm,
            "cok",
            {"question": HOTPOT_QUESTION},
            extras=("votes", "domains", "corrected", "corrected_rationale"),
            show_prompt=show,
            n=3,
            threshold=1.0,
            retriever={"wikipedia": wiki},
            k=1,
            max_steps=3,
            num_threads=1,
        )
        if prediction is not None:
            for step in prediction.steps:
                print(f"  step {step['original']!r}: query={step['query']!r} -> {step['evidence'][0][:50]}...")


if __name__ == "__main__":
    main()
