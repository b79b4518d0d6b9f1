"""The ONNX backends of the embedder: exported offline from the bundled model on first use, cached, and
giving the torch backend's vectors (fp32) or close ones (int8)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from promptkit.errors import ConfigError
from promptkit.retrieval import Embedder, Retriever, build_index, open_store
from promptkit.retrieval.embedder import model_fingerprint
from promptkit.retrieval.onnx_backend import exported_model, model_folder

pytestmark = pytest.mark.retrieval

TEXTS = [
    "Anemia is a lack of healthy red blood cells.",
    "Red blood cells carry oxygen with hemoglobin.",
    "The phone has a great low-light camera.",
    "Paris is the capital and largest city of France.",
]


@pytest.fixture(scope="module", autouse=True)
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One export folder for the module (an export takes seconds), never the user's."""
    folder = tmp_path_factory.mktemp("onnx")
    saved = os.environ.get("PROMPTKIT_ONNX_CACHE")
    os.environ["PROMPTKIT_ONNX_CACHE"] = str(folder)
    os.environ["HF_HUB_OFFLINE"] = "1"
    yield folder
    if saved is None:
        os.environ.pop("PROMPTKIT_ONNX_CACHE", None)
    else:
        os.environ["PROMPTKIT_ONNX_CACHE"] = saved


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    return Embedder(cache=False).encode(TEXTS)


def test_onnx_is_exported_on_first_use_and_gives_the_torch_vectors(onnx_cache: Path, torch_vectors: np.ndarray) -> None:
    embedder = Embedder(backend="onnx", cache=False)
    vectors = embedder.encode(TEXTS)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.allclose(vectors, torch_vectors, atol=1e-5)
    assert np.allclose(embedder.encode_query(TEXTS[0]), torch_vectors[0], atol=1e-5)
    folder = model_folder(embedder.name, model_fingerprint(embedder.path))
    assert folder.parent == onnx_cache and (folder / "model.onnx").is_file()
    # The identity is the model's (an index built with torch is searched with onnx); the cache key is not.
    assert embedder.identity == Embedder(cache=False).identity and embedder.cache_key.endswith("+onnx")

    written = (folder / "model.onnx").stat().st_mtime_ns
    assert exported_model(embedder.model, folder, "onnx") == folder / "model.onnx"
    assert (folder / "model.onnx").stat().st_mtime_ns == written  # cached: not exported again


def test_int8_is_close_to_torch_and_ranks_alike(torch_vectors: np.ndarray) -> None:
    embedder = Embedder(backend="onnx-int8", cache=False)
    vectors = embedder.encode(TEXTS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(vectors * torch_vectors, axis=1)) > 0.95  # same direction, up to quantization
    assert not np.allclose(vectors, torch_vectors, atol=1e-5)  # and really quantized
    query = embedder.encode_query("Which cells carry oxygen?")
    assert int(np.argmax(vectors @ query)) == int(np.argmax(torch_vectors @ query)) == 1


def test_backends_share_an_index_but_not_cached_vectors(tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    store = open_store(f"memory:{uuid.uuid4().hex}")
    source = tmp_path / "corpus.jsonl"
    source.write_text("".join(json.dumps({"id": f"p{i}", "text": text}) + "\n" for i, text in enumerate(TEXTS)))
    build_index(source, "docs", store=store, embedder=Embedder(cache=cache), mode="dense")
    int8 = Embedder(backend="onnx-int8", cache=cache)
    assert int8.encode(TEXTS).shape == (4, 384) and int8.encoded_count == 4  # torch's vectors are not reused
    hits = Retriever(store, int8, "docs", k=1)("Which cells carry oxygen?")
    assert hits[0].text == TEXTS[1]


def test_backend_from_the_setting_and_bad_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTKIT_EMBEDDER_BACKEND", "onnx")
    assert Embedder(cache=False).backend == "onnx"
    assert Embedder(cache=False, backend="torch").backend == "torch"  # the argument wins
    with pytest.raises(ConfigError, match="unknown embedder backend 'tensorrt'"):
        Embedder(cache=False, backend="tensorrt")
    monkeypatch.setenv("PROMPTKIT_EMBEDDER_BACKEND", "cuda")
    with pytest.raises(ConfigError, match="embedder_backend"):
        Embedder(cache=False)
