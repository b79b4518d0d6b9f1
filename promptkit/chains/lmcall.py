"""Calling a DSPy LM with already-rendered messages, the DSPy 3.4 way.

In DSPy 3.4.1 ``lm(messages=[{...}])`` is deprecated (scheduled for removal in 3.5); the supported
call is ``lm(dspy.lm15.Request(...))``, which returns a ``dspy.lm15.Response`` carrying the text,
finish reason and token usage, and still goes through DSPy's cache, retries, history and usage
tracking. An explicit Request does not pick up the LM's generation defaults (DSPy applies
``lm.kwargs`` only to the legacy call), so they are copied into the request here, and the LM's
``rollout_id`` (promptkit's per-endpoint / per-FakeLM cache namespace) is passed along so cached
replies never cross endpoints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from promptkit.errors import ConfigError

# Not generation options: connection settings (the LM's engine applies them itself) and DSPy's
# call-level keys. Mirrors what DSPy strips when it builds a request from lm.kwargs.
_NOT_GENERATION = frozenset(
    {
        "api_key", "api_base", "base_url", "headers", "extra_headers", "timeout", "api_version",
        "azure_ad_token_provider", "organization", "project", "extra_query", "custom_llm_provider",
        "n", "rollout_id", "num_generations", "prompt_cache", "cache", "num_retries", "model", "messages",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Reply:
    """One LM reply: text, token usage (0 when the backend reports none) and finish reason."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None


def request_slots(response_format: Mapping[str, Any] | None) -> tuple[Any, Any]:
    """``(response_format, extensions)`` for a request carrying ``response_format`` (built by
    :func:`promptkit.parsing.response_format_for`).

    llama-cpp-python's own dialect (``{"type": "json_object", "schema": ...}``) has no slot in a
    canonical Request, so it travels in ``Config.extensions``, which the LiteLLM engine sends verbatim.
    """
    if response_format is None:
        return None, None
    if response_format.get("type") == "json_object" and "schema" in response_format:
        return None, {"response_format": dict(response_format)}
    return dict(response_format), None


def generation_defaults(lm: Any) -> dict[str, Any]:
    kwargs = getattr(lm, "kwargs", None) or {}
    return {key: value for key, value in kwargs.items() if key not in _NOT_GENERATION and value is not None}


def build_request(
    lm: Any,
    messages: Sequence[Mapping[str, str]],
    *,
    overrides: Mapping[str, Any] | None = None,
    response_format: Any = None,
    extensions: Mapping[str, Any] | None = None,
) -> Any:
    """A ``dspy.lm15.Request`` for ``messages`` with the LM's defaults and the step's overrides."""
    from dspy.lm15 import LM15Error, request_from_openai_chat

    body: dict[str, Any] = {"model": lm.model, "messages": [dict(m) for m in messages], **generation_defaults(lm)}
    body.update({key: value for key, value in (overrides or {}).items() if value is not None})
    if response_format is not None:
        body["response_format"] = response_format
    elif extensions and "response_format" in extensions:
        body.pop("response_format", None)  # the extension carries it
    try:
        request = request_from_openai_chat(body)
    except (LM15Error, TypeError, ValueError) as exc:
        raise ConfigError(
            f"cannot build a request for model {lm.model!r}: {exc}",
            hint="check the LM's generation settings (temperature, max_tokens, ...) and the step's overrides",
        ) from None
    if extensions:
        merged = {**(request.config.extensions or {}), **extensions}
        request = replace(request, config=replace(request.config, extensions=merged))
    return request


def call_lm(lm: Any, request: Any) -> Reply:
    """Send ``request``; usage comes from the response (a cache hit may report none)."""
    extra: dict[str, Any] = {}
    rollout_id = (getattr(lm, "kwargs", None) or {}).get("rollout_id")
    if rollout_id is not None:
        extra["rollout_id"] = rollout_id
    response = lm(request, **extra)
    text = getattr(response, "text", None)
    if text is None and isinstance(response, list) and response:
        # A legacy LM may hand back list[str] (or list[dict]) even for a Request: take the first completion.
        first = response[0]
        text = first.get("text") if isinstance(first, dict) else first
    usage = getattr(response, "usage", None)
    return Reply(
        text=str(text or ""),
        prompt_tokens=int(getattr(usage, "input_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "output_tokens", 0) or 0),
        finish_reason=getattr(response, "finish_reason", None),
    )


__all__ = ["Reply", "build_request", "call_lm", "generation_defaults", "request_slots"]
