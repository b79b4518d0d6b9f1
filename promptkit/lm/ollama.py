"""Ollama helpers: base-URL normalization, a cheap status probe (``GET /api/tags``) and the preflight check.

Used by the LM layer before the first call to an ``ollama/`` or ``ollama_chat/`` model (so "not running"
and "model not pulled" are reported fast and clearly) and by the CLI's ``doctor`` command.
"""

from __future__ import annotations

from typing import Any

from promptkit.errors import BackendUnavailableError
from promptkit.lm.routes import DEFAULT_OLLAMA_BASE, normalize_ollama_base

__all__ = ["DEFAULT_OLLAMA_BASE", "check_ollama_model", "model_is_pulled", "normalize_ollama_base", "ollama_status"]

SERVE_HINT = "start Ollama with `ollama serve` (or point api_base / PROMPTKIT_API_BASE at the server that runs it)"


def ollama_status(api_base: str | None = None, timeout: float = 2.0, *, api_key: str | None = None) -> dict[str, Any]:
    """Probe an Ollama server: ``{"reachable": bool, "url": str, "models": list[str], "error": str | None}``.

    ``reachable`` is True when the server answered at all; ``error`` is set when it did not answer or its
    ``/api/tags`` reply was not Ollama's (then ``models`` is empty). Never raises for network problems.
    """
    import httpx  # lazily: keeps `import promptkit` light

    url = normalize_ollama_base(api_base)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    status: dict[str, Any] = {"reachable": False, "url": url, "models": [], "error": None}
    try:
        response = httpx.get(f"{url}/api/tags", timeout=timeout, headers=headers)
    except httpx.TimeoutException:
        status["error"] = f"no answer within {timeout:g} s"
        return status
    except httpx.HTTPError as exc:
        status["error"] = _reason(exc)
        return status
    status["reachable"] = True
    if response.status_code != 200:
        status["error"] = f"GET /api/tags answered HTTP {response.status_code} (is this an Ollama server?)"
        return status
    try:
        entries = response.json().get("models", [])
        status["models"] = sorted({str(e.get("name") or e.get("model")) for e in entries if isinstance(e, dict)})
    except (ValueError, AttributeError):
        status["error"] = "GET /api/tags did not return Ollama's JSON (is this an Ollama server?)"
    return status


def model_is_pulled(name: str, models: list[str]) -> bool:
    """Ollama names an untagged model ``NAME:latest``; both spellings count."""
    if name in models:
        return True
    return ":" not in name and f"{name}:latest" in models


def check_ollama_model(name: str, api_base: str | None, *, timeout: float = 2.0, api_key: str | None = None) -> None:
    """Raise BackendUnavailableError when the server is down or ``name`` is not pulled there.

    A server that answers but not like Ollama (e.g. an OpenAI-compatible proxy) is let through: the real
    call will say what is wrong.
    """
    status = ollama_status(api_base, timeout=timeout, api_key=api_key)
    url = status["url"]
    if not status["reachable"]:
        raise BackendUnavailableError(
            f"Ollama is not reachable at {url} ({status['error']})",
            url=url,
            hint=SERVE_HINT,
        )
    if status["error"] is not None:
        return
    if not model_is_pulled(name, status["models"]):
        pulled = ", ".join(status["models"]) or "none"
        raise BackendUnavailableError(
            f"model {name!r} is not pulled on the Ollama server at {url} (pulled models: {pulled})",
            url=url,
            hint=f"run `ollama pull {name}`",
        )


def _reason(exc: BaseException) -> str:
    """A short cause ("connection refused", "cannot resolve host ...") for an httpx error."""
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if "refused" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered or "getaddrinfo" in lowered:
        return "cannot resolve the host name"
    return text
