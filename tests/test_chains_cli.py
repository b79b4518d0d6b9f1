"""`promptkit chain SPEC.yaml --input ...` through typer's CliRunner: JSON on stdout, exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import dspy
import pytest
import typer
from dspy.clients.cache import Cache
from typer.testing import CliRunner, Result

from promptkit.cli.chain_cmd import register
from promptkit.lm import FakeLM

ROOT = Path(__file__).resolve().parents[1]
SPEC = """\
name: notes
inputs:
  text: {type: str}
  count: {type: int, default: 2}
steps:
  - name: points
    prompt: "Give {{ count }} points about: {{ text }}"
    output: list
  - name: verdict
    prompt: "Judge: {% for p in points %}{{ p }}. {% endfor %}"
    output: json
    schema: {type: object, required: [ok]}
    inputs: {points: points}
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(dspy, "cache", Cache(enable_disk_cache=False, enable_memory_cache=True, disk_cache_dir=None))
    monkeypatch.delenv("PROMPTKIT_DEBUG", raising=False)
    yield


def app() -> typer.Typer:
    built = typer.Typer()

    @built.callback()
    def main() -> None:  # a group, so `chain` stays a subcommand as in the real CLI
        """promptkit (test app)."""

    register(built)
    return built


def invoke(*args: str, lm: FakeLM | None = None) -> Result:
    runner = CliRunner()
    if lm is None:
        return runner.invoke(app(), list(args))
    with dspy.context(lm=lm):
        return runner.invoke(app(), list(args))


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "notes.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return path


def test_prints_the_result_as_json_and_reads_inputs_from_files(spec: Path, tmp_path: Path) -> None:
    text_file = tmp_path / "text.txt"
    text_file.write_text("the 5G rollout", encoding="utf-8")
    fake = FakeLM(["fast; cheap; patchy", '{"ok": true}'])
    result = invoke("chain", str(spec), "--input", f"text=@{text_file}", "-i", "count=3", lm=fake)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["output"] == {"ok": True} and data["inputs"] == {"text": "the 5G rollout", "count": 3}
    assert data["steps"][0]["messages"][0]["content"] == "Give 3 points about: the 5G rollout"
    assert data["steps"][0]["output"] == ["fast", "cheap", "patchy"]


def test_model_option_builds_the_lm(spec: Path, tmp_path: Path) -> None:
    text_only = tmp_path / "echo.yaml"
    text_only.write_text(SPEC.split("  - name: verdict")[0], encoding="utf-8")
    result = invoke("chain", str(text_only), "--input", "text=satellites", "--model", "fake")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["model"] == "fake/echo" and data["output"][0].startswith("[fake]")


def test_output_file(spec: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "result.json"
    result = invoke("chain", str(spec), "-i", "text=x", "--output", str(target), lm=FakeLM(["a", '{"ok": 1}']))
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text())["output"] == {"ok": 1}
    assert result.stdout == "" and "wrote" in result.stderr
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]  # no temporary left behind


def test_unusable_output_exits_1_with_the_raw_reply(spec: Path) -> None:
    fake = FakeLM(["a", "not json", "still not json"])
    result = invoke("chain", str(spec), "-i", "text=x", lm=fake)
    assert result.exit_code == 1
    assert "ChainStepError" in result.stderr and "verdict" in result.stderr and "still not json" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-i", "txt=x"), "has no input 'txt'"),
        ((), "needs input 'text'"),
        (("-i", "text"), "is not KEY=VALUE"),
        (("-i", "text=x", "-i", "count=many"), "is not a valid int"),
        (("-i", "text=@/no/such/file.txt"), "file not found"),
    ],
)
def test_bad_input_exits_2(spec: Path, args: tuple[str, ...], message: str) -> None:
    fake = FakeLM(["never used"])
    result = invoke("chain", str(spec), *args, lm=fake)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and fake.calls == []


def test_bad_spec_exits_2_naming_file_and_line(spec: Path) -> None:
    spec.write_text(SPEC.replace("inputs: {points: points}", "inputs: {points: pionts}"), encoding="utf-8")
    result = invoke("chain", str(spec), "-i", "text=x", lm=FakeLM(["unused"]))
    assert result.exit_code == 2
    line = next(n for n, text in enumerate(SPEC.splitlines(), 1) if "inputs: {points:" in text)
    assert f"{spec}:{line}:" in result.stderr and "ChainSpecError" in result.stderr


def test_runs_the_shipped_telecom_pipeline_from_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    answers = [
        "Dropped internet; double charge; long hold times",
        '{"Dropped internet": "service reliability", "double charge": "pricing concerns", '
        '"long hold times": "customer support quality"}',
        '{"service reliability": "Add capacity", "pricing concerns": "Fix billing", '
        '"customer support quality": "Staff the phones"}',
    ]
    result = invoke(
        "chain",
        os.path.join("pipelines", "telecom_feedback.yaml"),
        "--input",
        "feedback=@pipelines/data/telecom_feedback.txt",
        lm=FakeLM(answers),
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["output"]["recommend"]["pricing concerns"] == "Fix billing"
