"""Turn a ``dspy.lm15.Request`` into llama.cpp chat messages, refusing what the embedded model cannot do.

Refusals are :class:`ConfigError`s naming the option: DSPy's own ingest already rejects unknown keys,
so these are canonical Request fields that would otherwise be dropped without a word.
"""

from __future__ import annotations

from typing import Any

from dspy.lm15 import Request

from promptkit.errors import ConfigError

_UNSUPPORTED_CONFIG = {
    "tool_choice": "tool calling is not supported by the embedded model",
    "reasoning": "the embedded model has no reasoning/thinking control",
    "logprobs": "log-probabilities are not returned by the embedded engine",
    "probabilities": "probability policies are not supported by the embedded engine",
    "cache": "provider-side prompt caching does not apply (llama.cpp already reuses the prompt prefix)",
    "service_tier": "service tiers do not apply to an in-process model",
    "store": "server-side storage does not apply to an in-process model",
    "user_id": "end-user identifiers do not apply to an in-process model",
}


def refuse_unsupported(request: Request) -> None:
    """Raise :class:`ConfigError` naming the first option the engine cannot honour."""
    if request.tools:
        names = ", ".join(getattr(tool, "name", "?") for tool in request.tools)
        raise ConfigError(
            f"option 'tools' ({names}): tool/function calling is not supported by the embedded local model",
            hint="drop tools=, or use dspy.ReAct, which picks tools through output fields the grammar can constrain",
        )
    for name, reason in _UNSUPPORTED_CONFIG.items():
        if getattr(request.config, name) is not None:
            raise ConfigError(f"option {name!r}: {reason}", hint=f"remove {name}= from the call or the LM settings")
    if request.config.extensions:
        keys = ", ".join(sorted(request.config.extensions))
        raise ConfigError(f"option(s) {keys}: not supported by the embedded local model", hint=f"remove {keys}")


def chat_messages(request: Request) -> list[dict[str, str]]:
    """OpenAI-style text messages for llama.cpp's chat template; refuses non-text content."""
    messages: list[dict[str, str]] = []
    if request.system is not None:
        system = request.system if isinstance(request.system, str) else _text_of(request.system, "system prompt")
        messages.append({"role": "system", "content": system})
    for index, message in enumerate(request.messages):
        if message.role == "tool":
            raise ConfigError(
                f"message {index} is a tool result: tool calling is not supported by the embedded local model",
                hint="send tool results as text in a user message",
            )
        text = message.text
        if text is None:
            text = _text_of(message.parts, f"message {index} ({message.role})")
        # llama.cpp chat templates know system/user/assistant; a developer message is a system instruction.
        role = "system" if message.role == "developer" else message.role
        messages.append({"role": role, "content": text})
    return messages


def _text_of(parts: Any, where: str) -> str:
    texts = []
    for part in parts:
        text = getattr(part, "text", None)
        kind = getattr(part, "type", type(part).__name__)
        if kind != "text" or text is None:
            raise ConfigError(
                f"{where} contains a {kind} part: the embedded model reads text only",
                hint="send text, or use a multimodal model through another backend",
            )
        texts.append(text)
    return "\n".join(texts)
