"""Tool use: ReAct with Search / Lookup / Finish over a small docstore (the seed's HotPotQA trace), DSPy's
native dspy.ReAct, and the code techniques (Program of Thoughts, PAL, MathPrompter) whose Python runs in an
OS sandbox.

    python examples/techniques_tool_use.py                      # offline (FakeLM)
    python examples/techniques_tool_use.py --model ollama_chat/qwen2.5 --technique react
"""

from __future__ import annotations

from typing import Any

from techniques_common import HOTPOT_DOCS, HOTPOT_QUESTION, run, setup

from promptkit.lm import FakeLM
from promptkit.techniques.react import DocstoreTools

IDS = ("react", "react_native", "program_of_thought", "pal", "mathprompter")
WORD_PROBLEM = "A baker packs 6 muffins per box and fills 7 boxes. How many muffins does she pack?"


def _offline_mathprompter(call: Any) -> dict[str, Any]:
    """Offline replies for MathPrompter: both solutions over the variables x1 (6 muffins) and x2 (7 boxes)."""
    if call.output_fields == ["expression"]:
        return {"expression": "Answer = x1 * x2"}
    return {"code": "def solution(x1, x2):\n    per_box, boxes = x1, x2\n    return per_box * boxes"}


def main() -> None:
    lm, chosen, show = setup(__doc__ or "", IDS)
    if "react" in chosen:
        prediction = run(
            lm,
            "react",
            {"question": HOTPOT_QUESTION},
            extras=("finished",),
            show_prompt=show,
            tools=DocstoreTools(HOTPOT_DOCS).tools(),
            max_steps=6,
        )
        if prediction is not None:
            print(prediction.trajectory_text)
    if "react_native" in chosen:
        store = DocstoreTools(HOTPOT_DOCS)

        def search(query: str) -> str:
            """Search the encyclopedia for an entity and return its first paragraph."""
            return store.search(query)

        run(
            lm,
            "react_native",
            {"question": HOTPOT_QUESTION},
            extras=("trajectory",),
            show_prompt=show,
            tools=[search],
            max_iters=4,
        )
    for technique in ("program_of_thought", "pal"):
        if technique in chosen:  # refuses with a clear error when the machine has no sandbox
            run(lm, technique, {"question": WORD_PROBLEM}, extras=("code", "result"), show_prompt=show)
    if "mathprompter" in chosen:
        # The shared offline script writes one parameterless program; MathPrompter needs two solutions
        # over the templated variables, so offline it gets its own scripted model.
        model = FakeLM(fn=_offline_mathprompter, model="fake/offline-script") if isinstance(lm, FakeLM) else lm
        run(
            model,
            "mathprompter",
            {"question": WORD_PROBLEM},
            extras=("template", "expression", "code", "verified"),
            show_prompt=show,
            trials=5,
        )


if __name__ == "__main__":
    main()
