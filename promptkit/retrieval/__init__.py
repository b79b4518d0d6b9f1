"""Retrieval: offline embedder, vector stores (Qdrant engines), loaders, chunking, the Retriever.

Importing this package is cheap: torch, sentence-transformers and the Qdrant clients are imported
only when a model is loaded or a store is opened.

    from promptkit.retrieval import Embedder, Retriever, build_index
    report = build_index("corpus.jsonl", "docs", store="./index", min_words=20)
    retriever = Retriever("./index", Embedder(), "docs", k=3)   # mode="hybrid" (dense + BM25) by default
    for passage in retriever("Which cell may suffer from anemia?"):
        print(passage.score, passage.text)
"""

from promptkit.retrieval.bm25 import Bm25Params
from promptkit.retrieval.cache import EmbeddingCache
from promptkit.retrieval.chunking import chunk_passages, chunk_text, filter_min_words
from promptkit.retrieval.embedder import DEFAULT_MODEL, Embedder
from promptkit.retrieval.index import IndexReport, build_index, drop_index, index_info, list_indexes
from promptkit.retrieval.loaders import ColumnMap, load_passages
from promptkit.retrieval.modes import IndexModeError
from promptkit.retrieval.passages import Passage, passage_id
from promptkit.retrieval.retriever import Retriever
from promptkit.retrieval.stores import CollectionInfo, CollectionNotFoundError, VectorStore, open_store
from promptkit.retrieval.tools import DocstoreTools, IndexTools

__all__ = [
    "DEFAULT_MODEL",
    "Bm25Params",
    "CollectionInfo",
    "CollectionNotFoundError",
    "ColumnMap",
    "DocstoreTools",
    "Embedder",
    "EmbeddingCache",
    "IndexModeError",
    "IndexReport",
    "IndexTools",
    "Passage",
    "Retriever",
    "VectorStore",
    "build_index",
    "chunk_passages",
    "chunk_text",
    "drop_index",
    "filter_min_words",
    "index_info",
    "list_indexes",
    "load_passages",
    "open_store",
    "passage_id",
]
