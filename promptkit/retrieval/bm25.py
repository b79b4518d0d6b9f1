"""BM25 term vectors for sparse and hybrid search, tokenized by Qdrant's own BM25.

The tokenizer is qdrant-edge-py's ``Bm25`` (word tokenizer, lowercase, the language's stopwords and
Snowball stemmer; tokens hashed to ids as Qdrant's server-side BM25 does). Vectors are computed here,
in Python, for every engine — ``:memory:``, a local path, the in-process engine and a server — so a
query is tokenized exactly as the passages were, whatever stores them.

A passage's vector holds its BM25 term-frequency weights (with ``k``, ``b`` and ``avg_len``); the
collection's sparse vector has Qdrant's IDF modifier, so the engine computes IDF from the passages it
holds at query time and adding passages needs no re-index. The parameters are recorded in the
collection's metadata (``bm25``), so later builds and queries use the ones the collection started with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from promptkit.errors import ConfigError, InputError
from promptkit.retrieval.stores.base import SparseVector

METADATA_KEY = "bm25"
DEFAULT_LANGUAGE = "english"


@dataclass(frozen=True)
class Bm25Params:
    """BM25's parameters; ``avg_len`` is the mean passage length in tokens (after stopwords)."""

    language: str = DEFAULT_LANGUAGE
    k: float = 1.2
    b: float = 0.75
    avg_len: float = 256.0  # Qdrant's default; build_index measures the corpus instead

    def to_metadata(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> Bm25Params | None:
        """The parameters a collection was built with; None when it has no BM25 vectors."""
        stored = metadata.get(METADATA_KEY)
        if not isinstance(stored, Mapping):
            return None
        return cls(**{name: stored[name] for name in asdict(cls()) if name in stored})


def _model(params: Bm25Params) -> Any:
    try:
        from qdrant_edge import Bm25, Bm25Config
    except ImportError:
        raise ConfigError(
            "sparse and hybrid search tokenize with Qdrant's BM25 from the package qdrant-edge-py, "
            "which is not installed",
            hint="pip install 'promptkit[local]' (or pip install qdrant-edge-py), or search with mode='dense'",
        ) from None
    try:
        return Bm25(Bm25Config(k=params.k, b=params.b, avg_len=params.avg_len, language=params.language))
    except ValueError as exc:
        raise InputError(
            f"invalid BM25 settings {params}: {exc}",
            hint="use a Snowball language such as 'english', 'french' or 'german'",
        ) from None


class Bm25Encoder:
    """Texts to BM25 sparse vectors: ``encode_documents`` for passages, ``encode_query`` for a query."""

    def __init__(self, params: Bm25Params | None = None) -> None:
        self.params = params or Bm25Params()
        self._model = _model(self.params)

    def encode_documents(self, texts: Sequence[str]) -> list[SparseVector]:
        return [_ours(self._model.embed_document(text)) for text in texts]

    def encode_query(self, text: str) -> SparseVector:
        """Each distinct query term weighs 1: the score is then the sum of IDF x TF weight over them."""
        return _ours(self._model.embed_query(text))

    def __repr__(self) -> str:
        return f"Bm25Encoder({self.params})"


def mean_length(texts: Sequence[str], language: str = DEFAULT_LANGUAGE) -> float:
    """Mean token count of ``texts``, counted by the same tokenizer (for ``avg_len``)."""
    # With b=0 and a huge k, a BM25 weight tf*(k+1)/(tf+k) is the raw term count tf.
    counter = _model(Bm25Params(language=language, k=1e6, b=0.0))
    total = sum(round(v) for text in texts for v in counter.embed_document(text).values)
    return max(1.0, total / max(1, len(texts)))


def _ours(vector: Any) -> SparseVector:
    return SparseVector(list(vector.indices), list(vector.values))
