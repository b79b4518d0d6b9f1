"""A server that answers like a real Ollama (``ollama serve``), for the routes LiteLLM and DSPy use.

* ``GET /`` -> ``Ollama is running``; ``GET /api/version``
* ``GET /api/tags`` -> the pulled models
* ``POST /api/chat`` / ``POST /api/generate`` (non-streaming) -> Ollama's native reply shape
* ``POST /api/show`` -> model details
* ``POST /v1/chat/completions`` -> the OpenAI-compatible reply Ollama also serves
An unknown model gets Ollama's 404 ``model "NAME" not found, try pulling it first``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from .base import JSON, RecordedRequest, Reply, TestServer
from .openai_compat import chat_completion

ReplyText = str | Callable[[JSON], str]


class OllamaServer(TestServer):
    def __init__(
        self,
        models: tuple[str, ...] = ("qwen2.5:0.5b",),
        reply: ReplyText = "[[ ## answer ## ]]\nok\n\n[[ ## completed ## ]]",
    ) -> None:
        super().__init__()
        self.models = models
        self.reply: ReplyText = reply
        self.routes.update(
            {
                ("GET", "/"): lambda r: Reply(200, "Ollama is running"),
                ("HEAD", "/"): lambda r: Reply(200, ""),
                ("GET", "/api/version"): lambda r: Reply(200, {"version": "0.12.0"}),
                ("GET", "/api/tags"): self._tags,
                ("POST", "/api/chat"): self._chat,
                ("POST", "/api/generate"): self._generate,
                ("POST", "/api/show"): self._show,
                ("POST", "/v1/chat/completions"): self._openai_chat,
            }
        )

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return self.requests_to("/api/chat", "POST")

    def _known(self, name: str) -> bool:
        return name in self.models or (":" not in name and f"{name}:latest" in self.models)

    def _missing(self, name: str) -> Reply:
        return Reply(404, {"error": f'model "{name}" not found, try pulling it first'})

    def _text(self, body: JSON) -> str:
        return self.reply(body) if callable(self.reply) else self.reply

    def _tags(self, request: RecordedRequest) -> Reply:
        now = datetime.now(UTC).isoformat()
        models = [
            {
                "name": m,
                "model": m,
                "modified_at": now,
                "size": 397821319,
                "digest": "a8b0c5157701" + "0" * 52,
                "details": {"format": "gguf", "family": "qwen2", "quantization_level": "Q4_K_M"},
            }
            for m in self.models
        ]
        return Reply(200, {"models": models})

    def _native_reply(self, body: JSON, key: str, value: object) -> Reply:
        name = str(body.get("model", ""))
        if not self._known(name):
            return self._missing(name)
        if body.get("stream", True):
            # Real Ollama streams NDJSON unless stream is false; the clients under test must ask for false.
            return Reply(400, {"error": "this test server only answers stream=false requests"})
        reply = {
            "model": name,
            "created_at": datetime.now(UTC).isoformat(),
            key: value,
            "done": True,
            "done_reason": "stop",
            "total_duration": 1000,
            "load_duration": 10,
            "prompt_eval_count": 11,
            "eval_count": 3,
        }
        return Reply(200, reply)

    def _chat(self, request: RecordedRequest) -> Reply:
        body: JSON = request.body if isinstance(request.body, dict) else {}
        return self._native_reply(body, "message", {"role": "assistant", "content": self._text(body)})

    def _generate(self, request: RecordedRequest) -> Reply:
        body: JSON = request.body if isinstance(request.body, dict) else {}
        return self._native_reply(body, "response", self._text(body))

    def _show(self, request: RecordedRequest) -> Reply:
        body: JSON = request.body if isinstance(request.body, dict) else {}
        name = str(body.get("model") or body.get("name") or "")
        if not self._known(name):
            return self._missing(name)
        info = {"general.architecture": "qwen2", "qwen2.context_length": 32768}
        return Reply(
            200,
            {
                "modelfile": "",
                "template": "{{ .Prompt }}",
                "details": {"family": "qwen2"},
                "model_info": info,
                "capabilities": ["completion"],
            },
        )

    def _openai_chat(self, request: RecordedRequest) -> Reply:
        body: JSON = request.body if isinstance(request.body, dict) else {}
        name = str(body.get("model", ""))
        if not self._known(name):
            return Reply(
                404,
                {
                    "error": {
                        "message": f'model "{name}" not found, try pulling it first',
                        "type": "api_error",
                        "param": None,
                        "code": None,
                    }
                },
            )
        return Reply(200, chat_completion(name, [self._text(body)]))
