"""Shared by the ``techniques_*.py`` examples: the ``--model`` flag, an offline scripted model, printing.

``--model fake`` (the default) runs offline on a FakeLM whose replies are computed from each prompt's
fields (a plan for a plan, Python for code, ReAct actions that follow the seed's HotPotQA trace), so
every technique shows its full control flow without a server. Any other value goes to
``promptkit.lm`` (``ollama_chat/qwen2.5``, ``openai/gpt-4o-mini``, ``local``, ...).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

import dspy

from promptkit.adapter import TemplateAdapter
from promptkit.errors import PromptkitError
from promptkit.techniques import get

# The seed's HotPotQA question and the two "Wikipedia" pages its trace reads.
HOTPOT_QUESTION = (
    "What is the elevation range for the area that the eastern sector of the Colorado orogeny extends into?"
)
HOTPOT_DOCS = {
    "Colorado orogeny": "The Colorado orogeny was an episode of mountain building (an orogeny) in Colorado and "
    "surrounding areas. The eastern sector extends into the High Plains and is called the Central Plains orogeny.",
    "High Plains": "The High Plains are a subregion of the Great Plains. From east to west, the High Plains rise in "
    "elevation from around 1,800 to 7,000 ft (550 to 2,130 m).",
}
_REACT_SCRIPT = (
    "Search[Colorado orogeny]",
    "Lookup[eastern sector]",
    "Search[High Plains]",
    "Finish[1,800 to 7,000 ft]",
)


def _offline_chain_reply(prompt: str) -> str:
    """Raw text for a chain step (chains call the LM without a DSPy adapter): list or JSON as asked."""
    if "separated by semicolon" in prompt:
        return "internet dropped during calls; charged twice for one month; long wait on hold"
    if "category as the value" in prompt:
        return json.dumps(
            {
                "internet dropped during calls": "service reliability",
                "charged twice for one month": "pricing concerns",
                "long wait on hold": "customer support quality",
            }
        )
    return json.dumps(
        {
            "service reliability": "add capacity where calls drop and publish outage updates",
            "pricing concerns": "audit double charges and refund them automatically",
            "customer support quality": "add a call-back option when the hold time passes 10 minutes",
        }
    )


def _offline_reply(call: Any) -> dict[str, Any] | str:
    """A plausible value for every output field the current step asks for."""
    if call.signature is None:
        return _offline_chain_reply(call.last_user_message)
    inputs = call.inputs
    first = str(next(iter(inputs.values()), ""))
    reply: dict[str, Any] = {}
    for name in call.output_fields:
        annotation = call.signature.output_fields[name].annotation if call.signature is not None else str
        if name == "code":
            reply[name] = "def solution():\n    per_box, boxes = 6, 7\n    return per_box * boxes\n\nans = solution()"
        elif name == "action":
            done = str(inputs.get("trajectory", "")).count("Observation")
            reply[name] = _REACT_SCRIPT[min(done, len(_REACT_SCRIPT) - 1)]
        elif name == "next_tool_name":
            reply[name] = "finish" if "observation_0" in str(inputs.get("trajectory", "")) else "search"
        elif name == "next_tool_args":
            reply[name] = {} if "observation_0" in str(inputs.get("trajectory", "")) else {"query": "High Plains"}
        elif name == "is_good":
            reply[name] = "(revised)" in str(inputs.get("draft", ""))
        elif name == "evaluation":
            reply[name] = "sure" if "second" in str(inputs.get("steps_so_far", "")) else "likely"
        elif annotation == list[str]:
            reply[name] = ["first step", "second step"]
        elif name in ("answer", "report") and "draft" in inputs and "feedback" in inputs:
            reply[name] = "42 (revised)"
        elif name == "answer" and any(ch.isdigit() for ch in first):
            reply[name] = "42"
        elif annotation is int:
            reply[name] = 42
        else:
            reply[name] = f"[offline {name}] for: {first[:50]}"
    return reply


def make_lm(model: str) -> Any:
    if model == "fake":
        from promptkit.lm import FakeLM

        return FakeLM(fn=_offline_reply, model="fake/offline-script")
    from promptkit.lm import lm

    return lm(model)


def parse_args(description: str, technique_ids: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", default="fake", help="fake (offline, default), local, ollama_chat/NAME, ...")
    parser.add_argument("--technique", choices=list(technique_ids), help="run only this technique")
    parser.add_argument("--show-prompt", action="store_true", help="print the messages of each LM call")
    return parser.parse_args()


def setup(description: str, technique_ids: Sequence[str]) -> tuple[Any, tuple[str, ...], bool]:
    """The command line every technique example takes: ``(lm, chosen technique ids, show_prompt)``."""
    args = parse_args(description, technique_ids)
    chosen = (args.technique,) if args.technique else tuple(technique_ids)
    return make_lm(args.model), chosen, args.show_prompt


def run(
    lm: Any,
    technique_id: str,
    inputs: dict[str, Any],
    *,
    signature: str = "question -> answer",
    extras: Sequence[str] = (),
    show_prompt: bool = False,
    **options: Any,
) -> Any:
    """Build ``technique_id`` over ``signature``, run it on ``inputs``, print what it produced."""
    info = get(technique_id)
    print(f"\n=== {info.id}: {info.name} — {info.authors} {info.year}, arXiv {info.arxiv} ===")
    print(f"LM calls: {info.calls}")
    before = len(lm.history)
    try:
        with dspy.context(lm=lm, adapter=TemplateAdapter()):
            prediction = info.build(signature, **options)(**inputs)
    except PromptkitError as exc:
        print(f"{type(exc).__name__}: {exc}")
        return None
    calls = lm.history[before:]
    if show_prompt:
        for index, entry in enumerate(calls, 1):
            for message in entry.get("messages") or []:
                print(f"--- call {index} / {message['role']} ---\n{message['content']}")
    for name in dspy.ensure_signature(signature).output_fields:
        print(f"{name}: {prediction.get(name)}")
    for name in extras:
        print(f"{name}: {prediction.get(name)}")
    print(f"({len(calls)} LM call{'s' if len(calls) != 1 else ''})")
    return prediction
