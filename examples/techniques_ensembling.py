"""Ensembling: self-consistency (N samples, majority vote, the vote distribution) and ensemble refinement.

    python examples/techniques_ensembling.py                    # offline (FakeLM)
    python examples/techniques_ensembling.py --model openai/gpt-4o-mini --technique self_consistency
"""

from __future__ import annotations

from techniques_common import run, setup

IDS = ("self_consistency", "ensemble_refinement")
QUESTION = "When I was 6 my sister was half my age. Now I'm 70. How old is my sister?"


def main() -> None:
    lm, chosen, show = setup(__doc__ or "", IDS)
    if "self_consistency" in chosen:
        prediction = run(lm, "self_consistency", {"question": QUESTION}, extras=("votes",),
                         show_prompt=show, n=5, temperature=0.8)
        if prediction is not None:
            for index, sample in enumerate(prediction.samples, 1):
                print(f"  sample {index}: {sample.answer}")
    if "ensemble_refinement" in chosen:
        run(lm, "ensemble_refinement", {"question": QUESTION}, extras=("votes",), show_prompt=show,
            n=3, m=3, temperature=0.8)


if __name__ == "__main__":
    main()
