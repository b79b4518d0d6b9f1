"""The queries and relevance judgements of a retrieval evaluation: BEIR files (or mappings), checked.

A bad line is a DataError naming the file and line; a qrels file in another layout (TREC's
``qid 0 docid rel``) is refused at its first line with what to convert.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from promptkit.datasets.beir import QRELS_DIR, QUERIES_FILE, qrels_file, read_qrels
from promptkit.datasets.core import RowErrorPolicy, RowProblem
from promptkit.datasets.files import open_text, read_jsonl
from promptkit.errors import DataError, InputError

QRELS_COLUMNS = ("query-id", "corpus-id", "score")
QRELS_HINT = "BEIR qrels are tab-separated lines 'query-id<TAB>corpus-id<TAB>score' (integer score), with that header"

Queries = Mapping[str, str]
Qrels = Mapping[str, Mapping[str, float]]


def load_queries(source: str | Path | Queries) -> dict[str, str]:
    """Query id -> text, from a BEIR ``queries.jsonl`` (or its folder) or a mapping."""
    if isinstance(source, Mapping):
        queries = {str(qid): text for qid, text in source.items()}
        bad = [qid for qid, text in queries.items() if not isinstance(text, str) or not text.strip()]
        if bad:
            raise InputError(f"queries {bad[:5]} have no text", hint="map each query id to a non-empty string")
    else:
        path = Path(source)
        path = path / QUERIES_FILE if path.is_dir() else path
        queries = {}
        hint = 'each line of a BEIR queries file is {"_id": "...", "text": "..."}'
        for line, record in read_jsonl(path):
            if isinstance(record, RowProblem):
                raise DataError(record.message, path=str(path), line=line, hint=hint)
            query_id, text = record.get("_id"), record.get("text")
            if query_id is None or isinstance(query_id, bool | dict | list):
                raise DataError("the query has no '_id'", path=str(path), line=line, hint=hint)
            if not isinstance(text, str) or not text.strip():
                raise DataError(f"query {query_id!r} has no 'text' string", path=str(path), line=line, hint=hint)
            if str(query_id) in queries:
                raise DataError(
                    f"query id {query_id!r} appears twice",
                    path=str(path),
                    line=line,
                    hint="give every query its own '_id'",
                )
            queries[str(query_id)] = text
        if not queries:
            raise DataError("the queries file holds no query", path=str(path), hint=hint)
    if not queries:
        raise InputError("no queries given", hint="pass at least one query")
    return queries


class _FailOnBadRow(RowErrorPolicy):
    """``read_qrels`` reports bad rows through a policy; here every bad row is fatal, with the qrels hint."""

    def __init__(self, path: str) -> None:
        super().__init__(path, "fail")

    def bad_row(self, problem: RowProblem, line: int | None) -> None:
        where = problem.line if problem.line is not None else line
        raise DataError(problem.message, path=problem.path or self.path, line=where, hint=QRELS_HINT)


def _check_qrels_header(path: Path) -> None:
    """The first line must be the BEIR header or a 3-column judgement (``read_qrels`` accepts more)."""
    with open_text(path) as stream:
        first = next((line for line in stream if line.strip()), None)
    if first is None:
        raise DataError("the qrels file is empty", path=str(path), hint=QRELS_HINT)
    cells = [cell.strip() for cell in first.rstrip("\r\n").split("\t")]
    if len(cells) != 3:
        raise DataError(
            f"expected 3 tab-separated columns {'/'.join(QRELS_COLUMNS)}, got {len(cells)}: {cells[:4]}",
            path=str(path),
            line=1,
            hint=QRELS_HINT + " (TREC qrels 'qid 0 docid rel' must be converted)",
        )
    if not cells[2].lstrip("-").isdigit() and tuple(c.lower().replace("_", "-") for c in cells) != QRELS_COLUMNS:
        raise DataError(
            f"the columns are {cells}, expected {list(QRELS_COLUMNS)} in that order",
            path=str(path),
            line=1,
            hint=QRELS_HINT,
        )


def load_qrels(source: str | Path | Qrels) -> dict[str, dict[str, float]]:
    """Query id -> {corpus id: grade}, from a BEIR qrels ``.tsv`` (or a BEIR folder's test split) or a mapping."""
    if isinstance(source, Mapping):
        qrels: dict[str, dict[str, float]] = {}
        for qid, judged in source.items():
            if not isinstance(judged, Mapping) or not all(
                isinstance(g, int | float) and not isinstance(g, bool) for g in judged.values()
            ):
                raise InputError(
                    f"qrels for query {qid!r} must map corpus ids to numeric grades", hint='e.g. {"q1": {"doc7": 1}}'
                )
            qrels[str(qid)] = {str(doc): float(grade) for doc, grade in judged.items()}
    else:
        path = Path(source)
        if path.is_dir():  # a BEIR dataset folder: its test split (or its only one)
            if not (path / QRELS_DIR).is_dir():
                raise DataError("the folder has no qrels/ folder", path=str(path), hint="pass the qrels .tsv file")
            path = qrels_file(path, None)
        _check_qrels_header(path)
        raw = read_qrels(path, _FailOnBadRow(str(path)))
        qrels = {qid: {doc: float(grade) for doc, grade in judged.items()} for qid, judged in raw.items()}
        if not qrels:
            raise DataError("the qrels file holds no judgement", path=str(path), hint=QRELS_HINT)
    return qrels
