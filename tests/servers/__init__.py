"""Small HTTP servers the LM tests start on 127.0.0.1 (ephemeral port) and stop at the end.

* :class:`OpenAICompatServer` speaks ``POST /v1/chat/completions`` like vLLM, llama.cpp's
  server or a LiteLLM proxy.
* :class:`OllamaServer` speaks the Ollama protocol (``/api/tags``, ``/api/chat``,
  ``/api/generate``, ``/api/show`` and the OpenAI-compatible ``/v1/chat/completions``).

Both record every request (:class:`RecordedRequest`) so tests can assert its shape.
"""

from .base import RecordedRequest, TestServer, free_port
from .ollama_protocol import OllamaServer
from .openai_compat import OpenAICompatServer

__all__ = ["OllamaServer", "OpenAICompatServer", "RecordedRequest", "TestServer", "free_port"]
