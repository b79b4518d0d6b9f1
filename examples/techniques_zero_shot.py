"""Zero-shot techniques: vanilla, instructed, System 2 Attention, Rephrase and Respond, Implicit RAG.

python examples/techniques_zero_shot.py                     # offline (FakeLM)
python examples/techniques_zero_shot.py --model ollama_chat/qwen2.5 --show-prompt
"""

from __future__ import annotations

from techniques_common import run, setup

IDS = ("vanilla", "instructed", "system2_attention", "rephrase_and_respond", "implicit_rag")
DISTRACTED = "Mary has 3 apples. Her brother is 12 years old. She buys 4 more apples. How many apples does she have?"
LEAFLET = (
    "Aspirin irreversibly inhibits cyclooxygenase, which lowers the production of prostaglandins. "
    "It is taken for pain, fever and inflammation, and in low doses to prevent blood clots. "
    "In children and teenagers recovering from viral infections, its use is linked to Reye syndrome, "
    "a rare condition that causes swelling of the liver and brain."
)
OPINIONATED = "I think the answer is Johnson, but I'm really not sure. Who was the 17th president of the United States?"


def main() -> None:
    lm, chosen, show = setup(__doc__ or "", IDS)
    if "vanilla" in chosen:
        run(
            lm,
            "vanilla",
            {"question": "What is the capital of Australia?"},
            show_prompt=show,
            persona="You are a concise geography teacher.",
        )
    if "instructed" in chosen:
        run(lm, "instructed", {"question": DISTRACTED}, show_prompt=show)
    if "system2_attention" in chosen:
        run(lm, "system2_attention", {"question": OPINIONATED}, extras=("rewritten",), show_prompt=show)
    if "rephrase_and_respond" in chosen:
        question = {"question": "Was Abraham Lincoln born in an even month?"}
        run(lm, "rephrase_and_respond", question, extras=("rephrased_question",), show_prompt=show)
        run(lm, "rephrase_and_respond", question, extras=("rephrased_question",), show_prompt=show, two_step=True)
    if "implicit_rag" in chosen:  # snippets_found flags snippets not in the context (offline: all invented)
        run(
            lm,
            "implicit_rag",
            {"context": LEAFLET, "question": "Why should children not take aspirin?"},
            signature="context, question -> answer",
            extras=("snippets", "snippets_found"),
            show_prompt=show,
            max_snippets=2,
            max_words=30,
        )


if __name__ == "__main__":
    main()
