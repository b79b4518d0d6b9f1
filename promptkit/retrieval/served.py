"""Embeddings from a server: any LiteLLM embedding model (``openai/text-embedding-3-small``,
``ollama/nomic-embed-text``, ``hosted_vllm/...``, or ``openai/NAME`` at the ``api_base`` of any server
speaking OpenAI's ``/v1/embeddings``: vLLM, TEI, infinity, llama.cpp, a LiteLLM proxy).

One request carries one batch of texts; ``Embedder`` keeps several in flight and caches each batch as it
returns. Transient failures (HTTP 429 and 5xx, timeouts, dropped connections) are retried by the retry
loop LM calls use (``promptkit.lm.retries``), waiting what the server's ``Retry-After`` asks for.
Failures are classified as promptkit's LM routes classify them (LiteLLM's exception -> DSPy's
``LMError`` -> a promptkit error), so an embedding server that is down reads exactly like an LM server
that is down. The API key never leaves this object: it is not in the identity, the repr or any error.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from promptkit.errors import BackendError, BackendUnavailableError, ConfigError
from promptkit.redaction import register_secret

# Model prefixes that name a LiteLLM embedding provider. Anything else is a sentence-transformers model
# (whose names also hold a slash: ``BAAI/bge-small-en-v1.5``), so the list decides, not the slash.
SERVED_PREFIXES = frozenset(
    {
        "openai",
        "azure",
        "ollama",
        "hosted_vllm",
        "huggingface",
        "infinity",
        "cohere",
        "voyage",
        "mistral",
        "gemini",
        "vertex_ai",
        "bedrock",
        "together_ai",
        "jina_ai",
        "nvidia_nim",
        "fireworks_ai",
        "lm_studio",
        "litellm_proxy",
        "text-embedding-inference",
    }
)


def is_served(model: str | None) -> bool:
    """Whether ``model`` names a LiteLLM embedding model (a server) rather than a sentence-transformers one."""
    if not model or Path(model).expanduser().exists():
        return False
    return model.split("/", 1)[0] in SERVED_PREFIXES and "/" in model


def with_retry_after(error: Exception, cause: BaseException) -> Exception:
    """``error`` with ``retry_after`` set from the server's Retry-After header when it lacks one.

    DSPy's mapping of a LiteLLM error reads ``response.headers``, which LiteLLM leaves empty on the
    embedding path; it keeps the server's headers as ``litellm_response_headers``.
    """
    from dspy.clients._http import retry_after_seconds

    if getattr(error, "retry_after", None) is None:
        for name in ("litellm_response_headers", "headers"):
            headers: Any = getattr(cause, name, None)
            hint = retry_after_seconds(headers.get("retry-after")) if hasattr(headers, "get") else None
            if hint is not None:
                error.retry_after = hint  # type: ignore[attr-defined]
                break
    return error


class ServedEncoder:
    """Encodes batches through ``litellm.embedding``; one call per batch, retried when transient."""

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        num_retries: int = 3,
    ) -> None:
        from promptkit.lm.routes import missing_key_error, normalize_api_base, normalize_ollama_base, parse_route

        route = parse_route(model)
        if timeout <= 0 or num_retries < 0:
            raise ConfigError(
                f"embedder timeout must be > 0 and num_retries >= 0, got {timeout} and {num_retries}",
                hint="e.g. timeout=60, num_retries=3",
            )
        self.model = route.model
        self.ollama_name = route.model_name if route.kind == "ollama" else None
        if self.ollama_name is not None:
            self.api_base: str | None = normalize_ollama_base(api_base or os.environ.get("OLLAMA_API_BASE"))
        else:
            self.api_base = normalize_api_base(api_base) if api_base else None
        if api_key is None and self.api_base and route.provider == "openai" and not os.environ.get("OPENAI_API_KEY"):
            from promptkit.lm.factory import NO_KEY_PLACEHOLDER  # the OpenAI client refuses to run without a key

            api_key = NO_KEY_PLACEHOLDER
        self._api_key = api_key
        register_secret(api_key)  # every later error line is scrubbed of it, whoever prints it
        problem = missing_key_error(self.model, has_key=bool(api_key)) if self.api_base is None else None
        if problem is not None:
            raise problem
        self.timeout = timeout
        self.num_retries = num_retries
        self._dim: int | None = None
        self._reachable = False
        self._openai: Any = None
        self._client_lock = threading.Lock()

    @property
    def where(self) -> str:
        """The server, as shown in messages (no credentials)."""
        from promptkit.lm.routes import without_userinfo

        return without_userinfo(self.api_base) if self.api_base else "the provider's default endpoint"

    @property
    def identity(self) -> str:
        """``model@hash-of-endpoint``: two servers may serve different models under one name."""
        endpoint = self.api_base or self.model.split("/", 1)[0]
        return f"{self.model}@{hashlib.sha256(endpoint.encode()).hexdigest()[:16]}"

    @property
    def dim(self) -> int:
        """The vector size, asked of the server once (one short request)."""
        if self._dim is None:
            self._dim = int(self.encode(["dimension probe"]).shape[1])
        return self._dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Normalized float32 vectors for ``texts``: one request, retried by promptkit's retry loop (as LM
        calls are) when the failure is transient; the timeout bounds the batch's whole wait."""
        from promptkit.lm import retries

        self._preflight()
        attempts = retries.Attempts(retries=self.num_retries, budget=self.timeout)
        try:
            return retries.run(lambda: self._request(list(texts)), attempts)
        except Exception as error:
            raise self._failure(error, attempts) from None

    def _request(self, texts: list[str]) -> np.ndarray:
        """One request; a failure is raised as DSPy's ``LMError`` (what the retry loop and the translation read)."""
        from dspy.clients._litellm import get_litellm  # LiteLLM with DSPy's defaults: no telemetry, no banners
        from dspy.clients.engines.litellm_errors import to_lm15_error
        from dspy.clients.errors import wrap_error

        litellm = get_litellm(feature="promptkit served embedder")
        try:
            response = litellm.embedding(
                model=self.model,
                input=texts,
                api_base=self.api_base,
                api_key=self._api_key,
                timeout=self.timeout,
                max_retries=0,
                **self._client(),
            )
        except Exception as exc:
            error = with_retry_after(wrap_error(to_lm15_error(exc, model=self.model), model=self.model), exc)
            raise error from exc  # the connection-failure check reads the whole chain
        return self._vectors(response, len(texts))

    def _client(self) -> dict[str, Any]:
        """``client=`` for the ``openai/`` route: an OpenAI client that never retries by itself.

        The retries must be ours alone (else each of ours is three, and the count a user set means nothing),
        but LiteLLM turns ``max_retries=0`` into its default of 2 (``max_retries or DEFAULT_MAX_RETRIES``)
        and sets that on any client it is given; this client ignores the setting.
        """
        if not self.model.startswith("openai/"):
            return {}
        with self._client_lock:
            if self._openai is None:
                from openai import OpenAI

                class SingleAttemptOpenAI(OpenAI):
                    @property
                    def max_retries(self) -> int:
                        return 0

                    @max_retries.setter
                    def max_retries(self, value: int) -> None:
                        pass

                self._openai = SingleAttemptOpenAI(api_key=self._api_key, base_url=self.api_base, timeout=self.timeout)
        return {"client": self._openai}

    def _preflight(self) -> None:
        """Once: a TCP connect to a configured server, so a server that is not running is said at once."""
        if self._reachable or self.api_base is None:
            return
        from promptkit.lm.failures import unreachable_reason

        reason = unreachable_reason(self.api_base)
        if reason is not None:
            raise BackendUnavailableError(
                f"cannot connect to {self.where} for the embedding model {self.model!r}: {reason}",
                url=self.where,
                hint="start the embedding server, or pass the right URL (--api-base / api_base=)",
            )
        self._reachable = True

    def _failure(self, error: Exception, attempts: Any) -> Exception:
        from dspy.utils.exceptions import LMRateLimitError

        from promptkit.lm.failures import translate_failure
        from promptkit.redaction import redact

        if isinstance(error, BackendError):
            return error
        translated = translate_failure(
            error,
            model=self.model,
            url=self.where,
            ollama_name=self.ollama_name,
            timeout=self.timeout,
            secret=self._api_key,
            waited=attempts.waited,
            attempts=attempts.made,
        )
        if translated is not None:
            return translated
        text = str(error).strip()
        reason = redact(text.splitlines()[0] if text else type(error).__name__, self._api_key)
        hint = "check the model name and the server's log"
        if isinstance(error, LMRateLimitError):
            hint = "the server is rate-limiting: send fewer requests at once (concurrency=), or retry more"
        return BackendError(
            f"the embedding model {self.model!r} at {self.where} failed after {attempts.made} "
            f"request(s): {reason[:300]}",
            hint=hint,
        )

    def _vectors(self, response: Any, expected: int) -> np.ndarray:
        rows = sorted(response.data, key=lambda item: _field(item, "index"))
        if len(rows) != expected:
            raise BackendError(
                f"{self.where} returned {len(rows)} embeddings for {expected} texts (model {self.model!r})",
                hint="check the server's batch limits",
            )
        vectors = np.asarray([_field(row, "embedding") for row in rows], dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        # Servers differ on normalizing; promptkit's vectors always are (cosine = dot product).
        return vectors / np.where(norms > 0, norms, 1.0)

    def __repr__(self) -> str:
        return f"ServedEncoder({self.model!r}, api_base={self.where!r})"


def _field(item: Any, name: str) -> Any:
    return item[name] if isinstance(item, dict) else getattr(item, name)
