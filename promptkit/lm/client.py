"""``PromptkitLM``: the ``dspy.LM`` every promptkit route builds (see :mod:`promptkit.lm.factory` for which).

It reports backend failures as promptkit errors, checks the server before the first call, runs
promptkit's retry loop (bounded by the timeout) and namespaces DSPy's cache per endpoint.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from typing import Any

import dspy
from dspy.lm15 import Request

from promptkit.errors import BackendError, BackendUnavailableError, PromptkitError
from promptkit.lm import retries
from promptkit.lm.cache_entries import answerable_from_cache, forget_cached
from promptkit.lm.failures import causes, translate_failure, unreachable_reason, without_secrets
from promptkit.lm.ollama import check_ollama_model
from promptkit.lm.retries import IN_PROMPTKIT_LOOP, Attempts
from promptkit.lm.routes import (
    DEFAULT_OLLAMA_BASE,
    OLLAMA_PREFIXES,
    combine_rollout_ids,
    endpoint_rollout_id,
    missing_key_error,
    normalize_api_base,
    normalize_ollama_base,
    without_userinfo,
)

PREFLIGHT_TIMEOUT = 2.0


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


__all__ = ["PREFLIGHT_TIMEOUT", "PromptkitLM"]
