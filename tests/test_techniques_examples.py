"""Every ``examples/techniques_*.py`` runs offline (``--model fake``, the default) and, together, they
show every registered technique."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

from promptkit import techniques
from promptkit.techniques.sandbox import detect_sandbox

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(p for p in EXAMPLES.glob("techniques_*.py") if p.name != "techniques_common.py")


def run_example(path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setattr(sys, "argv", [str(path)])
    runpy.run_path(str(path), run_name="__main__")
    return capsys.readouterr().out


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_example_runs_offline(path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    output = run_example(path, monkeypatch, capsys)
    shown = [line for line in output.splitlines() if line.startswith("=== ")]
    assert shown, output
    if detect_sandbox() is not None:
        assert "Error:" not in output, output
    assert output.count("LM call") >= len(shown)


def test_every_technique_is_shown_in_an_example() -> None:
    sources = "\n".join(p.read_text(encoding="utf-8") for p in SCRIPTS)
    missing = [t.id for t in techniques.list() if f'"{t.id}"' not in sources]
    assert not missing, f"no example shows: {missing}"
