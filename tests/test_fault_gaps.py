"""Issue 11's fault and bad-input gaps, each as a user meets it.

* ``PROMPTKIT_TIMEOUT`` bounds the whole wait (no retried timeouts), and the error says the total;
* a 200 reply with ``"choices": []`` is a BackendError naming the server;
* every error text is scrubbed of every configured key (one redaction policy, promptkit.redaction);
* a malformed YAML file is one line naming the line to fix;
* an undecodable, empty or binary data file is named as such, with the bad byte's line.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import dspy
import pytest

from promptkit.config import load_settings
from promptkit.errors import BackendError, BackendUnavailableError, DataError
from promptkit.lm import lm
from promptkit.redaction import known_secrets, redact, register_secret
from tests.servers import OpenAICompatServer
from tests.servers.base import Reply

ROOT = Path(__file__).resolve().parents[1]
ANSWER = "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]"
KEY = "sk-gap-test-4f8a9c0d1e2b"


def ask(model_lm: dspy.LM, question: str) -> dspy.Prediction:
    with dspy.context(lm=model_lm):
        return dspy.Predict("question -> answer")(question=question)


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


# -- timeout bound ------------------------------------------------------------------------------------------
@pytest.mark.server
def test_timeout_bounds_the_total_wait_and_the_error_says_it() -> None:
    def hang(body: dict[str, Any]) -> str:
        if "never" in json.dumps(body):
            time.sleep(8)
        return ANSWER

    with OpenAICompatServer(reply=hang) as server:
        settings = load_settings(environ={"PROMPTKIT_TIMEOUT": "1.5", "PROMPTKIT_NUM_RETRIES": "2"})
        model_lm = lm("openai/m", api_base=f"{server.url}/v1", settings=settings, cache=False)
        ask(model_lm, "warm up")  # pays LiteLLM's import outside the measured call
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError) as info:
            ask(model_lm, "never answers")
        elapsed = time.monotonic() - started
        assert elapsed < 1.5 + 1.5, elapsed  # was 3 attempts + 3 s of backoff
        assert len([r for r in server.chat_requests if "never" in json.dumps(r.body)]) == 1
        assert "within 1.5 s" in str(info.value) and "in total over 1 request" in str(info.value)


@pytest.mark.server
def test_transient_errors_are_still_retried_within_the_timeout() -> None:
    with OpenAICompatServer(reply=ANSWER) as server:
        server.fail_next = [(500, {"error": {"message": "boom"}})]
        settings = load_settings(environ={"PROMPTKIT_TIMEOUT": "10", "PROMPTKIT_NUM_RETRIES": "2"})
        model_lm = lm("openai/m", api_base=f"{server.url}/v1", settings=settings, cache=False)
        assert ask(model_lm, "q").answer == "Paris"
        assert len(server.chat_requests) == 2
        assert model_lm.num_retries == 2 and model_lm.dump_state()["num_retries"] == 2


# -- empty choices ------------------------------------------------------------------------------------------
def _no_choices(request: Any) -> Reply:
    return Reply(
        200,
        {
            "id": "x",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [],
            "usage": {"prompt_tokens": 3, "completion_tokens": 0, "total_tokens": 3},
        },
    )


@pytest.mark.server
@pytest.mark.parametrize("asynchronous", [False, True])
def test_empty_choices_is_a_backend_error_naming_the_server(memory_only_cache: None, asynchronous: bool) -> None:
    with OpenAICompatServer(reply=ANSWER) as server:
        server.routes[("POST", "/v1/chat/completions")] = _no_choices
        model_lm = lm("openai/m", api_base=f"{server.url}/v1", settings=load_settings(environ={}))
        with pytest.raises(BackendError, match=r"no choices") as info:
            if asynchronous:
                import asyncio

                asyncio.run(model_lm.acall("q"))
            else:
                ask(model_lm, "q")
        assert f"{server.url}/v1" in str(info.value)
        # the empty answer is not replayed from the cache once the server is fixed
        server.routes.pop(("POST", "/v1/chat/completions"))
        server.routes[("POST", "/v1/chat/completions")] = server._chat
        if not asynchronous:
            assert ask(model_lm, "q").answer == "Paris"


# -- key scrubbing ------------------------------------------------------------------------------------------
def test_one_policy_scrubs_registered_env_and_explicit_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_PROVIDER_API_KEY", "env-key-0123456789")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "disabled")  # not a secret: the name only mentions tokens
    register_secret("router-key-abcdef123")
    text = "a env-key-0123456789 b router-key-abcdef123 c explicit-key-999 d disabled"
    assert redact(text, "explicit-key-999") == "a *** b *** c *** d disabled"
    assert "short" not in known_secrets("short")  # too short to be a key: never replaced everywhere


def test_evaluation_and_lm_failures_share_the_policy() -> None:
    from promptkit.evaluation import results
    from promptkit.lm import failures

    assert failures.redact is redact
    assert not hasattr(results, "redact") and not hasattr(results, "known_secrets")


@pytest.mark.server
def test_key_echoed_by_a_401_never_reaches_stderr() -> None:
    env_key = "sk-env-only-77aa88bb99cc"  # read by the OpenAI client from the environment, never passed
    with OpenAICompatServer(reply=ANSWER) as server:
        server.fail_next = [(401, {"error": {"message": f"Incorrect API key provided: {env_key}", "type": "auth"}})]
        result = promptkit(
            "ask",
            "q",
            "--model",
            "openai/m",
            "--api-base",
            f"{server.url}/v1",
            env={"OPENAI_API_KEY": env_key, "PROMPTKIT_NUM_RETRIES": "0"},
        )
    assert result.returncode == 1, result.stderr
    assert env_key not in result.stderr + result.stdout and "***" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2  # the error line and its fix


@pytest.mark.server
def test_a_key_quoted_in_any_server_error_is_scrubbed_from_the_exception() -> None:
    with OpenAICompatServer(reply=ANSWER) as server:
        server.fail_next = [(400, {"error": {"message": f"bad request (headers: Authorization: Bearer {KEY})"}})]
        model_lm = lm(
            "openai/m",
            api_base=f"{server.url}/v1",
            api_key=KEY,
            settings=load_settings(environ={}),
            cache=False,
            num_retries=0,
        )
        with pytest.raises(BackendError) as info:
            ask(model_lm, "q")
    assert KEY not in str(info.value) and "***" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


# -- YAML ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("name: x\nitems: [1, 2\nother: 3\n", 2, "'[' list opened at column 8 is not closed"),
        ('name: x\nquote: "open\nother: 3\n', 2, "quoted string"),
        ("name: x\n  bad: 2\nother: 3\n", 2, "mapping values are not allowed here"),
        ("name: x\nb: @x\n", 2, "cannot start any token"),
    ],
)
def test_vars_yaml_error_is_one_line_with_the_right_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = tmp_path / "vars.yaml"
    path.write_text(text, encoding="utf-8")
    result = promptkit("render", "qa.j2", "--vars", str(path))
    assert result.returncode == 2, result.stderr
    first = result.stderr.strip().splitlines()[0]
    assert f"{path}:{line}: invalid YAML" in first and words in first
    assert "^" not in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 2  # the error and its fix


def test_every_yaml_reader_uses_the_one_loader(tmp_path: Path) -> None:
    from promptkit.chains import load_chain
    from promptkit.errors import PromptkitError
    from promptkit.prompts import StructuredPrompt

    path = tmp_path / "broken.yaml"
    path.write_text("steps:\n  - name: [a, b\n  - name: c\n", encoding="utf-8")
    for load in (StructuredPrompt.from_yaml, load_chain):
        with pytest.raises(PromptkitError) as info:
            load(path)
        assert ":2:" in str(info.value) and "'[' list opened" in str(info.value), load


# -- data files ---------------------------------------------------------------------------------------------
def test_undecodable_file_names_the_bad_bytes_line(tmp_path: Path) -> None:
    from promptkit.datasets import load

    path = tmp_path / "latin1.jsonl"
    lines = [json.dumps({"question": f"q{i}"}).encode() for i in range(5000)]  # past the reader's first chunk
    lines[4321] = '{"question": "café"}'.encode("latin-1")
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(DataError) as info:
        load(path)
    assert info.value.line == 4322 and "byte 0xe9" in str(info.value) and "UTF-8" in str(info.value)
    csv_path = tmp_path / "latin1.csv"
    csv_path.write_bytes(b"question,answer\nq1,a\nq2,caf\xe9\n")
    with pytest.raises(DataError) as info:
        load(csv_path)
    assert info.value.line == 3


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("empty.jsonl", b"", "the file is empty"),
        ("blank.csv", b"\n  \n", "blank"),
        ("empty.jsonl.gz", gzip.compress(b""), "the file is empty"),
        ("image.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
        ("excel.csv", "question\nq1\n".encode("utf-16"), "UTF-16"),
    ],
)
def test_empty_binary_and_utf16_files_say_so(tmp_path: Path, name: str, data: bytes, words: str) -> None:
    from promptkit.datasets import load

    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(DataError) as info:
        load(path)
    assert words in str(info.value) and str(path) in str(info.value) and info.value.hint


def test_cli_reports_an_empty_dataset_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    result = promptkit(
        "eval",
        "run",
        "technique:vanilla",
        "--data",
        str(path),
        "--metric",
        "exact_match",
        "--model",
        "fake",
        "--out",
        str(tmp_path / "o"),
    )
    assert result.returncode == 2, result.stderr
    assert "the file is empty" in result.stderr and "Traceback" not in result.stderr
