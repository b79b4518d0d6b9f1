"""Self-criticism: Chain-of-Verification and Self-Refine (critique -> revise until the critique says good).

    python examples/techniques_self_criticism.py                # offline (FakeLM)
    python examples/techniques_self_criticism.py --model local --technique self_refine
"""

from __future__ import annotations

from techniques_common import run, setup

IDS = ("chain_of_verification", "self_refine")


def main() -> None:
    lm, chosen, show = setup(__doc__ or "", IDS)
    if "chain_of_verification" in chosen:
        run(lm, "chain_of_verification", {"question": "Name some politicians who were born in New York."},
            extras=("draft", "verification_questions", "verification_answers"), show_prompt=show)
    if "self_refine" in chosen:
        prediction = run(lm, "self_refine", {"question": "Write a one-sentence tagline for a bike-repair cafe."},
                         extras=("stopped_by",), show_prompt=show, max_rounds=3)
        if prediction is not None:
            for index, round_ in enumerate(prediction.rounds, 1):
                print(f"  round {index}: good={round_['is_good']} feedback={round_['feedback']}")


if __name__ == "__main__":
    main()
