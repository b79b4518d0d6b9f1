"""The Router route: one ``dspy.LM`` over a LiteLLM ``Router`` group (``--router router.yaml --model GROUP``).

promptkit does not balance anything itself. LiteLLM's Router picks the deployment, retries, cools a failing
one down, honours rpm/tpm and falls back between groups; promptkit wraps it so the rest works as on one server:

* **DSPy's cache, usage and history**: the Router is a custom DSPy engine (``complete(Request)``), so DSPy
  runs its usual pipeline around it. The cache key is namespaced by the group's deployments.
* **Structured output per deployment**: the adapter plans a JSON schema for the group; a LiteLLM
  deployment hook rewrites the request for the deployment the Router picked (llama.cpp's
  ``json_object`` + schema dialect, or no ``response_format`` for a server that enforces none).
* **Which deployment answered** rides on the response (``provider_data["promptkit_deployment"]``), where
  the evaluation runner reads it for results.jsonl and summary.json.
* **Errors** are promptkit's: a deployment that fails is LiteLLM's business until the whole group has
  failed; then :class:`~promptkit.errors.BackendUnavailableError` names the group and its deployments.

All Router calls run on one event loop in a background thread: LiteLLM runs its deployment hooks on the
async path only, and one loop lets its async HTTP clients be shared by every thread of an evaluation.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any

from dspy.clients.engines.litellm_engine import AsyncLiteLLMEngine, LiteLLMEngine

from promptkit.config import Settings
from promptkit.errors import BackendDownError, BackendError, BackendUnavailableError, ConfigError
from promptkit.lm.client import PromptkitLM
from promptkit.lm.failures import (
    is_connection_failure,
    is_timeout,
    translate_failure,
    unreachable_reason,
    without_secrets,
)
from promptkit.lm.retries import Attempts
from promptkit.lm.router_config import DEPLOYMENT_KEY, Deployment, RouterConfig, load_router_config
from promptkit.lm.routes import endpoint_rollout_id, parse_route
from promptkit.redaction import redact

_ALL_DOWN_PHRASES = ("no deployments available", "cooldown", "no healthy deployment")

# -- the loop all Router calls run on ----------------------------------------------------------------
_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _router_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="promptkit-router", daemon=True).start()
            _loop = loop
        return _loop


def _on_router_loop(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run_coroutine_threadsafe(coroutine, _router_loop()).result()


# -- Routers, one per config file (cooldowns and rate limits are shared by every LM built from it) ----
_routers: dict[tuple[str, float, str], Any] = {}
_modes: dict[str, str] = {}  # deployment id -> structured-output mode, read by the deployment hook
_routers_lock = threading.Lock()


def router_for(config: RouterConfig) -> Any:
    from litellm import Router

    key = (str(config.path.resolve()), config.path.stat().st_mtime, repr(sorted(config.router_settings.items())))
    with _routers_lock:
        router = _routers.get(key)
        if router is None:
            _install_hook()
            for deployment in config.deployments:
                _modes[deployment.router_id] = deployment.structured_output
            router = Router(model_list=config.model_list, **config.router_settings)
            _routers[key] = router
        return router


_hook_installed = False


def _install_hook() -> None:
    global _hook_installed
    if _hook_installed:
        return
    import litellm
    from litellm.integrations.custom_logger import CustomLogger

    class StructuredOutputPerDeployment(CustomLogger):
        async def async_pre_call_deployment_hook(self, kwargs: dict[str, Any], call_type: Any) -> dict[str, Any]:
            return per_deployment_request(kwargs)

    litellm.callbacks.append(StructuredOutputPerDeployment())
    _hook_installed = True


def per_deployment_request(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The request in the structured-output dialect of the deployment LiteLLM picked (others untouched)."""
    metadata = kwargs.get("metadata") or {}
    info = metadata.get("model_info") if isinstance(metadata, dict) else None
    mode = _modes.get(str((info or {}).get("id")))
    fmt = kwargs.get("response_format")
    if mode is None or not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return kwargs
    if mode == "none":
        kwargs.pop("response_format", None)  # the prompt still asks for JSON; the parser is tolerant
    elif mode == "json_object_schema":
        from promptkit.lm.grammar import non_empty_strings

        schema = (fmt.get("json_schema") or {}).get("schema") or {}
        kwargs["response_format"] = {"type": "json_object", "schema": non_empty_strings(dict(schema))}
    return kwargs


# -- the DSPy engine -------------------------------------------------------------------------------------
class _RouterCalls:
    """What the sync and async engines share: the request for the Router and the response back."""

    def __init__(self, config: RouterConfig, group: str) -> None:
        super().__init__(model_type="chat")  # type: ignore[call-arg]  # the LiteLLM engine, next in the MRO
        self.config = config
        self.group = group
        self.router = router_for(config)

    # A custom engine without complete_legacy: DSPy then sends every call as a typed Request.
    complete_legacy = None

    def __deepcopy__(self, memo: dict[int, Any]) -> _RouterCalls:
        return self  # the Router and its cooldown state are shared, never copied with a program

    def _router_arguments(self, request: Any) -> dict[str, Any]:
        data: dict[str, Any] = self._arguments(request)  # type: ignore[attr-defined]
        data["model"] = self.group
        # LiteLLM's own retries are the Router's (router_settings.num_retries); DSPy's engine sends 0,
        # which would override them per call.
        data.pop("num_retries", None)
        return data

    async def _acall(self, data: dict[str, Any], request: Any) -> Any:
        from dspy import lm15
        from dspy.clients.engines.litellm_errors import litellm_errors

        with litellm_errors(model=request.model):
            try:
                raw = await asyncio.wait_for(self.router.acompletion(**data), self.config.total_timeout)
            except TimeoutError:
                limit = self.config.total_timeout
                raise lm15.TimeoutError(
                    f"no answer within {limit:g} s in total (the Router's retries included)"
                ) from None
        deployment = self.config.label_of(str((getattr(raw, "_hidden_params", None) or {}).get("model_id") or ""))
        if not getattr(raw, "choices", None):
            raise BackendError(
                f"deployment {deployment or '?'} of router group {self.group!r} answered with no choices "
                '("choices": [])',
                hint="check that server's log: it accepted the request but generated nothing",
            )
        response = self._response(raw, request)  # type: ignore[attr-defined]
        return replace(response, provider_data={**dict(response.provider_data or {}), DEPLOYMENT_KEY: deployment})


class RouterEngine(_RouterCalls, LiteLLMEngine):
    def complete(self, request: Any) -> Any:
        return _on_router_loop(self._acall(self._router_arguments(request), request))

    def stream(self, request: Any) -> Any:
        from dspy.utils.exceptions import LMUnsupportedFeatureError

        raise LMUnsupportedFeatureError("streaming through a LiteLLM Router is not supported yet", model=request.model)


class AsyncRouterEngine(_RouterCalls, AsyncLiteLLMEngine):
    async def complete(self, request: Any) -> Any:
        future = asyncio.run_coroutine_threadsafe(self._acall(self._router_arguments(request), request), _router_loop())
        return await asyncio.wrap_future(future)


# -- the LM ------------------------------------------------------------------------------------------------
class RouterLM(PromptkitLM):
    """``dspy.LM`` for the group ``group`` of a LiteLLM Router config; build it with ``promptkit.lm(...)``."""

    def __init__(self, config: RouterConfig, group: str, **kwargs: Any) -> None:
        self.router_config = config
        self.group = group
        kwargs.pop("num_retries", None)
        super().__init__(
            f"router/{group}",
            engine=RouterEngine(config, group),
            async_engine=AsyncRouterEngine(config, group),
            num_retries=0,  # the Router retries (router_settings.num_retries); retrying around it multiplies
            **kwargs,
        )
        self.structured_output = config.group_mode(group)

    def _namespace_for(self, kwargs: dict[str, Any]) -> int | None:
        return endpoint_rollout_id(self.router_config.identity(self.group))

    @property
    def deployments(self) -> list[Any]:
        return list(self.router_config.groups[self.group])

    def _attempts(self) -> Attempts:
        return Attempts(0, None)

    def _raise_translated(self, exc: Exception, attempts: Attempts | None = None) -> None:
        labels = ", ".join(d.label for d in self.deployments)
        where = f"router group {self.group!r} ({labels})"
        translated = translate_failure(
            exc, model=self.model, url=where, timeout=self.router_config.router_settings.get("timeout")
        )
        if isinstance(translated, BackendError) and not isinstance(translated, BackendUnavailableError):
            raise translated from exc
        if translated is not None or is_connection_failure(exc) or is_timeout(exc) or _all_down(exc):
            reason = redact(
                str(translated or exc).strip().splitlines()[0][:300] if str(translated or exc).strip() else ""
            )
            raise BackendDownError(
                f"no deployment of {where} answered: {reason}",
                url=str(self.router_config.path),
                hint="start the servers (promptkit doctor shows which answer); an evaluation continues with --resume",
            ) from exc
        scrubbed = without_secrets(exc, model=self.model, where=where)
        if scrubbed is not None:
            raise scrubbed from None

    def dump_state(self) -> dict[str, Any]:
        state = super().dump_state()
        state["router"] = str(self.router_config.path)
        return state

    def __repr__(self) -> str:
        path = str(self.router_config.path)
        return f"RouterLM(group={self.group!r}, router={path!r}, deployments={len(self.deployments)})"


def probe_deployments(config: RouterConfig, timeout: float = 10.0) -> list[tuple[Deployment, str | None]]:
    """Ask every deployment for one token, side by side: ``(deployment, None)`` if it answered, else why not.

    Each deployment is asked directly (not through the Router), so a cooled-down or failing one is seen as it is.
    """
    from concurrent.futures import ThreadPoolExecutor

    entries = dict(zip((d.label for d in config.deployments), config.model_list, strict=True))

    def probe(deployment: Deployment) -> tuple[Deployment, str | None]:
        params = dict(entries[deployment.label]["litellm_params"])
        if deployment.api_base:
            reason = unreachable_reason(deployment.api_base, timeout=min(timeout, 2.0))
            if reason is not None:
                return deployment, reason
        try:
            import litellm

            params = {k: v for k, v in params.items() if k not in ("rpm", "tpm", "max_parallel_requests")}
            litellm.completion(
                **params, messages=[{"role": "user", "content": "ping"}], max_tokens=1, timeout=timeout, num_retries=0
            )
        except Exception as exc:
            return deployment, redact(
                str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            )
        return deployment, None

    with ThreadPoolExecutor(max_workers=min(8, len(config.deployments))) as pool:
        return list(pool.map(probe, config.deployments))


def _all_down(exc: BaseException) -> bool:
    from promptkit.lm.failures import causes

    return any(p in str(item).lower() for item in causes(exc) for p in _ALL_DOWN_PHRASES)


def router_lm_for(settings: Settings, cache: bool | None, extra: dict[str, Any]) -> RouterLM | None:
    """The RouterLM for ``settings.model`` in ``settings.router``; None when the model is an ordinary route."""
    assert settings.router is not None
    config = load_router_config(settings.router, timeout=settings.timeout, num_retries=settings.num_retries)
    name = settings.model
    if name is not None and name not in config.groups and _is_route(name):
        return None
    options: dict[str, Any] = {"temperature": settings.temperature, "max_tokens": settings.max_tokens, **extra}
    if cache is not None:
        options["cache"] = cache
    group = config.group_for(name)
    given = [key for key in ("api_base", "api_key") if settings.source.get(key) == "argument"]
    if given:
        raise ConfigError(
            f"{' and '.join(given)} cannot be given for the Router group {group!r}: each deployment has its own",
            hint=f"set them in the litellm_params of {config.path}",
        )
    try:
        return RouterLM(config, group, **options)
    except (TypeError, ValueError) as exc:  # e.g. api_key= / api_base=: a Router's deployments carry their own
        raise ConfigError(
            f"cannot build the Router LM for group {group!r}: {exc}",
            hint="connection settings (api_base, api_key, timeout) belong in the router config's litellm_params",
        ) from exc


def _is_route(name: str) -> bool:
    try:
        parse_route(name)
    except ConfigError:
        return False
    return True


__all__ = ["DEPLOYMENT_KEY", "RouterLM", "per_deployment_request", "probe_deployments", "router_for", "router_lm_for"]
