"""BEIR retrieval datasets: a folder with ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``.

``read_beir_queries`` gives one record per query judged in the chosen qrels split:
``question`` (the query text), ``query_id``, ``relevance`` (corpus id -> grade) and ``gold_ids``
(the relevant ids, most relevant first). The corpus is not read at load time (it can hold millions
of passages); ``read_corpus`` streams it for index building.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from promptkit.errors import DataError

from .core import RowErrorPolicy, RowProblem
from .files import open_text, read_jsonl

CORPUS_FILE = "corpus.jsonl"
QUERIES_FILE = "queries.jsonl"
QRELS_DIR = "qrels"


def is_beir_folder(path: Path) -> bool:
    return path.is_dir() and (path / QUERIES_FILE).is_file() and (path / QRELS_DIR).is_dir()


def qrels_file(folder: Path, split: str | None) -> Path:
    """The qrels file for ``split``; without one, ``test`` or else the only file there is."""
    available = sorted(p.stem for p in (folder / QRELS_DIR).glob("*.tsv"))
    if split is not None:
        if split in available:
            return folder / QRELS_DIR / f"{split}.tsv"
        raise DataError(f"no qrels for split {split!r}; available: {available}", path=str(folder / QRELS_DIR))
    if "test" in available:
        return folder / QRELS_DIR / "test.tsv"
    if len(available) == 1:
        return folder / QRELS_DIR / f"{available[0]}.tsv"
    raise DataError(
        f"several qrels splits {available} and none is 'test'",
        path=str(folder / QRELS_DIR),
        hint="choose one with load(..., qrels_split=NAME)",
    )


def read_qrels(path: Path, policy: RowErrorPolicy) -> dict[str, dict[str, int]]:
    """``query-id <TAB> corpus-id <TAB> score`` lines (an optional header line is recognised and skipped)."""
    judgements: dict[str, dict[str, int]] = {}
    with open_text(path) as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            cells = line.rstrip("\r\n").split("\t")
            if len(cells) < 3:
                policy.bad_row(
                    RowProblem(f"expected 3 tab-separated columns, got {len(cells)}", path=str(path)), number
                )
                continue
            query_id, corpus_id, grade = (cell.strip() for cell in cells[:3])
            try:
                score = int(grade)
            except ValueError:
                if number == 1:
                    continue  # the usual "query-id  corpus-id  score" header
                policy.bad_row(RowProblem(f"relevance score {grade!r} is not an integer", path=str(path)), number)
                continue
            judgements.setdefault(query_id, {})[corpus_id] = score
    return judgements


def read_beir_queries(
    folder: Path, policy: RowErrorPolicy, *, split: str | None = None
) -> Iterator[tuple[int, dict[str, Any] | RowProblem]]:
    """Queries that have judgements in the chosen split, in ``queries.jsonl`` order, with their line numbers."""
    qrels_path = qrels_file(folder, split)
    judgements = read_qrels(qrels_path, policy)
    queries_path = folder / QUERIES_FILE
    seen: set[str] = set()
    for number, record in read_jsonl(queries_path):
        if isinstance(record, RowProblem):
            yield number, record
            continue
        query_id, text = record.get("_id"), record.get("text")
        if not isinstance(query_id, str | int) or isinstance(query_id, bool):
            yield number, RowProblem("query needs an '_id' (string)")
            continue
        if not isinstance(text, str) or not text.strip():
            yield number, RowProblem(f"query {query_id!r} needs a non-empty 'text' string")
            continue
        query_id = str(query_id)
        seen.add(query_id)
        relevance = judgements.get(query_id)
        if relevance is None:
            continue  # judged only in another split
        extras = {key: value for key, value in record.items() if key not in ("_id", "text")}
        gold = sorted((doc for doc, grade in relevance.items() if grade > 0), key=lambda d: (-relevance[d], d))
        yield number, {**extras, "question": text, "query_id": query_id, "relevance": relevance, "gold_ids": gold}
    unknown = sorted(set(judgements) - seen)
    if unknown:
        shown = ", ".join(repr(q) for q in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        policy.bad_row(
            RowProblem(f"{len(unknown)} judged query id(s) not in {QUERIES_FILE}: {shown}", path=str(qrels_path)), None
        )


def read_corpus(folder: str | Path) -> Iterator[dict[str, str]]:
    """Stream ``corpus.jsonl`` as ``{"id", "title", "text"}`` dicts; a bad line is a DataError naming it."""
    folder = Path(folder)
    path = folder / CORPUS_FILE if folder.is_dir() else folder
    for number, record in read_jsonl(path):
        if isinstance(record, RowProblem):
            raise DataError(record.message, path=str(path), line=number)
        doc_id, text = record.get("_id"), record.get("text")
        if doc_id is None or not isinstance(text, str):
            raise DataError("corpus rows need '_id' and a 'text' string", path=str(path), line=number)
        title = record.get("title") or ""
        yield {"id": str(doc_id), "title": str(title), "text": text}
