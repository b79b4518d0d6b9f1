"""Search modes: which vectors a query uses, and how Qdrant fuses them.

- ``dense``: the embedder's vectors (cosine);
- ``sparse``: BM25 term vectors (see :mod:`promptkit.retrieval.bm25`), IDF applied by Qdrant;
- ``hybrid``: both, each fetched by Qdrant and fused inside it (``rrf`` reciprocal-rank fusion, or
  ``dbsf`` distribution-based score fusion) — see BENCHMARKS.md for what each scores.

A collection holds a dense vector, a sparse one, or both (``CollectionInfo.modes``); a mode that needs a
vector the collection lacks is an ``IndexModeError``, never a silently different search.
"""

from __future__ import annotations

from typing import Literal, cast

from promptkit.errors import DataError, InputError

Mode = Literal["dense", "sparse", "hybrid"]
Fusion = Literal["rrf", "dbsf"]
MODES: tuple[Mode, ...] = ("dense", "sparse", "hybrid")
FUSIONS: tuple[Fusion, ...] = ("rrf", "dbsf")
# What a new index holds and what a search uses when no mode is named: hybrid measured best
# (BENCHMARKS.md, "Hybrid retrieval").
DEFAULT_MODE: Mode = "hybrid"
# Score fusion beat rank fusion by 0.01 nDCG@10 on HotPotQA and is the same on every engine (rank fusion
# of tied BM25 scores depends on each engine's order of ties).
DEFAULT_FUSION: Fusion = "dbsf"


class IndexModeError(DataError):
    """A search or an index build asked for vectors the collection does not hold."""


def check_mode(mode: str) -> Mode:
    if mode not in MODES:
        raise InputError(f"unknown search mode {mode!r}", hint=f"use one of {', '.join(MODES)}")
    return cast(Mode, mode)


def check_fusion(fusion: str) -> Fusion:
    if fusion not in FUSIONS:
        raise InputError(f"unknown fusion {fusion!r}", hint=f"use {' or '.join(FUSIONS)}")
    return cast(Fusion, fusion)


def modes_of(dense: bool, sparse: bool) -> tuple[Mode, ...]:
    """The modes a collection with these vectors can serve."""
    return tuple(
        m
        for m in MODES
        if (m != "dense" or dense) and (m != "sparse" or sparse) and (m != "hybrid" or (dense and sparse))
    )


def best_mode(dense: bool, sparse: bool) -> Mode:
    """The mode a search uses when none is named: hybrid where the collection allows it."""
    return "hybrid" if dense and sparse else ("sparse" if sparse else "dense")


def missing_vectors(collection: str, mode: Mode, held: tuple[Mode, ...]) -> IndexModeError:
    """The error for ``mode`` on a collection that can serve only ``held``: names both ways out."""
    lacking = "BM25 sparse vectors" if mode != "dense" and "sparse" not in held else "dense vectors"
    usable = " or ".join(f"--mode {m}" for m in held) or "no mode"
    rebuild = "hybrid" if mode == "hybrid" or held == ("dense",) else mode
    return IndexModeError(
        f"collection {collection!r} holds no {lacking}, so it cannot serve mode={mode!r} "
        f"(it serves: {', '.join(held) or 'nothing'})",
        hint=f"search it with {usable}, or re-index it: promptkit index drop --collection {collection}, then "
        f"promptkit index build SOURCE --collection {collection} --mode {rebuild}",
    )
