"""``promptkit.lm(model, **kw)``: one call that returns a ``dspy.LM`` for any route.

Engine decision: every remote route (any LiteLLM provider, Ollama, an OpenAI-compatible server) uses
DSPy's ``engine="litellm"`` by default, overridable with ``engine=`` or ``Settings.engine``. Why:

* every LiteLLM provider behaves the same way, including the classic Ollama base URL (``/api/chat``);
* ``max_tokens`` is sent as such (the native lm15 engine sends ``max_completion_tokens``, which llama.cpp's
  server ignores and then generates until the context is full);
* ``n`` goes out in one request instead of n requests;
* ``response_format`` reaches Ollama / llama.cpp / vLLM (the native engine drops it for unknown models).

Cost: ``import litellm`` takes about 4 s. It is paid on the first call to a remote model, never when the
LM is built (constructing ``dspy.LM(..., engine="litellm")`` does not import LiteLLM).

Timeouts are never LiteLLM's 6000 s default: ``timeout=settings.timeout`` (60 s unless configured) and
``num_retries=settings.num_retries`` are always passed.
"""

from __future__ import annotations

import os
from typing import Any

import dspy
from pydantic import SecretStr

from promptkit.config import Settings, with_overrides
from promptkit.errors import ConfigError
from promptkit.lm.client import PromptkitLM
from promptkit.lm.routes import Route, normalize_api_base, normalize_ollama_base, parse_route
from promptkit.redaction import register_secret

ENGINES = ("litellm", "auto", "lm15")
DEFAULT_ENGINE = "litellm"
# Sent to OpenAI-compatible servers (vLLM, llama.cpp, ...) when no key is configured: the OpenAI client
# refuses to run without one, and these servers accept any.
NO_KEY_PLACEHOLDER = "sk-no-key-required"


def _secret_value(key: SecretStr | None) -> str | None:
    value = key.get_secret_value() if key is not None else None
    return value or None  # an empty key is no key (DSPy's native engine rejects "")


def lm(
    model: str | None = None,
    *,
    api_base: str | None = None,
    api_key: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    timeout: float | None = None,
    num_retries: int | None = None,
    engine: str | None = None,
    cache: bool | None = None,
    structured_output: str | None = None,
    router: str | os.PathLike[str] | None = None,
    settings: Settings | None = None,
    **extra: Any,
) -> dspy.LM:
    """Build the LM a model string names; see the module docstring and :func:`promptkit.lm.routes.parse_route`.

    Values come from the arguments, else ``settings`` (default: ``load_settings()``, i.e. environment
    ``PROMPTKIT_*`` > ``promptkit.toml`` > defaults). ``extra`` keyword arguments go to ``dspy.LM`` / LiteLLM.
    With a ``router`` config (``PROMPTKIT_ROUTER``, ``router`` in promptkit.toml) the model names one of its
    ``model_name`` groups (see :mod:`promptkit.lm.router`); a model string that is no group is a route as usual.
    """
    if engine is not None and not isinstance(engine, str):
        raise ConfigError(
            f"engine must be one of {', '.join(ENGINES)}, got a {type(engine).__name__}",
            hint="to plug in a custom engine object, build dspy.LM(model, engine=...) directly",
        )
    resolved = with_overrides(
        settings,
        {
            "model": model,
            "api_base": api_base,
            "api_key": api_key,
            "temperature": temperature,
            "max_tokens": max_tokens,
            "timeout": timeout,
            "num_retries": num_retries,
            "engine": engine,
            "structured_output": structured_output,
            "router": os.fspath(router) if router is not None else None,
        },
    )
    if resolved.router and (model is None or model.strip()):
        from promptkit.lm.router import router_lm_for

        routed = router_lm_for(resolved, cache, extra)
        if routed is not None:
            return routed
    if model is not None:
        parse_route(model)  # an explicit "" must fail here, not fall back to the configured model
    route = parse_route(resolved.effective_model)
    if route.kind == "fake":
        from promptkit.lm.fake import FakeLM

        return FakeLM.echo(cache=bool(cache))
    if route.kind == "local":
        return _local_lm(route, resolved, cache, extra)
    return _remote_lm(route, resolved, cache, extra)


def _remote_lm(route: Route, settings: Settings, cache: bool | None, extra: dict[str, Any]) -> PromptkitLM:
    engine = settings.engine or DEFAULT_ENGINE
    if engine not in ENGINES:
        raise ConfigError(
            f"engine {engine!r} (from {settings.source.get('engine', 'argument')}) is not a DSPy engine",
            hint=f"use one of {', '.join(ENGINES)}",
        )
    kwargs: dict[str, Any] = {
        "engine": engine,
        "timeout": settings.timeout,
        "num_retries": settings.num_retries,
        "temperature": settings.temperature,
        "max_tokens": settings.max_tokens,
    }
    if cache is not None:
        kwargs["cache"] = cache
    key = _secret_value(settings.api_key)
    if route.kind == "ollama":
        base = normalize_ollama_base(settings.api_base)
        # LiteLLM wants Ollama's root and POSTs /api/chat; the native engine speaks the OpenAI dialect at /v1.
        api_base: str | None = base if engine == "litellm" else f"{base}/v1"
    else:
        api_base = normalize_api_base(settings.api_base) if settings.api_base else None
        if key is None and api_base and route.provider == "openai" and not os.environ.get("OPENAI_API_KEY"):
            key = NO_KEY_PLACEHOLDER
    if api_base:
        kwargs["api_base"] = api_base
    if key:
        kwargs["api_key"] = key
        register_secret(key)  # whatever later echoes it (a server's 401 text, a log line) gets it scrubbed
    kwargs.update(extra)
    try:
        built = PromptkitLM(route.model, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"cannot build an LM for {route.model!r}: {exc}", hint="check the keyword arguments") from exc
    mode = _structured_mode(route, settings)
    if mode is not None:
        built.structured_output = mode
    return built


def _structured_mode(route: Route, settings: Settings) -> str | None:
    """How this server enforces a JSON schema, as the TemplateAdapter reads it (``lm.structured_output``).

    ``auto``: Ollama takes the OpenAI-style schema (LiteLLM turns it into Ollama's ``format``); an
    OpenAI-compatible server at an ``api_base`` is unknown (vLLM takes json_schema, llama.cpp's server
    answers it with HTTP 500), so it gets none unless configured; hosted providers are left to DSPy's
    capability table (None).
    """
    if settings.structured_output != "auto":
        return settings.structured_output
    if route.kind == "ollama":
        return "json_schema"
    if settings.api_base:
        return "none"
    return None


def _local_lm(route: Route, settings: Settings, cache: bool | None, extra: dict[str, Any]) -> dspy.LM:
    options = dict(extra)
    if cache is not None:
        options["cache"] = cache
    if settings.model is None:
        options.setdefault("default_chosen", True)  # nothing configured: local_lm says once which model runs
    try:
        from promptkit.lm.local import local_lm

        built: dspy.LM = local_lm(route.local_path, settings=settings, **options)
    except ImportError as exc:
        raise ConfigError(
            f"the embedded model ({route.model!r}) is not available: {exc}",
            hint="install it with pip install 'promptkit[local]', or pick a server model (e.g. ollama_chat/NAME)",
        ) from exc
    return built


make_lm = lm


def choose_lm(
    lm: dspy.LM | str | None = None,
    *,
    router: str | os.PathLike[str] | None = None,
    configured: bool = True,
    **options: Any,
) -> dspy.LM:
    """The LM to run with — the one function every command and library entry point chooses it by.

    In order: an LM object given is used as is; with nothing named (no model, router or option) and
    ``configured``, DSPy's configured LM (``dspy.configure`` / ``dspy.context``, e.g. set by a program
    module); otherwise :func:`lm` builds it from the model string, router and options, falling back to the
    settings (environment ``PROMPTKIT_*`` > ``promptkit.toml`` > the embedded model).
    """
    if lm is not None and not isinstance(lm, str):
        return lm
    named = lm is not None or router is not None or any(value is not None for value in options.values())
    if configured and not named and dspy.settings.lm is not None:
        current: dspy.LM = dspy.settings.lm
        return current
    return make_lm(lm, router=router, **options)
