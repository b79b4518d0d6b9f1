"""Reading a LiteLLM Router config (``router.yaml``): LiteLLM's own format, checked before anything runs.

The file is what the LiteLLM proxy takes::

    model_list:
      - model_name: qa                       # the group: --model qa
        litellm_params: {model: openai/smollm2, api_base: http://127.0.0.1:8081/v1, rpm: 600}
        model_info: {id: gpu-a, structured_output: json_object_schema}   # both optional
      - model_name: qa
        litellm_params: {model: openai/gpt-4o-mini, api_key: os.environ/OPENAI_API_KEY}
    router_settings: {routing_strategy: simple-shuffle, num_retries: 2, cooldown_time: 30, fallbacks: [...]}

promptkit reads two ``model_info`` keys of its own, which LiteLLM ignores: ``id`` names the deployment in
results and reports (default ``MODEL@HOST:PORT``), and ``structured_output`` says how that server enforces
a JSON schema (as ``PROMPTKIT_STRUCTURED_OUTPUT`` does for one server; default: Ollama and hosted models
``json_schema``, other self-hosted servers ``none``). ``litellm_settings`` / ``general_settings`` /
``environment_variables`` configure the proxy process, not the Router, and are ignored here.

Every key a config names (``api_key: os.environ/NAME`` or written out) is registered with the one
redaction policy, so it never appears in an error, a row or a report.
"""

from __future__ import annotations

import difflib
import inspect
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from promptkit.errors import ConfigError
from promptkit.lm.routes import without_userinfo
from promptkit.redaction import register_secret
from promptkit.yaml_files import read_yaml_document

STRUCTURED_MODES = ("json_schema", "json_object_schema", "none")
# Where a Router response says which deployment answered (lm15 ``Response.provider_data``); the evaluation
# runner reads it for results.jsonl and summary.json.
DEPLOYMENT_KEY = "promptkit_deployment"
ENV_PREFIX = "os.environ/"
_PROXY_ONLY = {"litellm_settings", "general_settings", "environment_variables"}
_SECRET_PARAMS = ("key", "secret", "token", "password", "credential")


@dataclass(frozen=True)
class Deployment:
    """One ``model_list`` entry: a model on a server, member of the group ``group``."""

    group: str
    label: str  # the deployment's id in LiteLLM's Router and in results / reports
    model: str  # litellm_params.model
    api_base: str | None  # without credentials
    structured_output: str  # json_schema | json_object_schema | none
    router_id: str = ""  # model_info.id as the Router knows it (the label, or a safe form of it)
    line: int | None = None


@dataclass
class RouterConfig:
    path: Path
    model_list: list[dict[str, Any]]  # as handed to litellm.Router (model_info.id set on every entry)
    router_settings: dict[str, Any]
    # PROMPTKIT_TIMEOUT: what one call may take in total, the Router's retries and fallbacks included
    # (router_settings.timeout, default the same value, bounds each request the Router sends).
    total_timeout: float | None = None
    deployments: list[Deployment] = field(default_factory=list)

    def label_of(self, router_id: str) -> str:
        """The deployment's name in results and reports, from the id the Router reports."""
        return next((d.label for d in self.deployments if d.router_id == router_id), router_id)

    @property
    def groups(self) -> dict[str, list[Deployment]]:
        found: dict[str, list[Deployment]] = {}
        for deployment in self.deployments:
            found.setdefault(deployment.group, []).append(deployment)
        return found

    def group_for(self, model: str | None) -> str:
        """The group ``--model`` names; with no model, the only group. A ConfigError lists the groups otherwise."""
        groups = self.groups
        if model is not None and model in groups:
            return model
        if model is None and len(groups) == 1:
            return next(iter(groups))
        names = ", ".join(sorted(groups))
        close = difflib.get_close_matches(model or "", list(groups), n=1, cutoff=0.5)
        said = f"model {model!r} is not a model_name of" if model is not None else "no model given for"
        raise ConfigError(
            f"{said} the router config {self.path} (its groups: {names})",
            hint=f"did you mean --model {close[0]}?" if close else "pass --model GROUP (one of the model_name values)",
        )

    def group_mode(self, group: str) -> str:
        """The structured-output mode the adapter plans for: a schema when any deployment can enforce one.

        The deployment the Router picks then gets the request in its own dialect (router.py).
        """
        modes = {d.structured_output for d in self.groups[group]}
        return "json_schema" if modes - {"none"} else "none"

    def identity(self, group: str) -> str:
        """What makes two groups the same for DSPy's cache: their deployments' models and servers."""
        members = sorted(f"{d.model}@{d.api_base or ''}" for d in self.groups[group])
        return f"router:{group}:" + ",".join(members)


def load_router_config(path: str | Path, *, timeout: float, num_retries: int) -> RouterConfig:
    """Read and check ``path``; ``timeout`` / ``num_retries`` are the defaults for router_settings."""
    file = Path(path)
    document = read_yaml_document(
        file, what="router config", hint="see LiteLLM's config format (model_list, router_settings)"
    )
    data = document.data
    if not isinstance(data, dict) or not isinstance(data.get("model_list"), list) or not data["model_list"]:
        raise ConfigError(
            f"{file}: a router config is a mapping with a non-empty model_list",
            hint="model_list: [{model_name: GROUP, litellm_params: {model: PROVIDER/NAME, ...}}, ...]",
        )
    unknown = sorted(set(data) - {"model_list", "router_settings"} - _PROXY_ONLY)
    if unknown:
        raise ConfigError(
            f"{file}: unknown top-level key(s) {', '.join(unknown)}",
            hint="a router config has model_list and router_settings",
        )
    config = RouterConfig(file, [], {}, total_timeout=timeout)
    for index, entry in enumerate(data["model_list"]):
        line = document.lines.get(("model_list", index))
        deployment, prepared = _deployment(file, index, line, entry, config.deployments)
        config.deployments.append(deployment)
        config.model_list.append(prepared)
    config.router_settings = _router_settings(file, data.get("router_settings"), config, timeout, num_retries)
    return config


def _where(file: Path, index: int, line: int | None) -> str:
    return f"{file}:{line}: model_list[{index}]" if line is not None else f"{file}: model_list[{index}]"


def _deployment(
    file: Path, index: int, line: int | None, entry: Any, earlier: list[Deployment]
) -> tuple[Deployment, dict[str, Any]]:
    where = _where(file, index, line)
    if not isinstance(entry, dict) or not isinstance(entry.get("model_name"), str) or not entry["model_name"]:
        raise ConfigError(f"{where}: each entry needs a model_name (the group --model names)")
    params = entry.get("litellm_params")
    if not isinstance(params, dict) or not isinstance(params.get("model"), str) or "/" not in params["model"]:
        raise ConfigError(
            f"{where}: litellm_params.model must be a LiteLLM model string (PROVIDER/NAME)",
            hint="e.g. litellm_params: {model: openai/NAME, api_base: http://HOST:PORT/v1}",
        )
    resolved = {key: _resolve(where, key, value) for key, value in params.items()}
    info = dict(entry.get("model_info") or {})
    mode = info.pop("structured_output", None)
    if mode is not None and mode not in STRUCTURED_MODES:
        raise ConfigError(f"{where}: model_info.structured_output {mode!r} is not one of {', '.join(STRUCTURED_MODES)}")
    api_base = str(params["api_base"]) if params.get("api_base") else None
    shown_base = without_userinfo(api_base) if api_base else None
    if mode is None:
        ollama = params["model"].startswith(("ollama/", "ollama_chat/"))
        mode = "json_schema" if ollama or api_base is None else "none"
    label = str(
        info.get("id") or (f"{params['model']}@{urlsplit(shown_base).netloc}" if shown_base else params["model"])
    )
    taken = {d.label for d in earlier}
    if info.get("id") and label in taken:
        raise ConfigError(f"{where}: model_info.id {label!r} is used twice", hint="give each deployment its own id")
    base_label, n = label, 2
    while label in taken:
        label, n = f"{base_label}#{n}", n + 1
    # The Router reports the deployment that answered by model_info.id. A derived label has '/', '@' and ':'
    # in it, which LiteLLM's usage-based routing cannot take in an id, so that one goes in a safe form.
    router_id = str(info["id"]) if info.get("id") else f"{index}-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", label)
    info["id"] = router_id
    prepared = {
        **{k: v for k, v in entry.items() if k not in ("litellm_params", "model_info")},
        "litellm_params": resolved,
        "model_info": info,
    }
    deployment = Deployment(entry["model_name"], label, params["model"], shown_base, mode, router_id, line)
    return deployment, prepared


def _resolve(where: str, key: str, value: Any) -> Any:
    """``os.environ/NAME`` -> the variable's value (LiteLLM's convention), checked here to name the entry."""
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        name = value[len(ENV_PREFIX) :]
        if not os.environ.get(name):
            raise ConfigError(
                f"{where}: {key} reads the environment variable {name}, which is not set",
                hint=f"export {name}=... before running",
            )
        value = os.environ[name]
    if any(word in key.lower() for word in _SECRET_PARAMS):
        register_secret(value)
    return value


def _router_settings(file: Path, raw: Any, config: RouterConfig, timeout: float, num_retries: int) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: router_settings must be a mapping")
    from litellm.router import _router_init

    known = set(inspect.signature(_router_init).parameters) - {"self", "model_list"}
    for key in raw:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            raise ConfigError(
                f"{file}: router_settings.{key} is not a LiteLLM Router setting",
                hint=f"did you mean {close[0]}?" if close else "see litellm.Router's parameters",
            )
    groups = config.groups
    for rule in raw.get("fallbacks") or []:
        for source, targets in rule.items() if isinstance(rule, dict) else []:
            for name in [source, *(targets if isinstance(targets, list) else [targets])]:
                if name not in groups:
                    raise ConfigError(
                        f"{file}: router_settings.fallbacks names {name!r}, which is no model_name",
                        hint=f"the groups are {', '.join(sorted(groups))}",
                    )
    # Never LiteLLM's 6000 s default timeout; retries as promptkit is configured unless the file says.
    return {"timeout": timeout, "num_retries": num_retries, **raw}


__all__ = ["DEPLOYMENT_KEY", "Deployment", "RouterConfig", "load_router_config"]
