"""promptkit's retry loop for LM calls: the configured timeout bounds the whole wait, retries included.

DSPy's own loop retries a timed-out request with the same per-request timeout, so ``timeout=3`` with
two retries waited ~12 s (3 attempts plus 1 s and 2 s of backoff) before the error. Here:

* a transient failure (429, 5xx, a dropped connection, a timeout) is retried at most ``retries``
  times, waiting Retry-After when the server sends it (else 1, 2, 4 ... s), and only while the wait
  so far plus the pause stays within the timeout. A request that timed out has used the whole limit,
  so it is never retried.

The per-request timeout itself stays fixed: it is part of DSPy's cache key, so shrinking it per attempt
would make the same question miss the cache. DSPy's loop is switched off during the call (see
``PromptkitLM.num_retries``) so the two loops never multiply.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

# True while promptkit's loop runs a call: DSPy then sees num_retries == 0.
IN_PROMPTKIT_LOOP: contextvars.ContextVar[bool] = contextvars.ContextVar("promptkit_in_retry_loop", default=False)


@dataclass
class Attempts:
    """The attempts of one call so far, and whether another one fits."""

    retries: int
    budget: float | None  # seconds the whole call may take (the configured timeout); None: unbounded
    started: float = field(default_factory=time.monotonic)
    made: int = 0

    @property
    def waited(self) -> float:
        return time.monotonic() - self.started

    def pause_before_retry(self, exc: BaseException) -> float | None:
        """Seconds to wait before the next attempt after ``exc``, or None when the call should fail now."""
        from dspy.utils.exceptions import is_retryable_lm_error

        if self.made > self.retries or not isinstance(exc, Exception) or not is_retryable_lm_error(exc):
            return None
        hint = getattr(exc, "retry_after", None)
        pause = float(hint) if isinstance(hint, int | float) and hint >= 0 else float(min(2 ** (self.made - 1), 60))
        if self.budget is not None and self.waited + pause >= self.budget:
            return None
        return pause


def run(call: Callable[[], T], attempts: Attempts) -> T:
    while True:
        attempts.made += 1
        token = IN_PROMPTKIT_LOOP.set(True)
        try:
            return call()
        except Exception as exc:
            pause = attempts.pause_before_retry(exc)
            if pause is None:
                raise
        finally:
            IN_PROMPTKIT_LOOP.reset(token)
        time.sleep(pause)


async def arun(call: Callable[[], Awaitable[T]], attempts: Attempts) -> T:
    while True:
        attempts.made += 1
        token = IN_PROMPTKIT_LOOP.set(True)
        try:
            return await call()
        except Exception as exc:
            pause = attempts.pause_before_retry(exc)
            if pause is None:
                raise
        finally:
            IN_PROMPTKIT_LOOP.reset(token)
        await asyncio.sleep(pause)


def no_choices(outputs: Any) -> bool:
    """A 200 reply without a single choice (``"choices": []``): DSPy returns an empty list for it."""
    return isinstance(outputs, list) and not outputs


__all__ = ["IN_PROMPTKIT_LOOP", "Attempts", "arun", "no_choices", "run"]
