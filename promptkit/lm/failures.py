"""Turn LM call failures into promptkit errors that say which URL was tried and what to do.

DSPy reports backend failures as ``dspy.LMError`` subclasses whose text comes from LiteLLM or the native
client; the same "connection refused" arrives as ``LMTransportError`` on one route and as
``LMServerError('Connection error.')`` on another (the OpenAI SDK's mapping). So classification looks at
the whole cause chain (class names and messages), never at one exception type only.
"""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator
from urllib.parse import urlsplit

from promptkit.errors import BackendError, BackendUnavailableError, ConfigError, PromptkitError
from promptkit.redaction import redact

_CONNECT_CLASS_NAMES = {
    "ConnectError",  # httpx
    "ConnectTimeout",  # httpx
    "APIConnectionError",  # openai / litellm
    "ConnectionRefusedError",
    "gaierror",  # DNS
}
_CONNECT_PHRASES = (
    "connection refused",
    "connection error",
    "name or service not known",
    "nodename nor servname",
    "temporary failure in name resolution",
    "failed to establish a new connection",
    "cannot connect",
    "connect timeout",
    "connecttimeout",
)


def causes(exc: BaseException, *, implicit: bool = True) -> Iterator[BaseException]:
    """The exception and what it was raised from: ``__cause__``, and ``__context__`` when ``implicit``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or (current.__context__ if implicit else None)


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[:limit] + "..."


def is_connection_failure(exc: BaseException) -> bool:
    for item in causes(exc):
        if type(item).__name__ in _CONNECT_CLASS_NAMES:
            return True
        lowered = str(item).lower()
        if any(phrase in lowered for phrase in _CONNECT_PHRASES):
            return True
    return False


def is_timeout(exc: BaseException) -> bool:
    from dspy.utils.exceptions import LMTimeoutError

    return any(isinstance(item, LMTimeoutError | TimeoutError | socket.timeout) for item in causes(exc))


def _mentions(exc: BaseException, *phrases: str) -> bool:
    return any(p in str(item).lower() for item in causes(exc) for p in phrases)


def translate_failure(
    exc: BaseException,
    *,
    model: str,
    url: str | None,
    ollama_name: str | None = None,
    timeout: float | None = None,
    secret: str | None = None,
    waited: float | None = None,
    attempts: int | None = None,
) -> PromptkitError | None:
    """The promptkit error to raise instead of ``exc``, or None to let ``exc`` through unchanged.

    ``ollama_name`` is the model name on an Ollama route (its hints say ``ollama serve`` / ``ollama pull``).
    ``waited`` / ``attempts``: the call's whole wait and its number of requests, said in the error.
    Errors DSPy modules react to themselves (context window exceeded, parse errors) are never translated.
    """
    from dspy.utils.exceptions import ContextWindowExceededError, LMAuthError, LMError, LMNotConfiguredError

    # An engine of ours (FakeLM, the embedded model) raised a promptkit error; DSPy wrapped it as
    # LMUnexpectedError (`raise ... from`). The user should see the original. Only explicit causes count:
    # an implicit __context__ may be an unrelated error the caller was handling when it called the LM.
    for item in causes(exc, implicit=False):
        if isinstance(item, PromptkitError):
            return item
    if not isinstance(exc, LMError) or isinstance(exc, ContextWindowExceededError):
        return None
    where = url or "the provider's default endpoint"
    reason = redact(_first_line(str(exc)), secret)
    if ollama_name is not None and _mentions(exc, "not found, try pulling", "try pulling it first"):
        return BackendUnavailableError(
            f"model {ollama_name!r} is not pulled on the Ollama server at {where}",
            url=url,
            hint=f"run `ollama pull {ollama_name}`",
        )
    if is_connection_failure(exc):
        hint = (
            "start Ollama with `ollama serve` (or point api_base / PROMPTKIT_API_BASE at it)"
            if ollama_name is not None
            else "check that the server is running and the URL is right (api_base / PROMPTKIT_API_BASE)"
        )
        return BackendUnavailableError(f"cannot connect to {where} for model {model!r}: {reason}", url=url, hint=hint)
    if is_timeout(exc):
        limit = f"{timeout:g} s" if timeout is not None else "the timeout"
        total = ""
        if waited is not None:
            tries = f" over {attempts} request{'s' if attempts != 1 else ''}" if attempts else ""
            total = f" (waited {waited:.1f} s in total{tries})"
        return BackendUnavailableError(
            f"{where} did not answer model {model!r} within {limit}{total}: {reason}",
            url=url,
            hint="check the server's load, or raise the limit with timeout=... / PROMPTKIT_TIMEOUT",
        )
    if _mentions(exc, "llm provider not provided"):
        return ConfigError(
            f"model {model!r}: LiteLLM does not know the provider {model.split('/', 1)[0]!r}",
            hint="use a provider LiteLLM supports (see https://docs.litellm.ai/docs/providers), e.g. openai/NAME",
        )
    if isinstance(exc, LMAuthError | LMNotConfiguredError) or _mentions(exc, "missing credentials"):
        return BackendError(
            f"model {model!r} at {where}: the API key is missing or was rejected: {reason}",
            hint="set the key with api_key=... or PROMPTKIT_API_KEY (never in a committed file)",
        )
    return None


def without_secrets(exc: BaseException, *, model: str, where: str, secret: str | None = None) -> BackendError | None:
    """A BackendError with the text scrubbed, for an untranslated failure whose text holds a key; else None.

    A provider may echo the key in any error (a 400 quoting the request headers, a proxy's 502 page). The
    original exception, and the chain it came with, stay out of the new error, so no repr leaks it.
    """
    text = str(exc)
    clean = redact(text, secret)
    if clean == text:
        return None
    return BackendError(
        f"model {model!r} at {where} failed: {_first_line(clean)}",
        hint="the server's message quoted a key; it was removed here (set PROMPTKIT_DEBUG=1 only on a private machine)",
    )


def unreachable_reason(url: str, timeout: float = 2.0) -> str | None:
    """Why a TCP connection to the URL's host:port fails within ``timeout`` s, or None when it connects.

    A cheap preflight for servers given by ``api_base``: a dead local server is then reported at once,
    without importing LiteLLM or waiting for DSPy's retries. Skipped (None) when an HTTP proxy would
    carry the request, since the host need not be directly reachable then.
    """
    parts = urlsplit(url if "://" in url else "http://" + url)
    host = parts.hostname
    if not host:
        return None
    proxies = urllib.request.getproxies()
    if proxies.get(parts.scheme) and not urllib.request.proxy_bypass(host):
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except socket.gaierror:
        return f"cannot resolve the host name {host!r}"
    except ConnectionRefusedError:
        return "connection refused"
    except TimeoutError:
        return f"no connection within {timeout:g} s"
    except OSError as exc:
        return exc.strerror or str(exc)
