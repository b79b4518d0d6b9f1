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

import asyncio
import os
from dataclasses import replace
from typing import Any

import dspy
from dspy.lm15 import Request
from pydantic import SecretStr

from promptkit.config import Settings, with_overrides
from promptkit.errors import BackendError, BackendUnavailableError, ConfigError, PromptkitError
from promptkit.lm import retries
from promptkit.lm.cache_entries import answerable_from_cache, forget_cached
from promptkit.lm.failures import causes, translate_failure, unreachable_reason, without_secrets
from promptkit.lm.ollama import check_ollama_model
from promptkit.lm.retries import IN_PROMPTKIT_LOOP, Attempts
from promptkit.lm.routes import (
    DEFAULT_OLLAMA_BASE,
    OLLAMA_PREFIXES,
    Route,
    combine_rollout_ids,
    endpoint_rollout_id,
    missing_key_error,
    normalize_api_base,
    normalize_ollama_base,
    parse_route,
    without_userinfo,
)
from promptkit.redaction import register_secret

ENGINES = ("litellm", "auto", "lm15")
DEFAULT_ENGINE = "litellm"
PREFLIGHT_TIMEOUT = 2.0
# Sent to OpenAI-compatible servers (vLLM, llama.cpp, ...) when no key is configured: the OpenAI client
# refuses to run without one, and these servers accept any.
NO_KEY_PLACEHOLDER = "sk-no-key-required"


class PromptkitLM(dspy.LM):
    """A ``dspy.LM`` that reports backend failures as promptkit errors and namespaces the cache per endpoint.

    * Before its first call it checks the server: an Ollama route asks ``GET /api/tags`` (running? model
      pulled?), any other ``api_base`` gets a TCP connect; each with a 2 s limit. Success is remembered.
    * After DSPy's own retries, connection / DNS / timeout failures become ``BackendUnavailableError``
      naming the URL and the fix; a promptkit error raised by an engine (FakeLMError ...) is re-raised as is.
    * With an ``api_base``, an LM-level ``rollout_id`` derived from it keeps two servers that serve the
      same model name from sharing DSPy cache entries (DSPy leaves ``api_base`` out of the cache key).
    """

    # How the server enforces a JSON schema (json_schema | json_object_schema | none), read by the
    # TemplateAdapter; None leaves it to DSPy's capability table. Set by promptkit.lm() per route.
    structured_output: str | None = None

    def __init__(self, model: str, **kwargs: Any) -> None:
        self._preflight_ok_for: str | None = None
        self._cache_namespace: int | None = self._namespace_for(kwargs)
        if self._cache_namespace is not None and kwargs.get("rollout_id") is None:
            kwargs["rollout_id"] = self._cache_namespace
        super().__init__(model, **kwargs)

    # -- cache namespace --------------------------------------------------------------------------
    def _namespace_for(self, kwargs: dict[str, Any]) -> int | None:
        base = kwargs.get("api_base") or kwargs.get("base_url")
        return endpoint_rollout_id(normalize_api_base(base)) if base else None

    def _warn_zero_temp_rollout(self, temperature: float | None, rollout_id: Any) -> None:
        # Our endpoint rollout_id is an internal cache key, not a request for a new sample: DSPy's
        # "rollout_id has no effect when temperature=0" warning would only confuse.
        if rollout_id is not None and rollout_id == getattr(self, "_cache_namespace", None):
            return
        super()._warn_zero_temp_rollout(temperature, rollout_id)

    def _namespaced(self, prompt: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's kwargs with the endpoint namespace in its rollout_id.

        DSPy applies the LM-level rollout_id to ordinary calls only; an explicit ``dspy.lm15.Request``
        call gets it here. A caller's own rollout_id (BestOfN, Refine ...) is combined with it.
        """
        namespace = self._cache_namespace
        if namespace is None:
            return kwargs
        explicit_request = isinstance(prompt, Request) or kwargs.get("request") is not None
        default = None if explicit_request else self.kwargs.get("rollout_id")
        rollout_id = kwargs.get("rollout_id", default)
        if rollout_id is None:
            return {**kwargs, "rollout_id": namespace} if explicit_request else kwargs
        if rollout_id == namespace:
            return kwargs
        return {**kwargs, "rollout_id": combine_rollout_ids(namespace, rollout_id)}

    def copy(self, **kwargs: Any) -> PromptkitLM:
        copied = super().copy(**kwargs)
        if {"api_base", "base_url"} & kwargs.keys() and copied.kwargs.get("rollout_id") == self._cache_namespace:
            copied._cache_namespace = copied._namespace_for(copied.kwargs)
            if copied._cache_namespace is None:
                copied.kwargs.pop("rollout_id", None)
            else:
                copied.kwargs["rollout_id"] = copied._cache_namespace
        return copied

    # -- endpoint facts ---------------------------------------------------------------------------
    @property
    def ollama_name(self) -> str | None:
        """The model name on an Ollama route (``qwen2.5:0.5b``), else None."""
        return self.model.split("/", 1)[1] if self.model.startswith(OLLAMA_PREFIXES) else None

    @property
    def endpoint(self) -> str | None:
        """The server URL this LM talks to (None: the provider's default), without credentials."""
        base = self.kwargs.get("api_base") or self.kwargs.get("base_url")
        if self.ollama_name is not None:
            return normalize_ollama_base(base or os.environ.get("OLLAMA_API_BASE") or DEFAULT_OLLAMA_BASE)
        return without_userinfo(str(base)) if base else None

    def _secret(self) -> str | None:
        key = self.kwargs.get("api_key")
        return str(key) if key else None

    # -- preflight --------------------------------------------------------------------------------
    def _preflight_problem(self) -> PromptkitError | None:
        base = self.endpoint
        if base is None:
            return missing_key_error(self.model, has_key=bool(self._secret()))
        if self._preflight_ok_for == base:
            return None
        name = self.ollama_name
        if name is not None:
            try:
                check_ollama_model(name, base, timeout=PREFLIGHT_TIMEOUT, api_key=self._secret())
            except BackendUnavailableError as exc:
                return exc
        else:
            reason = unreachable_reason(base, timeout=PREFLIGHT_TIMEOUT)
            if reason is not None:
                return BackendUnavailableError(
                    f"cannot connect to {base} for model {self.model!r}: {reason}",
                    url=base,
                    hint="check that the server is running and the URL is right (api_base / PROMPTKIT_API_BASE)",
                )
        self._preflight_ok_for = base
        return None

    # -- calls ------------------------------------------------------------------------------------
    def _wire_request(self, prompt: Any) -> Any:
        """A typed Request as a self-hosted OpenAI-compatible server needs it.

        DSPy's LiteLLM engine serialises ``Config.max_tokens`` of a typed Request as
        ``max_completion_tokens``, which llama.cpp's server ignores (it then generates until its
        context is full). For an ``openai/`` route at an ``api_base`` the limit also goes out as
        ``max_tokens``, through ``Config.extensions`` (sent verbatim); such servers honour either.
        """
        if not (isinstance(prompt, Request) and prompt.config.max_tokens and self.engine == "litellm"):
            return prompt
        if not (self.model.startswith(("openai/", "hosted_vllm/")) and self.endpoint):
            return prompt
        extensions = {"max_tokens": prompt.config.max_tokens, **(prompt.config.extensions or {})}
        return replace(prompt, config=replace(prompt.config, extensions=extensions))

    # -- retries: promptkit's loop (retries.py) replaces DSPy's, so the timeout bounds the whole wait ------
    @property
    def num_retries(self) -> int:
        return 0 if IN_PROMPTKIT_LOOP.get() else self._num_retries

    @num_retries.setter
    def num_retries(self, value: int) -> None:
        self._num_retries = value

    def _attempts(self) -> Attempts:
        timeout = self.kwargs.get("timeout")
        return Attempts(self._num_retries, float(timeout) if isinstance(timeout, int | float) else None)

    def __call__(self, prompt: Any = None, *, messages: Any = None, **kwargs: Any) -> Any:
        kwargs = self._namespaced(prompt, kwargs)
        prompt = self._wire_request(prompt)
        problem = self._preflight_problem()
        if problem is not None and not answerable_from_cache(self, prompt, messages, kwargs, False):
            raise problem
        attempts = self._attempts()
        try:
            outputs = retries.run(
                lambda: super(PromptkitLM, self).__call__(prompt, messages=messages, **kwargs), attempts
            )
        except Exception as exc:
            self._raise_translated(exc, attempts)
            raise
        return self._checked(outputs, prompt, messages, kwargs, False)

    async def acall(self, prompt: Any = None, *, messages: Any = None, **kwargs: Any) -> Any:
        kwargs = self._namespaced(prompt, kwargs)
        prompt = self._wire_request(prompt)
        problem = None
        if self.endpoint is None:
            problem = self._preflight_problem()  # no probe, only the key check
        elif self._preflight_ok_for != self.endpoint:  # the probe blocks: off the loop
            problem = await asyncio.to_thread(self._preflight_problem)
        if problem is not None and not await asyncio.to_thread(
            answerable_from_cache, self, prompt, messages, kwargs, True
        ):
            raise problem
        attempts = self._attempts()
        try:
            outputs = await retries.arun(
                lambda: super(PromptkitLM, self).acall(prompt, messages=messages, **kwargs), attempts
            )
        except Exception as exc:
            self._raise_translated(exc, attempts)
            raise
        return self._checked(outputs, prompt, messages, kwargs, True)

    def _checked(self, outputs: Any, prompt: Any, messages: Any, kwargs: dict[str, Any], asynchronous: bool) -> Any:
        """``outputs``, unless the server answered 200 with ``"choices": []`` (then a BackendError naming it).

        DSPy stored that empty answer in its cache before returning it; it is dropped again, so a rerun
        after the server is fixed asks the server instead of replaying the empty answer.
        """
        if not retries.no_choices(outputs):
            return outputs
        forget_cached(self, prompt, messages, kwargs, asynchronous)
        where = self.endpoint or "the provider's default endpoint"
        raise BackendError(
            f'{where} answered model {self.model!r} with no choices ("choices": [])',
            hint="check the server's log: it accepted the request but generated nothing",
        )

    def _raise_translated(self, exc: Exception, attempts: Attempts | None = None) -> None:
        translated = translate_failure(
            exc,
            model=self.model,
            url=self.endpoint,
            ollama_name=self.ollama_name,
            timeout=self.kwargs.get("timeout"),
            secret=self._secret(),
            waited=attempts.waited if attempts is not None else None,
            attempts=attempts.made if attempts is not None else None,
        )
        if translated is None:
            where = self.endpoint or "the provider's default endpoint"
            scrubbed = without_secrets(exc, model=self.model, where=where, secret=self._secret())
            if scrubbed is not None:
                raise scrubbed from None
            return
        if any(translated is item for item in causes(exc, implicit=False)):
            # The engine's own error, as it was raised: DSPy's wrapper adds nothing (and chaining the
            # wrapper, which is caused by it, would make the cause chain circular).
            raise translated from translated.__cause__
        raise translated from exc

    # -- persistence and display ------------------------------------------------------------------
    def dump_state(self) -> dict[str, Any]:
        """DSPy's state (no API key), recorded as a plain ``dspy.LM`` so saved programs load anywhere.

        The internal endpoint rollout_id is dropped; ``promptkit.lm(...)`` rebuilds the full behaviour.
        """
        from dspy.clients.base_lm import LM_CLASS_STATE_KEY

        state: dict[str, Any] = super().dump_state()
        state[LM_CLASS_STATE_KEY] = "dspy.clients.lm.LM"
        state["num_retries"] = self._num_retries
        if self._cache_namespace is not None and state.get("rollout_id") == self._cache_namespace:
            state.pop("rollout_id")
        return state

    def __repr__(self) -> str:
        parts = [f"model={self.model!r}"]
        if self.endpoint:
            parts.append(f"api_base={self.endpoint!r}")
        if isinstance(self.engine, str):
            parts.append(f"engine={self.engine!r}")
        if self._secret():
            parts.append("api_key=***")
        return f"{type(self).__name__}({', '.join(parts)})"


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
