"""The embedded engine's settings, checked once (and saved with a program), and its call counters."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from promptkit.errors import ConfigError


@dataclass(frozen=True)
class EngineOptions:
    """Validated engine settings (also what :meth:`LlamaCppEngine.dump_state` saves)."""

    n_threads: int = 2
    n_ctx: int = 2048
    max_tokens: int = 512
    temperature: float = 0.0
    seed: int = 0
    pool_size: int = 1
    # llama.cpp's penalty on recently generated tokens (1.0 = off, its default). A tiny model under
    # greedy decoding can loop inside a JSON string until max_tokens; 1.1 roughly halves its tokens.
    repeat_penalty: float = 1.0
    # End a repetition loop as it forms (promptkit.lm.local_loops): on by default, it only acts on a loop.
    loop_guard: bool = True

    def __post_init__(self) -> None:
        for name in ("n_threads", "n_ctx", "max_tokens", "pool_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"local model option {name}={value!r} must be a positive integer")
        if self.n_ctx < 64:
            raise ConfigError(f"local model option n_ctx={self.n_ctx} is too small", hint="use n_ctx >= 512")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"local model option seed={self.seed!r} must be an integer")
        if isinstance(self.temperature, bool) or not isinstance(self.temperature, int | float) or self.temperature < 0:
            raise ConfigError(f"local model option temperature={self.temperature!r} must be a number >= 0")
        penalty = self.repeat_penalty
        if isinstance(penalty, bool) or not isinstance(penalty, int | float) or penalty <= 0:
            raise ConfigError(f"local model option repeat_penalty={penalty!r} must be a number > 0", hint="1.0 is off")
        if not isinstance(self.loop_guard, bool):
            raise ConfigError(f"local model option loop_guard={self.loop_guard!r} must be true or false")


class EngineStats:
    """Counters of real engine calls (DSPy cache hits never reach the engine)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.loops_ended = 0  # repetition loops the loop guard ended

    def record(self, prompt_tokens: int, completion_tokens: int, loops_ended: int = 0) -> None:
        with self._lock:
            self.calls += 1
            self.prompt_tokens += prompt_tokens
            self.completion_tokens += completion_tokens
            self.loops_ended += loops_ended
