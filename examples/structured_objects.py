"""The seed's classification example as an 8-section structured prompt.

    python examples/structured_objects.py             # the prompt as text
    python examples/structured_objects.py --messages  # the chat messages (JSON) an LM receives

The seed's TASK ("Classify the OBJECTS." with CLASSES Large/Small and OBJECTS Rhino, Mouse,
Snail, Elephant) becomes the TASK section; the other sections say who the model is, how to work
and how to answer.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout without installing

from promptkit.prompts import StructuredPrompt

TASK = """Classify the OBJECTS.
CLASSES:
- Large
- Small
OBJECTS:
- Rhino
- Mouse
- Snail
- Elephant"""


def build_prompt() -> StructuredPrompt:
    return StructuredPrompt(
        persona="a careful assistant who sorts things by their typical physical size",
        objective="assign each object in the task to one of the given classes",
        instructions=[
            "Read the list of CLASSES and the list of OBJECTS in the task.",
            "For each object, think of the typical adult size of that object.",
            "Assign the object to the class that fits it best.",
        ],
        constraints={
            "dos": ["Use only the classes given in the task.", "Classify every object exactly once."],
            "donts": ["Do not add objects or classes.", "Do not explain unless asked."],
        },
        output_format=["One line per object, in the order given.", "Each line reads: <object>: <class>"],
        examples=[
            {
                "input": "CLASSES: Large, Small. OBJECTS: Whale, Ant",
                "thoughts": "A whale is among the largest animals; an ant fits on a fingertip.",
                "output": "Whale: Large\nAnt: Small",
            }
        ],
        recap="Use only the given classes and answer with one '<object>: <class>' line per object.",
        task=TASK,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", action="store_true", help="print the chat messages as JSON")
    args = parser.parse_args(argv)
    prompt = build_prompt()
    if args.messages:
        print(json.dumps(prompt.render_messages(), indent=2, ensure_ascii=False))
    else:
        print(prompt.render_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
