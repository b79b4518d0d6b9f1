"""Length budgets per output field, so a reply always closes before ``max_tokens``.

A small model under greedy decoding may write one field until the token limit; a grammar-constrained
JSON object is then cut off and the whole call fails. With a budget per string field (``maxLength``
in the schema, which llama.cpp's grammar, vLLM and Ollama enforce), the object closes in time: the
reply can be wrong, never unparseable.

The budgets share what ``max_tokens`` allows: fields that think (``reasoning``, a ``dspy.Reasoning``,
a plan, a draft) get the bulk, the others (answers, queries, labels) a short cap. A field sets its own
with ``dspy.OutputField(max_length=N)`` (pydantic's constraint, which DSPy also states in the prompt);
``TemplateAdapter(field_budgets={"reasoning": 1500})`` sets some per adapter, ``field_budgets=False``
turns budgets off. Where no schema is enforced the prompt states them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import dspy
from dspy.signatures.signature import Signature

# Characters per token for the budget: English text runs ~4-5 per token on SmolLM2's tokenizer
# (measured 4.8 on a free-running explanation); numbers and punctuation run lower. 3 leaves margin.
CHARS_PER_TOKEN = 3
SHORT_CAP = 300  # an answer, a query, a label: more than enough, and a loop there ends early
MIN_BUDGET = 16
_OBJECT_TOKENS = 8  # braces, and slack for the tokenizer's merges
_KEY_TOKENS = 4  # per field: its quoted key, colon, comma
_NON_STRING_TOKENS = 32  # an int, a bool, a short list: not bounded by characters, only reserved
_THINKING = re.compile(r"reason|rationale|thought|think|explan|analy|plan|draft|critique|feedback|steps?$", re.I)

Budgets = dict[str, int]


def is_thinking(name: str, info: Any) -> bool:
    return info.annotation is dspy.Reasoning or bool(_THINKING.search(name))


def field_budgets(signature: type[Signature], max_tokens: int, overrides: Mapping[str, int] | None = None) -> Budgets:
    """Characters per string output field such that every field fits in ``max_tokens`` together."""
    outputs = signature.output_fields
    strings = {name: info for name, info in outputs.items() if info.annotation in (str, dspy.Reasoning)}
    reserved = _OBJECT_TOKENS + _KEY_TOKENS * len(outputs) + _NON_STRING_TOKENS * (len(outputs) - len(strings))
    available = max(0, max_tokens - reserved) * CHARS_PER_TOKEN
    budgets: Budgets = {}
    for name, info in strings.items():
        own = (overrides or {}).get(name) or _max_length(info)
        if own:
            budgets[name] = int(own)
    free = [name for name in strings if name not in budgets]
    left = available - sum(budgets.values())
    short = [name for name in free if not is_thinking(name, strings[name])]
    long = [name for name in free if name not in short]
    per_short = min(SHORT_CAP, left // max(1, len(free)))
    for name in short:
        budgets[name] = per_short
    left -= per_short * len(short)
    for name in long:
        budgets[name] = left // len(long)
    return {name: max(MIN_BUDGET, budgets[name]) for name in strings}


def _max_length(info: Any) -> int | None:
    """A field's own bound: ``dspy.OutputField(max_length=N)`` (pydantic's constraint)."""
    return next((int(m.max_length) for m in info.metadata if isinstance(getattr(m, "max_length", None), int)), None)


def with_budgets(schema: dict[str, Any], budgets: Budgets) -> dict[str, Any]:
    """``schema`` with ``maxLength`` (and ``minLength: 1``, outputs are never empty) on each budgeted
    string property that has no bounds of its own."""
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not budgets:
        return schema
    bounded = dict(properties)
    for name, budget in budgets.items():
        prop = properties.get(name)
        if isinstance(prop, dict) and prop.get("type") == "string" and "maxLength" not in prop:
            bounded[name] = {"minLength": 1, **prop, "maxLength": budget}
    return {**schema, "properties": bounded}


def max_tokens_of(lm: Any, lm_kwargs: Mapping[str, Any]) -> int | None:
    """The call's token limit: its own, else the LM's default; None when unlimited or unknown."""
    for source in (lm_kwargs, getattr(lm, "kwargs", None) or {}):
        for key in ("max_tokens", "max_completion_tokens"):
            value = source.get(key)
            if isinstance(value, int) and value > 0:
                return value
    return None
