"""Settings precedence: explicit > environment > promptkit.toml > defaults; secrets stay hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptkit.config import load_settings
from promptkit.errors import ConfigError


def write_toml(folder: Path, body: str) -> None:
    (folder / "promptkit.toml").write_text(body)


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(environ={}, cwd=tmp_path)
    assert settings.model is None and settings.effective_model == "local"
    assert settings.timeout == 60.0 and settings.render_max_bytes == 1_000_000
    assert settings.source == {}


def test_precedence(tmp_path: Path) -> None:
    write_toml(tmp_path, "[promptkit]\nmodel = 'from-toml'\napi_base = 'http://toml'\ntimeout = 5\n")
    env = {"PROMPTKIT_MODEL": "from-env", "PROMPTKIT_TIMEOUT": "7"}
    settings = load_settings({"model": "from-arg", "timeout": None}, environ=env, cwd=tmp_path)
    assert settings.model == "from-arg" and settings.source["model"] == "argument"
    assert settings.timeout == 7.0 and settings.source["timeout"] == "environment"
    assert settings.api_base == "http://toml" and settings.source["api_base"].endswith("promptkit.toml")


def test_config_file_from_env_var(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.toml"
    other.write_text("[promptkit]\nmodel = 'x'\ntemplate_dirs = ['prompts']\n")
    settings = load_settings(environ={"PROMPTKIT_CONFIG": str(other)}, cwd=Path("/"))
    assert settings.model == "x"
    assert settings.template_dirs == (str((tmp_path / "prompts").resolve()),)
    with pytest.raises(ConfigError, match="not a file"):
        load_settings(environ={"PROMPTKIT_CONFIG": str(tmp_path / "missing.toml")}, cwd=tmp_path)


def test_template_dirs_from_env_use_pathsep(tmp_path: Path) -> None:
    settings = load_settings(environ={"PROMPTKIT_TEMPLATE_DIRS": "/a:/b"}, cwd=tmp_path)
    assert settings.template_dirs == ("/a", "/b")


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("[promptkit]\nmodle = 'x'\n", "modle"),
        ("[promptkit\n", "invalid TOML"),
        ("[promptkit]\ntimeout = -1\n", "timeout"),
    ],
)
def test_bad_file_names_the_problem(tmp_path: Path, body: str, needle: str) -> None:
    write_toml(tmp_path, body)
    with pytest.raises(ConfigError, match=needle) as info:
        load_settings(environ={}, cwd=tmp_path)
    assert info.value.exit_code == 2


def test_bad_env_value_names_the_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="environment"):
        load_settings(environ={"PROMPTKIT_TIMEOUT": "soon"}, cwd=tmp_path)


def test_unknown_override() -> None:
    with pytest.raises(ConfigError, match="colour"):
        load_settings({"colour": "blue"}, environ={})


def test_api_key_is_never_shown(tmp_path: Path) -> None:
    settings = load_settings(environ={"PROMPTKIT_API_KEY": "sk-very-secret"}, cwd=tmp_path)
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "sk-very-secret"
    assert "sk-very-secret" not in repr(settings) and "sk-very-secret" not in str(settings.model_dump())
