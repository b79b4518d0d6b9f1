"""Settings from CLI flags / keyword arguments, environment, ``promptkit.toml`` and defaults.

Precedence (highest first):

1. explicit arguments (CLI flags, keyword arguments to ``promptkit.lm`` / ``load_settings``);
2. environment variables ``PROMPTKIT_*`` (``PROMPTKIT_MODEL``, ``PROMPTKIT_API_BASE``, ...);
3. the ``[promptkit]`` table of a ``promptkit.toml`` (``$PROMPTKIT_CONFIG``, else ``./promptkit.toml``);
4. built-in defaults.

The layers are pydantic-settings sources (``EnvSettingsSource`` over ``PROMPTKIT_*``,
``TomlConfigSettingsSource`` over the file), each read on its own so ``Settings.source`` can say
where every value came from (``promptkit doctor`` prints it). The API key is held as a ``SecretStr``
so it never appears in a repr, a log or a saved file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from promptkit.errors import ConfigError

# Importing LiteLLM (directly or through DSPy) must never reach the network for its cost map.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

ENV_PREFIX = "PROMPTKIT_"
CONFIG_FILE = "promptkit.toml"
DEFAULT_MODEL = "local"


class Settings(BaseSettings):
    """Resolved promptkit settings. Build with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        extra="forbid", frozen=True, env_prefix=ENV_PREFIX, case_sensitive=False, env_ignore_empty=True
    )

    model: str | None = Field(None, description="LM route; None means the embedded local model")
    api_base: str | None = Field(None, description="base URL of the LM server")
    api_key: SecretStr | None = Field(None, description="API key (never logged or saved)")
    timeout: float = Field(60.0, gt=0, description="seconds before an LM request is abandoned")
    num_retries: int = Field(2, ge=0, description="retries for transient LM errors")
    temperature: float | None = Field(None, ge=0, description="sampling temperature")
    max_tokens: int | None = Field(None, gt=0, description="max tokens to generate")
    engine: str | None = Field(None, description="DSPy engine: litellm | auto | lm15 (default per route)")
    structured_output: Literal["auto", "json_schema", "json_object_schema", "none"] = Field(
        "auto",
        description="how the server enforces a JSON schema: json_schema (OpenAI, vLLM, Ollama), "
        "json_object_schema (llama.cpp server), none; auto decides per route",
    )
    template_dirs: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="user template directories (searched before bundled; os.pathsep-separated in the environment)"
    )
    render_max_bytes: int = Field(1_000_000, gt=0, description="max size of one rendered template")
    render_timeout: float = Field(5.0, gt=0, description="max seconds to render one template")
    cache_dir: str | None = Field(None, description="DSPy cache directory (default: DSPy's)")
    router: str | None = Field(None, description="LiteLLM Router config (router.yaml); the model then names a group")
    # The embedded model's own knobs: a CLI user can only reach them through the environment or the toml.
    n_ctx: int | None = Field(None, ge=64, description="embedded model: context window in tokens (default 2048)")
    n_threads: int | None = Field(None, ge=1, description="embedded model: CPU threads (default 2)")
    embedder_backend: Literal["torch", "onnx", "onnx-int8"] | None = Field(
        None, description="how a sentence-transformers embedder runs: torch (default), onnx, onnx-int8"
    )
    source: dict[str, str] = Field(default_factory=dict, description="where each set value came from")

    @property
    def effective_model(self) -> str:
        return self.model or DEFAULT_MODEL

    @field_validator("template_dirs", mode="before")
    @classmethod
    def _split_paths(cls, value: Any) -> Any:
        return tuple(p for p in value.split(os.pathsep) if p) if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The constructor takes the merged values only: load_settings reads each layer itself, so it
        # can record where each value came from (and tests can pass their own environment and cwd).
        return (init_settings,)


_FIELDS = [name for name in Settings.model_fields if name != "source"]


class _Environment(EnvSettingsSource):
    """``PROMPTKIT_*`` variables of a given mapping (``os.environ`` by default); empty values are unset."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(Settings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {name.lower(): value for name, value in self._environ.items() if value != ""}  # case-insensitive


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    values = _Environment(environ)()
    return {name: values[name] for name in _FIELDS if name in values}


def _config_path(environ: Mapping[str, str], cwd: Path) -> Path | None:
    explicit = environ.get(ENV_PREFIX + "CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(
                f"{ENV_PREFIX}CONFIG points to {explicit!r}, which is not a file",
                hint="point it at an existing promptkit.toml or unset it",
            )
        return path
    candidate = cwd / CONFIG_FILE
    return candidate if candidate.is_file() else None


def _from_file(path: Path) -> dict[str, Any]:
    try:
        data = TomlConfigSettingsSource(Settings, toml_file=path).toml_data
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}", hint="fix the syntax of the file") from exc
    table = data.get("promptkit", data)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [promptkit] must be a table")
    unknown = sorted(set(table) - set(_FIELDS))
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting(s) {', '.join(unknown)}",
            hint=f"known settings: {', '.join(_FIELDS)}",
        )
    values = dict(table)
    if "api_key" in values:
        # Keys belong in the environment, not in a file that may be committed; still honour it.
        values["api_key"] = str(values["api_key"])
    if isinstance(values.get("router"), str):  # relative to the toml, like template_dirs
        values["router"] = str((path.parent / values["router"]).resolve())
    if "template_dirs" in values:
        base = path.parent
        values["template_dirs"] = tuple(str((base / d).resolve()) for d in values["template_dirs"])
    return values


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Resolve settings with the documented precedence. ``None`` overrides are ignored."""
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    merged: dict[str, Any] = {}
    source: dict[str, str] = {}
    path = _config_path(environ, cwd)
    layers: list[tuple[str, dict[str, Any]]] = []
    if path is not None:
        layers.append((str(path), _from_file(path)))
    layers.append(("environment", _from_env(environ)))
    explicit = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = sorted(set(explicit) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)}", hint=f"known settings: {', '.join(_FIELDS)}")
    layers.append(("argument", explicit))
    for origin, values in layers:
        for key, value in values.items():
            merged[key] = value
            source[key] = origin
    try:
        return Settings(**merged, source=source)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])} (from {source.get(str(err['loc'][0]), '?')}): {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}", hint="fix the values named above") from None


def with_overrides(settings: Settings | None, explicit: Mapping[str, Any]) -> Settings:
    """``settings`` (default: :func:`load_settings`) with the non-None ``explicit`` values on top."""
    given = {key: value for key, value in explicit.items() if value is not None}
    if settings is None:
        return load_settings(overrides=given)
    if not given:
        return settings
    data = {name: getattr(settings, name) for name in Settings.model_fields if name != "source"}
    data.update(given)
    source = {**settings.source, **{key: "argument" for key in given}}
    try:
        return Settings(**data, source=source)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid arguments: {problems}", hint="fix the values named above") from None
