"""An OpenAI-compatible chat server (the shape vLLM, llama.cpp's server and LiteLLM proxies serve)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .base import JSON, RecordedRequest, Reply, TestServer

ReplyText = str | JSON | Callable[[JSON], str | JSON]


def chat_completion(model: str, texts: list[str | JSON], prompt_tokens: int = 7) -> JSON:
    """A ``chat.completion`` object with one choice per text (or per assistant message, e.g. with tool_calls)."""
    messages = [{"role": "assistant", **({"content": t} if isinstance(t, str) else t)} for t in texts]
    completion_tokens = sum(len(str(m.get("content") or "").split()) for m in messages)
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": i, "message": message, "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}
            for i, message in enumerate(messages)
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class OpenAICompatServer(TestServer):
    """Serves ``POST /v1/chat/completions`` (and ``GET /v1/models``).

    ``reply`` is the assistant text (or an assistant message dict, e.g. with ``tool_calls``), or a
    function of the request JSON returning one.
    ``fail_next`` holds ``(status, body)`` pairs answered (in order) before normal replies.
    """

    def __init__(
        self, reply: ReplyText = "[[ ## answer ## ]]\nok\n\n[[ ## completed ## ]]", models: tuple[str, ...] = ()
    ) -> None:
        super().__init__()
        self.reply: ReplyText = reply
        self.models = models
        self.fail_next: list[tuple[int, Any]] = []
        self.routes[("POST", "/v1/chat/completions")] = self._chat
        self.routes[("GET", "/v1/models")] = self._models

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return self.requests_to("/v1/chat/completions", "POST")

    def _chat(self, request: RecordedRequest) -> Reply:
        if self.fail_next:
            status, error = self.fail_next.pop(0)
            return Reply(status, error)
        body: JSON = request.body if isinstance(request.body, dict) else {}
        text = self.reply(body) if callable(self.reply) else self.reply
        n = int(body.get("n") or 1)
        return Reply(200, chat_completion(str(body.get("model", "")), [text] * n))

    def _models(self, request: RecordedRequest) -> Reply:
        return Reply(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in self.models]})
