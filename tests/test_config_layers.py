"""Settings layering and ``promptkit doctor``'s settings table, compared with a snapshot taken before
config.py moved to pydantic-settings (tests/fixtures/settings_layers.json): same values, same
sources, same precedence, same errors. Regenerate only on purpose: ``python tests/test_config_layers.py``."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

SNAPSHOT = Path(__file__).parent / "fixtures" / "settings_layers.json"
TOML = """[promptkit]
model = "ollama_chat/from-toml"
api_base = "http://toml:11434"
api_key = "sk-toml-secret"
timeout = 5
num_retries = 4
template_dirs = ["prompts", "more"]
router = "router.yaml"
render_timeout = 2.5
"""
# name -> (toml text or None, environment, arguments)
SCENARIOS: dict[str, tuple[str | None, dict[str, str], dict[str, Any]]] = {
    "defaults": (None, {}, {}),
    "toml": (TOML, {}, {}),
    "env_over_toml": (
        TOML,
        {
            "PROMPTKIT_MODEL": "ollama_chat/from-env",
            "PROMPTKIT_TIMEOUT": "7",
            "PROMPTKIT_TEMPLATE_DIRS": "/a" + os.pathsep + "/b",
            "PROMPTKIT_API_BASE": "",
            "PROMPTKIT_N_THREADS": "3",
            "PROMPTKIT_STRUCTURED_OUTPUT": "none",
        },
        {},
    ),
    "argument_over_env": (
        TOML,
        {"PROMPTKIT_MODEL": "ollama_chat/from-env", "PROMPTKIT_TEMPERATURE": "0.3"},
        {"model": "fake", "timeout": 9, "api_base": None},
    ),
    "config_env_var": ("[promptkit]\nmodel = 'x'\nmax_tokens = 64\n", {"PROMPTKIT_CONFIG": "{tmp}/elsewhere.toml"}, {}),
    "table_less_toml": ("model = 'top-level'\ncache_dir = 'cache'\n", {}, {}),
    "bad_env_value": (None, {"PROMPTKIT_TIMEOUT": "soon"}, {}),
    "bad_toml_value": ("[promptkit]\ntimeout = -1\n", {}, {}),
    "unknown_toml_key": ("[promptkit]\nmodle = 'x'\n", {}, {}),
    "bad_toml": ("[promptkit\n", {}, {}),
    "missing_config": (None, {"PROMPTKIT_CONFIG": "{tmp}/missing.toml"}, {}),
    "unknown_argument": (None, {}, {"modle": "x"}),
    "bad_choice_env": (None, {"PROMPTKIT_EMBEDDER_BACKEND": "gpu"}, {}),
}


def _clean(text: str, tmp: Path) -> str:
    return re.sub(r"\s+", " ", text.replace(str(tmp.resolve()), "<tmp>").replace(str(tmp), "<tmp>")).strip()


def observe(name: str, tmp: Path) -> dict[str, Any]:
    """What load_settings returns (each set value and its source) or raises, in ``tmp``."""
    from promptkit.config import Settings, load_settings
    from promptkit.errors import ConfigError

    toml, environ, arguments = SCENARIOS[name]
    environ = {key: value.replace("{tmp}", str(tmp)) for key, value in environ.items()}
    if toml is not None:
        target = Path(environ["PROMPTKIT_CONFIG"]) if "PROMPTKIT_CONFIG" in environ else tmp / "promptkit.toml"
        target.write_text(toml, encoding="utf-8")
    try:
        settings = load_settings(arguments, environ=environ, cwd=tmp)
    except ConfigError as exc:
        return {"error": _clean(str(exc), tmp)}
    values = {}
    for field in Settings.model_fields:
        if field == "source":
            continue
        value = getattr(settings, field)
        shown = "***" if field == "api_key" and value is not None else value
        values[field] = _clean(json.dumps(shown), tmp)
    return {"values": values, "source": {k: _clean(v, tmp) for k, v in sorted(settings.source.items())}}


def doctor_rows(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """``promptkit doctor``'s settings table for the 'env_over_toml' layers, row by row."""
    from typer.testing import CliRunner

    from promptkit.cli import app

    toml, environ, _ = SCENARIOS["env_over_toml"]
    (tmp / "promptkit.toml").write_text((toml or "").replace('router = "router.yaml"\n', ""), encoding="utf-8")
    for key in [k for k in os.environ if k.startswith("PROMPTKIT_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp)
    result = CliRunner().invoke(app, ["doctor"], env={**environ, "DSPY_CACHEDIR": "/cache", "COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    table = result.stdout.split("ollama:")[0]
    rows = []
    for line in table.splitlines():
        cells = [_clean(cell, tmp) for cell in line.strip().strip("│┃").split("│") if cell.strip()]
        if len(cells) == 3 and cells[0] != "setting":
            rows.append(cells)
    return rows


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_settings_layers_match_the_snapshot(name: str, tmp_path: Path) -> None:
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))["scenarios"][name]
    assert observe(name, tmp_path) == expected


def test_doctor_settings_table_matches_the_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))["doctor"]
    assert doctor_rows(tmp_path, monkeypatch) == expected


if __name__ == "__main__":  # write the snapshot from the current code
    import tempfile

    snapshot: dict[str, Any] = {"scenarios": {}}
    for scenario in sorted(SCENARIOS):
        with tempfile.TemporaryDirectory() as folder:
            snapshot["scenarios"][scenario] = observe(scenario, Path(folder))
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        snapshot["doctor"] = doctor_rows(Path(folder), patch)
    SNAPSHOT.write_text(json.dumps(snapshot, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    sys.stdout.write(f"wrote {SNAPSHOT}\n")
