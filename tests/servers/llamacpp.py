"""llama.cpp's OpenAI-compatible server (``python -m llama_cpp.server``) with the bundled GGUF, for tests.

    with LlamaCppServer() as server:              # starts on 127.0.0.1:<free port>, waits for /v1/models
        lm = dspy.LM("openai/smollm2", api_base=server.api_base, api_key="x", engine="litellm")

The process is stopped (SIGTERM, then SIGKILL) when the block exits, also when the test failed.
Known server limits (llama-cpp-python 0.3.36): ``response_format={"type": "json_schema", ...}``
(OpenAI style) is rejected with HTTP 500 -- use ``{"type": "json_object", "schema": {...}}``;
``n > 1`` is silently ignored (one choice); requests are served one at a time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import dspy
from dspy.adapters.json_adapter import _get_structured_outputs_response_format

from tests.servers.base import free_port

MODEL_ALIAS = "smollm2"


class LlamaCppServerError(RuntimeError):
    """The server did not come up; the message carries the end of its log."""


class LlamaCppServer:
    """One ``llama_cpp.server`` process on 127.0.0.1; ``url`` is the root, ``api_base`` the ``/v1`` base."""

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        alias: str = MODEL_ALIAS,
        n_threads: int = 1,
        n_ctx: int = 2048,
        startup_timeout: float = 60.0,
    ) -> None:
        self.model_path = Path(model_path) if model_path is not None else _bundled_model()
        self.alias = alias
        self.n_threads = n_threads
        self.n_ctx = n_ctx
        self.startup_timeout = startup_timeout
        self.port = 0
        self.startup_seconds = 0.0
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="llamacpp-server-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.url}/v1"

    def start(self) -> LlamaCppServer:
        self.port = free_port()
        command = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model_path),
            "--model_alias",
            self.alias,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_threads",
            str(self.n_threads),
            "--n_ctx",
            str(self.n_ctx),
        ]
        # PASSIVE: the server shares 2 cores with the test process; spinning OpenMP workers would starve it.
        env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "HF_HUB_OFFLINE": "1"}
        started = time.perf_counter()
        self._process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            self._wait_ready(started)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - started
        return self

    def _wait_ready(self, started: float) -> None:
        assert self._process is not None
        while time.perf_counter() - started < self.startup_timeout:
            if self._process.poll() is not None:
                code = self._process.returncode
                raise LlamaCppServerError(f"llama_cpp.server exited with code {code}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.api_base}/models", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise LlamaCppServerError(f"llama_cpp.server not ready after {self.startup_timeout:g} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """Die like a crashed server: SIGKILL, no graceful shutdown (connections in flight are reset)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self._log.close()

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        text = Path(self._log.name).read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> LlamaCppServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        Path(self._log.name).unlink(missing_ok=True)


class LlamaCppServerJSONAdapter(dspy.JSONAdapter):
    """JSONAdapter that sends the signature's schema in llama.cpp's ``json_object`` + ``schema`` dialect.

    Through LiteLLM, stock JSONAdapter sends a bare ``{"type": "json_object"}`` (any JSON), which lets
    a tiny model drop fields; with the schema the server's grammar enforces them.
    """

    def _prepare_response_format(self, lm: Any, lm_kwargs: dict[str, Any], signature: Any) -> None:
        model = _get_structured_outputs_response_format(signature)
        lm_kwargs["response_format"] = {"type": "json_object", "schema": model.model_json_schema()}


def _bundled_model() -> Path:
    from promptkit.lm.local_models import bundled_model_path

    return bundled_model_path()
