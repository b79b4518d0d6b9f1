"""The seed's three-task prompt chain on telecom customer feedback, built with promptkit's Python API.

1. extract the main issues and sentiments (a list, separated by semicolons);
2. classify them into service reliability / pricing concerns / customer support quality / others (JSON);
3. recommend actions per category (JSON, validated against a schema file).

The same chain ships as a YAML spec, ``pipelines/telecom_feedback.yaml``; this script builds it in
Python from the same templates to show ``Chain`` / ``Step``. Each step's parsed output feeds the next
step's template; the JSON steps are validated (and re-asked once when the reply does not fit).

    python examples/telecom_chain.py --fake                       # offline, a scripted FakeLM
    python examples/telecom_chain.py                              # PROMPTKIT_MODEL, else the embedded model
    python examples/telecom_chain.py --model ollama_chat/qwen2.5:0.5b --json
    promptkit chain pipelines/telecom_feedback.yaml --input feedback=@pipelines/data/telecom_feedback.txt
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from promptkit.chains import Chain, ChainResult, Step

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"
FEEDBACK = PIPELINES / "data" / "telecom_feedback.txt"
CATEGORIES = ["service reliability", "pricing concerns", "customer support quality", "others"]


def build_chain() -> Chain:
    return Chain(
        name="telecom_feedback",
        inputs={"feedback": {"type": "str", "description": "customer comments, one per line"}},
        steps=[
            Step(name="extract", template="telecom_feedback/extract.j2", output="list", separator=";"),
            Step(
                name="classify",
                template="telecom_feedback/classify.j2",
                inputs={"issues": "extract"},
                output="json",
                schema={
                    "type": "object",
                    "minProperties": 1,
                    "additionalProperties": {"type": "string", "enum": CATEGORIES},
                },
            ),
            Step(
                name="recommend",
                template="telecom_feedback/recommend.j2",
                inputs={"classification": "classify"},
                output="json",
                schema="telecom_feedback/recommendations.schema.json",
            ),
        ],
        output=["classify", "recommend"],
        base_dir=PIPELINES,  # template names and the schema file are relative to pipelines/
    )


def scripted_lm() -> Any:
    """An offline analyst: answers computed from each prompt, so the data flow is real (content is not)."""
    from promptkit.lm import FakeCall, FakeLM

    words = {
        "service reliability": ("dropped", "slow", "outage"),
        "pricing concerns": ("charged", "price", "bill"),
        "customer support quality": ("support", "hold", "agent", "technician"),
    }

    def answer(call: FakeCall) -> str:
        prompt = call.last_user_message
        body = prompt.split("Input:", 1)[1]
        if prompt.startswith("Extract"):
            return "; ".join(" ".join(line.split()[:7]) for line in body.strip().splitlines())
        if prompt.startswith("Classify"):
            issues = re.findall(r"^- (.+)$", body, re.MULTILINE)
            return json.dumps(
                {i: next((c for c, ws in words.items() if any(w in i.lower() for w in ws)), "others") for i in issues}
            )
        return json.dumps({c: f"Review the {c} complaints and assign an owner." for c in CATEGORIES[:3]})

    return FakeLM(fn=answer)


def show(result: ChainResult) -> None:
    for step in result:
        print(f"== {step.name}  ({step.tokens['total']} tokens, {step.latency:.2f} s, retries {step.retries})")
        print(json.dumps(step.output, indent=2, ensure_ascii=False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="LM route for promptkit.lm (default: the configured model)")
    parser.add_argument("--fake", action="store_true", help="use a scripted FakeLM (offline, instant)")
    parser.add_argument("--feedback", type=Path, default=FEEDBACK, help="a text file of customer comments")
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON")
    args = parser.parse_args(argv)

    lm: Any = None  # None: dspy.settings.lm, else promptkit.lm() (PROMPTKIT_MODEL or the embedded model)
    if args.fake:
        lm = scripted_lm()
    elif args.model:
        from promptkit.lm import lm as make_lm

        lm = make_lm(args.model)
    result = build_chain().run(lm, feedback=args.feedback.read_text(encoding="utf-8"))
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        show(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
