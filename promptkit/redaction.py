"""The one redaction policy: which strings are secrets, and how text is scrubbed of them.

Every text promptkit shows or keeps (error messages, the CLI's error line, results rows, reports,
saved programs) goes through :func:`redact`. A secret is:

* a key promptkit was given (``api_key=...``, ``PROMPTKIT_API_KEY``, the keys a Router config
  names): these are registered with :func:`register_secret` when the LM is built;
* the value of an environment variable whose name says it holds one (``*_API_KEY``, ``*SECRET*``,
  ``*_TOKEN``, ``*PASSWORD*``, ``*_ACCESS_KEY``): a provider may read it without promptkit passing it;
* the key of the LM configured in DSPy.

Values shorter than :data:`MIN_SECRET_LENGTH` characters, or containing whitespace, are never treated
as secrets: keys are long opaque tokens, and replacing a short word everywhere would corrupt the text.
This module sits at the bottom of the package (it imports nothing from promptkit) so every layer can use it.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable

MASK = "***"
MIN_SECRET_LENGTH = 8

_SECRET_ENV = re.compile(r"(API_?KEY|SECRET|PASSWORD|ACCESS_KEY|(^|_)TOKEN$)", re.IGNORECASE)
_registered: set[str] = set()
_lock = threading.Lock()


def is_secret_like(value: str) -> bool:
    return len(value) >= MIN_SECRET_LENGTH and not any(c.isspace() for c in value)


def register_secret(value: object) -> None:
    """Remember a key promptkit was given, so every later text is scrubbed of it (for this process)."""
    if isinstance(value, str) and is_secret_like(value):
        with _lock:
            _registered.add(value)


def known_secrets(*extra: str | None) -> list[str]:
    """Every secret in reach of this process (see the module docstring), longest first.

    Longest first so that a key containing another key is replaced whole.
    """
    found: set[str] = {s for s in extra if s}
    with _lock:
        found |= _registered
    for name, value in os.environ.items():
        if value and _SECRET_ENV.search(name):
            found.add(value)
    found |= _configured_lm_keys()
    return sorted((s for s in found if is_secret_like(s)), key=len, reverse=True)


def _configured_lm_keys() -> set[str]:
    import sys

    if "dspy" not in sys.modules:  # never import DSPy just to redact a message
        return set()
    try:
        import dspy

        lm = dspy.settings.lm
        key = getattr(lm, "kwargs", {}).get("api_key") if lm is not None else None
        return {key} if isinstance(key, str) else set()
    except Exception:  # settings unreadable: env vars and registered keys are still covered
        return set()


def redact(text: str, secrets: str | Iterable[str | None] | None = None) -> str:
    """``text`` with every known secret, and ``secrets`` (a key or keys given explicitly), replaced by ``***``."""
    extra = [secrets] if isinstance(secrets, str) else list(secrets or ())
    for secret in known_secrets(*extra):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


__all__ = ["MASK", "MIN_SECRET_LENGTH", "is_secret_like", "known_secrets", "redact", "register_secret"]
