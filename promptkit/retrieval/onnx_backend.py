"""ONNX Runtime backend for sentence-transformers models (``backend="onnx"`` or ``"onnx-int8"``).

Only the transformer's forward pass moves to ONNX Runtime: tokenization, pooling and normalization are
the loaded ``SentenceTransformer``'s own modules, so fp32 vectors equal the torch backend's up to float
rounding, and ``onnx-int8`` (weights quantized per channel, activations dynamically) differs only by the
quantization. The graph is exported from the local model on first use, offline, and kept as a file:
``$PROMPTKIT_ONNX_CACHE`` (default ``$XDG_CACHE_HOME/promptkit/onnx``) ``/<name>-<fingerprint>/model.onnx``.

Why not ``SentenceTransformer(backend="onnx")``: it loads through optimum-onnx, which requires
transformers < 4.58, while sentence-transformers 6 requires transformers >= 5; they cannot be installed
together. torch's exporter and onnxruntime's quantizer need neither.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from promptkit.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

Backend = Literal["torch", "onnx", "onnx-int8"]
BACKENDS: tuple[Backend, ...] = ("torch", "onnx", "onnx-int8")
# Inputs a Hugging Face encoder takes, in the order the exported graph declares them.
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_export_lock = threading.Lock()


def check_backend(backend: str) -> Backend:
    if backend not in BACKENDS:
        raise ConfigError(f"unknown embedder backend {backend!r}", hint=f"use one of {', '.join(BACKENDS)}")
    return cast(Backend, backend)


def onnx_cache_dir() -> Path:
    explicit = os.environ.get("PROMPTKIT_ONNX_CACHE")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "promptkit" / "onnx"


def _require_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError(
            "the onnx embedder backend needs onnxruntime, which is not installed",
            hint="pip install 'promptkit[local]' (or pip install onnxruntime onnx), or use the torch backend",
        ) from None
    return onnxruntime


@contextlib.contextmanager
def _atomic_target(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target``, moved onto it on success: another process never reads half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _forward_module(model: Any, names: tuple[str, ...]) -> Any:
    """The encoder's forward pass with positional inputs, as torch's exporter wants it."""
    import torch

    class Forward(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: Any) -> Any:
            return self.model(**dict(zip(names, inputs, strict=True))).last_hidden_state

    return Forward().eval()


def export(model: SentenceTransformer, target: Path) -> None:
    """Write the first module's transformer as an ONNX graph (dynamic batch and sequence axes)."""
    import torch

    encoder = getattr(model[0], "auto_model", None)
    if encoder is None:
        raise ConfigError(
            f"the onnx embedder backend needs a model whose first module is a Transformer, "
            f"not {type(model[0]).__name__}",
            hint="use the torch backend for this model",
        )
    features = model.preprocess(["an example sentence to trace the graph with", "another one"])
    names = tuple(name for name in _INPUTS if name in features)
    axes = {name: {0: "batch", 1: "sequence"} for name in (*names, "token_embeddings")}
    with _atomic_target(target) as tmp, torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of dynamo (which needs onnxscript); it is the
        # one that exports these encoders offline in seconds, so its warnings are noise here.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _forward_module(encoder, names),
            tuple(features[name] for name in names),
            str(tmp),
            input_names=list(names),
            output_names=["token_embeddings"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


class _DropMessage(logging.Filter):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def quantize(source: Path, target: Path) -> None:
    """int8 weights per output channel, activations quantized at run time (no calibration data needed)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    # The quantizer advises "pre-processing" through the root logger (which prints it on a CLI's stderr);
    # it is about static calibration and does not apply to dynamic quantization.
    advice = _DropMessage("Please consider to run pre-processing")
    root.addFilter(advice)
    with _atomic_target(target) as tmp, warnings.catch_warnings(), contextlib.ExitStack() as stack:
        stack.callback(root.removeFilter, advice)
        warnings.simplefilter("ignore")
        quantize_dynamic(
            source,
            tmp,
            weight_type=QuantType.QInt8,
            per_channel=True,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )


def exported_model(model: SentenceTransformer, folder: Path, backend: Backend) -> Path:
    """The ONNX file for ``backend`` in ``folder``, exported (and quantized) now if it is not there yet."""
    fp32, int8 = folder / "model.onnx", folder / "model.int8.onnx"
    wanted = int8 if backend == "onnx-int8" else fp32
    with _export_lock:
        if not wanted.is_file():
            try:
                if not fp32.is_file():
                    export(model, fp32)
                if backend == "onnx-int8":
                    quantize(fp32, int8)
            except ConfigError:
                raise
            except Exception as exc:
                raise ConfigError(
                    f"cannot export the embedding model to ONNX: {type(exc).__name__}: {exc}",
                    hint="use the torch backend (--embedder-backend torch)",
                ) from None
    return wanted


def model_folder(name: str, fingerprint: str) -> Path:
    return onnx_cache_dir() / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', name)[-80:]}-{fingerprint}"


class OnnxEncoder:
    """Runs a sentence-transformers model with its transformer in ONNX Runtime."""

    def __init__(self, model: SentenceTransformer, onnx_file: Path, lock: threading.Lock) -> None:
        ort = _require_onnxruntime()
        self.model = model
        self.file = onnx_file
        self._lock = lock  # the model's lock: its fast tokenizer is not thread-safe
        self._sessions: dict[int, Any] = {}
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._ort, self._options = ort, options
        self._session(0)  # a broken file fails here, when the embedder is built, not mid-index

    def _session(self, threads: int) -> Any:
        """One session per thread count (0: ONNX Runtime's default, every physical core)."""
        session = self._sessions.get(threads)
        if session is None:
            options = self._options
            if threads:
                options = self._ort.SessionOptions()
                options.graph_optimization_level = self._options.graph_optimization_level
                options.intra_op_num_threads = threads
            session = self._ort.InferenceSession(str(self.file), options, providers=["CPUExecutionProvider"])
            self._sessions[threads] = session
        return session

    def encode(self, texts: list[str], batch_size: int, *, single_thread: bool = False) -> np.ndarray:
        import torch

        parts = []
        with self._lock, torch.no_grad():
            session = self._session(1 if single_thread else 0)
            wanted = {item.name for item in session.get_inputs()}
            post = list(self.model)[1:]
            for start in range(0, len(texts), batch_size):
                features = self.model.preprocess(texts[start : start + batch_size])
                feeds = {name: features[name].numpy() for name in _INPUTS if name in wanted}
                features["token_embeddings"] = torch.from_numpy(session.run(None, feeds)[0])
                for module in post:  # pooling, normalization, dense layers: sentence-transformers' own
                    features = module(features)
                parts.append(features["sentence_embedding"].numpy())
        vectors = np.concatenate(parts).astype(np.float32, copy=False)
        # Normalized like the torch backend (encode(normalize_embeddings=True)), whatever modules the model has.
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
