"""The ``response_format`` that makes a route enforce a JSON schema, by what the route understands.

``structured_mode(lm)`` says how an LM can enforce a schema:

* ``json_schema`` — OpenAI-style ``{"type": "json_schema", ...}`` (OpenAI, vLLM, Ollama through
  LiteLLM, the embedded model's grammar);
* ``json_object_schema`` — llama.cpp's server dialect ``{"type": "json_object", "schema": ...}``;
* ``none`` — nothing can be enforced: ask in the prompt and parse tolerantly.

The adapter and chain steps both build their request's ``response_format`` here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STRUCTURED_MODES: tuple[str, ...] = ("json_schema", "json_object_schema", "none")


def structured_mode(lm: Any) -> str:
    """How ``lm`` can enforce a JSON schema: ``json_schema``, ``json_object_schema`` or ``none``.

    promptkit's LM factory states it as ``lm.structured_output``; for any other LM we ask DSPy
    whether the model supports response schemas.
    """
    stated = getattr(lm, "structured_output", None)
    if isinstance(stated, str):
        return stated
    try:
        return "json_schema" if lm.supports_response_schema else "none"
    except Exception:  # capability lookup can fail for unknown providers: treat as unsupported
        return "none"


def response_format_for(
    schema: Mapping[str, Any] | None, mode: str, *, name: str = "promptkit_output"
) -> dict[str, Any] | None:
    """The ``response_format`` for ``schema`` on a route of ``mode``; None when nothing can be enforced.

    Without a schema (an open-ended dict output) a route can still be held to *some* JSON object.
    """
    if mode == "none":
        return None
    if schema is None:
        return {"type": "json_object"}
    if mode == "json_object_schema":
        # A llama.cpp server turns the schema into a grammar, like the embedded engine, and a tiny
        # model closes a free string at once: outputs must not be empty there either.
        from promptkit.lm.grammar import non_empty_strings

        return {"type": "json_object", "schema": non_empty_strings(dict(schema))}
    return {"type": "json_schema", "json_schema": {"name": name, "schema": dict(schema), "strict": strict_ok(schema)}}


def strict_ok(schema: Any) -> bool:
    """OpenAI's strict mode takes closed objects whose properties are all required; anything else is sent
    non-strict (backends that compile the schema to a grammar, like llama.cpp, enforce it either way)."""
    if not isinstance(schema, Mapping):
        return True
    if schema.get("type") == "object":
        properties = schema.get("properties") or {}
        if schema.get("additionalProperties") is not False or set(schema.get("required") or ()) != set(properties):
            return False
        return all(strict_ok(sub) for sub in properties.values())
    if schema.get("type") == "array":
        return strict_ok(schema.get("items"))
    return True
