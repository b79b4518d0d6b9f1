"""Zero-shot techniques: vanilla, instructed, System 2 Attention, Rephrase and Respond.

    python examples/techniques_zero_shot.py                     # offline (FakeLM)
    python examples/techniques_zero_shot.py --model ollama_chat/qwen2.5 --show-prompt
"""

from __future__ import annotations

from techniques_common import run, setup

IDS = ("vanilla", "instructed", "system2_attention", "rephrase_and_respond")
DISTRACTED = "Mary has 3 apples. Her brother is 12 years old. She buys 4 more apples. How many apples does she have?"
OPINIONATED = "I think the answer is Johnson, but I'm really not sure. Who was the 17th president of the United States?"


def main() -> None:
    lm, chosen, show = setup(__doc__ or "", IDS)
    if "vanilla" in chosen:
        run(lm, "vanilla", {"question": "What is the capital of Australia?"}, show_prompt=show,
            persona="You are a concise geography teacher.")
    if "instructed" in chosen:
        run(lm, "instructed", {"question": DISTRACTED}, show_prompt=show)
    if "system2_attention" in chosen:
        run(lm, "system2_attention", {"question": OPINIONATED}, extras=("rewritten",), show_prompt=show)
    if "rephrase_and_respond" in chosen:
        question = {"question": "Was Abraham Lincoln born in an even month?"}
        run(lm, "rephrase_and_respond", question, extras=("rephrased_question",), show_prompt=show)
        run(lm, "rephrase_and_respond", question, extras=("rephrased_question",), show_prompt=show, two_step=True)


if __name__ == "__main__":
    main()
