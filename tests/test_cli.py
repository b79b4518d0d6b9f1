"""The `promptkit` command as a user runs it: real processes, exit codes, one-line errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OBJECTS = ROOT / "examples" / "objects.yaml"


def promptkit(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PROMPTKIT_MODEL": "", **(env or {})}
    full_env.pop("PROMPTKIT_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "promptkit", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or ROOT,
        timeout=120,
    )


def assert_clean_error(result: subprocess.CompletedProcess, code: int) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    assert "error:" in result.stderr


def test_help_lists_the_commands() -> None:
    result = promptkit("--help")
    assert result.returncode == 0
    for command in ("render", "ask", "doctor", "templates"):
        assert command in result.stdout


def test_version_names_promptkit_dspy_and_python() -> None:
    from importlib import metadata

    from promptkit import __version__

    result = promptkit("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["promptkit", __version__]
    assert f"dspy {metadata.version('dspy')}" in result.stdout and f"python {sys.version.split()[0]}" in result.stdout


def test_help_and_render_do_not_import_heavy_libraries() -> None:
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['promptkit'] + sys.argv[1:]\n"
        "try:\n    runpy.run_module('promptkit', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'litellm', 'dspy') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    for args in (["--help"], ["--version"], ["render", "structured.j2", "--vars", str(OBJECTS), "--format", "text"]):
        result = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, cwd=ROOT)
        assert "HEAVY []" in result.stderr, (args, result.stderr[-2000:])


def test_render_structured_prompt_as_text() -> None:
    result = promptkit("render", "structured.j2", "--vars", str(OBJECTS), "--format", "text")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    order = [text.index(f"<{name}>") for name in ("OBJECTIVE_AND_PERSONA", "INSTRUCTIONS", "TASK")]
    assert order == sorted(order)
    assert "Rhino" in text and "Elephant" in text


def test_render_json_format_gives_messages() -> None:
    import json

    result = promptkit("render", "qa.j2", "--var", "question=Why is the sky blue?", "--format", "json")
    assert result.returncode == 0, result.stderr
    messages = json.loads(result.stdout)
    assert {m["role"] for m in messages} >= {"user"}
    assert any("Why is the sky blue?" in m["content"] for m in messages)


def test_render_missing_input_is_a_usage_error() -> None:
    result = promptkit("render", "qa.j2")
    assert_clean_error(result, 2)
    assert "question" in result.stderr and "qa.j2" in result.stderr


def test_render_var_file_reference(tmp_path: Path) -> None:
    question = tmp_path / "q.txt"
    question.write_text("What is in the file?")
    result = promptkit("render", "qa.j2", "--var", f"question=@{question}", "--format", "text")
    assert result.returncode == 0 and "What is in the file?" in result.stdout


def test_render_unknown_template_and_bad_format() -> None:
    assert_clean_error(promptkit("render", "no_such_template.j2"), 2)
    assert_clean_error(promptkit("render", "qa.j2", "--var", "question=x", "--format", "yaml"), 2)
    assert_clean_error(promptkit("render", "qa.j2", "--var", "novalue"), 2)


def test_render_a_user_file(tmp_path: Path) -> None:
    template = tmp_path / "hello.j2"
    template.write_text("{#---\nname: hello\ninputs:\n  n: {type: int}\n---#}\nHello {{ n + 1 }}")
    ok = promptkit("render", str(template), "--var", "n=41", "--format", "text")
    assert ok.returncode == 0 and "Hello 42" in ok.stdout, ok.stderr
    bad = promptkit("render", str(template), "--var", "n=forty")
    assert_clean_error(bad, 2)
    assert "int" in bad.stderr


def test_templates_lists_bundled_templates_with_inputs() -> None:
    result = promptkit("templates")
    assert result.returncode == 0, result.stderr
    assert "structured.j2" in result.stdout and "qa.j2" in result.stdout and "question" in result.stdout


def test_ask_with_fake_model() -> None:
    result = promptkit("ask", "What is the capital of France?", "--model", "fake", "--cot", "--show-prompt")
    assert result.returncode == 0, result.stderr
    assert "[fake]" in result.stdout
    assert "<OBJECTIVE_AND_PERSONA>" in result.stdout  # --show-prompt printed the rendered messages


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.server
def test_ask_unreachable_backend_is_a_runtime_error() -> None:
    port = _dead_port()
    result = promptkit(
        "ask",
        "hi",
        "--model",
        "openai/x",
        "--api-base",
        f"http://127.0.0.1:{port}/v1",
        env={"PROMPTKIT_API_KEY": "sk-secret-value", "PROMPTKIT_NUM_RETRIES": "0"},
    )
    assert_clean_error(result, 1)
    assert f"127.0.0.1:{port}" in result.stderr
    assert "sk-secret-value" not in result.stderr + result.stdout


def test_bad_config_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "promptkit.toml").write_text("[promptkit]\nmodle = 'x'\n")
    result = promptkit("doctor", cwd=tmp_path)
    assert_clean_error(result, 2)
    assert "modle" in result.stderr


def test_doctor_reports_settings_and_sources(tmp_path: Path) -> None:
    (tmp_path / "promptkit.toml").write_text("[promptkit]\nmodel = 'ollama_chat/qwen2.5:0.5b'\n")
    result = promptkit("doctor", cwd=tmp_path, env={"PROMPTKIT_API_BASE": f"http://127.0.0.1:{_dead_port()}"})
    assert result.returncode == 0, result.stderr
    assert "ollama_chat/qwen2.5:0.5b" in result.stdout and "promptkit.toml" in result.stdout
    assert "environment" in result.stdout and "not reachable" in result.stdout


def test_unknown_command_is_a_usage_error() -> None:
    assert promptkit("frobnicate").returncode == 2
