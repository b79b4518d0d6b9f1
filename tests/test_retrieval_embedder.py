"""The offline embedder: the bundled all-MiniLM-L6-v2, normalized vectors, the disk cache, model identity."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from promptkit.errors import ConfigError
from promptkit.retrieval import Embedder, EmbeddingCache
from promptkit.retrieval.model_files import bundled_model_path

pytestmark = pytest.mark.retrieval

TEXTS = [
    "Anemia is a lack of healthy red blood cells.",
    "Red blood cells carry oxygen with hemoglobin.",
    "The phone has a great low-light camera.",
]


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("PROMPTKIT_EMBED_CACHE", str(tmp_path / "default-cache.sqlite"))


def test_default_model_is_bundled_normalized_and_matches_raw_sentence_transformers(tmp_path: Path) -> None:
    embedder = Embedder(cache=tmp_path / "c.sqlite")
    vectors = embedder.encode(TEXTS)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32 and embedder.dim == 384
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    raw = embedder.model.encode(TEXTS, normalize_embeddings=True)
    assert np.allclose(vectors, raw, atol=1e-5)
    # The two anemia sentences are closer to each other than to the phone review.
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert embedder.identity.startswith("all-MiniLM-L6-v2@") and len(embedder.identity.split("@")[1]) == 16
    assert np.allclose(embedder.encode_query(TEXTS[2]), vectors[2], atol=1e-5)
    assert Embedder(cache=False).model is embedder.model  # loaded once per process


def test_cache_spares_re_encoding_across_instances(tmp_path: Path) -> None:
    first = Embedder(cache=tmp_path / "c.sqlite")
    vectors = first.encode([*TEXTS, TEXTS[0]])  # a repeated text is encoded once
    assert first.encoded_count == 3 and first.cache_hits == 0
    again = Embedder(cache=tmp_path / "c.sqlite")
    cached = again.encode(TEXTS)
    assert again.encoded_count == 0 and again.cache_hits == 3
    assert np.array_equal(cached, vectors[:3])
    mixed = again.encode([TEXTS[1], "A new sentence."])
    assert again.encoded_count == 1 and np.array_equal(mixed[0], vectors[1])
    assert EmbeddingCache(tmp_path / "c.sqlite").count(again.identity) == 4


def test_default_cache_location_follows_the_environment(tmp_path: Path) -> None:
    embedder = Embedder()
    assert embedder.cache is not None and embedder.cache.path == tmp_path / "default-cache.sqlite"


def test_identity_hashes_the_model_files_so_a_changed_model_misses_the_cache(tmp_path: Path) -> None:
    copy = tmp_path / "my-minilm"
    bundled = bundled_model_path()
    shutil.copytree(bundled, copy, ignore=shutil.ignore_patterns("model.safetensors"))
    os.symlink(bundled / "model.safetensors", copy / "model.safetensors")  # no need to copy 90 MB
    (copy / "README.md").write_text("docs do not change the vectors", encoding="utf-8")
    base = Embedder(cache=tmp_path / "c.sqlite")
    same_files = Embedder(str(copy), cache=tmp_path / "c.sqlite")
    assert same_files.identity.split("@")[1] == base.identity.split("@")[1]
    pooling = copy / "1_Pooling" / "config.json"
    pooling.write_text(pooling.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    from promptkit.retrieval import model_files

    model_files._identities.pop(copy.resolve(), None)  # the fingerprint is memoized per process
    changed = Embedder(str(copy), cache=tmp_path / "c.sqlite")
    assert changed.identity != base.identity
    base.encode(TEXTS[:1])
    changed.encode(TEXTS[:1])
    assert changed.encoded_count == 1  # not served from the base model's cache entry


def test_unavailable_models_raise_config_errors_naming_the_model(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        Embedder("no-such-org/no-such-model", cache=False).encode(["x"])
    assert "no-such-org/no-such-model" in str(err.value) and "offline" in str(err.value) and "fix:" in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="holds no sentence-transformers model"):
        _ = Embedder(str(tmp_path / "empty"), cache=False).dim
    with pytest.raises(ConfigError, match="batch_size"):
        Embedder(batch_size=0)


def test_concurrent_encodes_from_threads_are_correct(tmp_path: Path) -> None:
    embedder = Embedder(cache=tmp_path / "c.sqlite")
    expected = Embedder(cache=False).encode(TEXTS)
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results[i] = embedder.encode([TEXTS[i % 3], f"thread {i} says hello"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(np.allclose(results[i][0], expected[i % 3], atol=1e-5) for i in range(6))


def test_progress_bar_does_not_change_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    embedder = Embedder(cache=False, batch_size=2)
    with_bar = embedder.encode(TEXTS * 3, progress=True)
    assert np.allclose(with_bar, np.vstack([embedder.encode(TEXTS, progress=False)] * 3), atol=1e-5)
    assert capsys.readouterr().out == ""  # the bar goes to stderr, never into piped stdout
