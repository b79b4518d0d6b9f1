"""Looking up and dropping one call's entry in DSPy's cache (DSPy has no public API for either).

Both go through DSPy's private ``prepare`` / cache-key functions; if those change, the lookup says
"not cached" and the drop does nothing, which only costs a server call.
"""

from __future__ import annotations

from typing import Any


def answerable_from_cache(lm: Any, prompt: Any, messages: Any, kwargs: dict[str, Any], asynchronous: bool) -> bool:
    """Whether DSPy's cache holds this call: a cached answer needs no server."""
    try:
        from dspy.clients.execution import _cached, prepare

        call = prepare(lm, prompt, messages, kwargs, asynchronous=asynchronous)
        return bool(_cached(lm, call, asynchronous))
    except Exception:
        return False


def forget_cached(lm: Any, prompt: Any, messages: Any, kwargs: dict[str, Any], asynchronous: bool) -> None:
    """Drop this call's cached answer (memory and disk), e.g. an empty reply that must not be replayed."""
    try:
        import dspy
        from dspy.clients.execution import IGNORED_CACHE_KEYS, prepare

        call = prepare(lm, prompt, messages, kwargs, asynchronous=asynchronous)
        if not call.cache:
            return
        cache = dspy.cache
        key = cache.cache_key(call.key(lm, asynchronous), IGNORED_CACHE_KEYS)
        with cache._lock:
            cache.memory_cache.pop(key, None)
        if cache.enable_disk_cache:
            cache.disk_cache.delete(key)
    except Exception:  # private DSPy API changed: the entry stays, a rerun replays it
        return
