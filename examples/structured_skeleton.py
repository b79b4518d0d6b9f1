"""The seed's structured-prompt skeleton (Google's Vertex AI sample template) as a StructuredPrompt.

    python examples/structured_skeleton.py

Every field holds the placeholder text of the sample, so the output shows where each part of
a prompt goes; copy it and replace the brackets. OBJECTIVE_AND_PERSONA and INSTRUCTIONS are
essential, the middle sections optional (left out when empty), and TASK — the per-call input —
comes last.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout without installing

from promptkit.prompts import StructuredPrompt


def build_skeleton() -> StructuredPrompt:
    return StructuredPrompt(
        persona='a [insert a persona, such as a "math teacher" or "automotive expert"]',
        objective="[insert the objective: what the model has to achieve]",
        instructions=["[first step]", "[second step]", "[...]"],
        constraints={
            "dos": ["[what the model must do, for each aspect that matters]"],
            "donts": ["[what the model must not do]"],
        },
        context="[the provided context]",
        output_format=["[first requirement on the output]", "[second requirement]", "[...]"],
        examples=[
            {
                "input": "[an example input]",
                "thoughts": "[the reasoning that leads to the output]",
                "output": "[the expected output]",
            },
        ],
        recap="[re-emphasize the key aspects of the prompt, especially the constraints, output format, etc.]",
        task="[the input of this call]",
    )


def main() -> int:
    print(build_skeleton().render_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
