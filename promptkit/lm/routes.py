"""Model strings -> routes, without touching the network or importing DSPy/LiteLLM.

A *route* says which kind of backend a model string names:

* ``"fake"``                          -> the offline FakeLM in echo mode;
* ``"local"`` / ``"local:/path.gguf"`` -> the embedded llama.cpp model;
* ``"ollama/NAME"`` / ``"ollama_chat/NAME"`` -> an Ollama server;
* ``"PROVIDER/NAME"``                 -> any other LiteLLM provider (``openai/``, ``anthropic/``,
  ``hosted_vllm/``, ``together_ai/``, an ``openai/`` model behind a vLLM / llama.cpp / LiteLLM proxy ...).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from promptkit.errors import ConfigError

RouteKind = Literal["fake", "local", "ollama", "remote"]

OLLAMA_PREFIXES = ("ollama/", "ollama_chat/")
DEFAULT_OLLAMA_BASE = "http://localhost:11434"

# Hosted providers whose key LiteLLM reads from one environment variable. Without it a call fails
# only after LiteLLM's import and DSPy's retries (8 s here), as a server error; it is said up front.
PROVIDER_KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "groq": "GROQ_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
}

_EXAMPLES = "e.g. 'openai/gpt-4o-mini', 'ollama_chat/qwen2.5:0.5b', 'local' or 'fake'"


@dataclass(frozen=True)
class Route:
    kind: RouteKind
    model: str  # the string handed to dspy.LM (for "local": the original string)
    local_path: str | None = None  # only for "local:/path/to/model.gguf"

    @property
    def provider(self) -> str | None:
        """LiteLLM provider prefix (``openai``, ``ollama_chat`` ...), None for fake/local."""
        return self.model.split("/", 1)[0] if self.kind in ("ollama", "remote") else None

    @property
    def model_name(self) -> str:
        """The model name without the provider prefix (what an Ollama server calls it)."""
        return self.model.split("/", 1)[1] if "/" in self.model else self.model


def parse_route(model: str) -> Route:
    """Classify a model string; raise ConfigError naming the string and the fix when it is unusable."""
    if not isinstance(model, str):
        raise ConfigError(f"model must be a string ({_EXAMPLES}), got {type(model).__name__}")
    text = model.strip()
    if not text:
        raise ConfigError(
            "the model string is empty",
            hint=f"pass a model ({_EXAMPLES}) or set PROMPTKIT_MODEL / model in promptkit.toml",
        )
    lowered = text.lower()
    if lowered == "fake":
        return Route("fake", "fake")
    if lowered == "local":
        return Route("local", text)
    if lowered.startswith("local:"):
        path = text[len("local:") :].strip()
        if not path:
            raise ConfigError(
                f"model {model!r} names no file after 'local:'",
                hint="use 'local' for the bundled model or 'local:/path/to/model.gguf'",
            )
        return Route("local", text, local_path=path)
    provider, slash, name = text.partition("/")
    if not slash:
        raise ConfigError(
            f"model {model!r} has no provider prefix, so promptkit cannot tell which backend serves it",
            hint=f"write it as PROVIDER/NAME, e.g. 'openai/{text}' or 'ollama_chat/{text}' ({_EXAMPLES})",
        )
    if not provider or not name.strip() or any(c.isspace() for c in provider):
        raise ConfigError(
            f"model {model!r} is not of the form PROVIDER/NAME",
            hint=f"give both parts ({_EXAMPLES})",
        )
    kind: RouteKind = "ollama" if lowered.startswith(OLLAMA_PREFIXES) else "remote"
    return Route(kind, text)


def normalize_ollama_base(url: str | None) -> str:
    """Ollama's server root: scheme + host + port (+ any path prefix), with no ``/v1``, ``/api/...`` or ``/``.

    Accepts what people paste: ``localhost:11434``, ``http://host:11434/``, ``http://host:11434/v1``,
    ``http://host:11434/api/chat``. ``None`` or ``""`` means the default ``http://localhost:11434``.
    """
    if url is None or not url.strip():
        return DEFAULT_OLLAMA_BASE
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"Ollama api_base {url!r} is not an http(s) URL",
            hint=f"use e.g. {DEFAULT_OLLAMA_BASE}",
        )
    path = parts.path.rstrip("/")
    for suffix in ("/api/chat", "/api/generate", "/api/tags", "/api", "/v1/chat/completions", "/v1"):
        if path.endswith(suffix):
            path = path[: -len(suffix)].rstrip("/")
            break
    return f"{parts.scheme}://{parts.netloc}{path}"


def normalize_api_base(url: str) -> str:
    """A server URL as written, minus surrounding space and trailing slashes (used for cache namespacing)."""
    text = url.strip().rstrip("/")
    parts = urlsplit(text if "://" in text else "http://" + text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"api_base {url!r} is not an http(s) URL", hint="use e.g. http://127.0.0.1:8000/v1")
    return text


def endpoint_rollout_id(api_base: str) -> int:
    """A stable integer for an endpoint, used as the LM-level ``rollout_id``.

    Why: DSPy leaves ``api_base`` out of its cache key, so two servers serving the same model name
    would share cache entries. ``rollout_id`` is part of the key and is stripped before the request
    is sent, so a per-endpoint value separates the entries without changing what the server sees.
    """
    digest = hashlib.sha256(api_base.encode("utf-8")).hexdigest()
    return int(digest[:15], 16)


def combine_rollout_ids(namespace: int, rollout_id: int) -> int:
    """Mix a caller's rollout_id (BestOfN, Refine, bootstrap rounds) with the endpoint namespace."""
    digest = hashlib.sha256(f"{namespace}:{rollout_id}".encode()).hexdigest()
    return int(digest[:15], 16)


def without_userinfo(url: str) -> str:
    """``https://user:token@host/v1`` -> ``https://host/v1``: URLs are shown in errors and reprs."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = authority.rsplit("@", 1)[1]
    return f"{scheme}://{authority}{slash}{path}"


def missing_key_error(model: str, *, has_key: bool) -> ConfigError | None:
    """The error for a hosted provider called with no key and its key variable unset, else None."""
    env = PROVIDER_KEY_ENV.get(model.split("/", 1)[0])
    if env is None or has_key or os.environ.get(env):
        return None
    return ConfigError(
        f"model {model!r} needs an API key: none was given and {env} is not set",
        hint=f"export {env}=..., or set PROMPTKIT_API_KEY / api_key=... (never in a committed file)",
    )
