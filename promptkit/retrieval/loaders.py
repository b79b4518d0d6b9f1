"""Load passages from JSONL, CSV, Parquet, plain text (a file or a folder) and BEIR ``corpus.jsonl``.

Every loader maps columns to a passage's text, title and source id (``ColumnMap``); the other
columns become metadata. Bad input raises ``DataError`` naming the file (and line) and the fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptkit.errors import DataError, InputError
from promptkit.retrieval.passages import Passage

FORMATS = ("jsonl", "csv", "parquet", "text", "folder", "beir")
_SUFFIX_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet", ".txt": "text"}
_FOLDER_SUFFIXES = (".txt", ".md", ".rst")


@dataclass(frozen=True)
class ColumnMap:
    """Which record fields hold the text, the title and the id. ``id`` may be absent from records."""

    text: str = "text"
    title: str = "title"
    id: str = "id"

    @classmethod
    def beir(cls) -> ColumnMap:
        return cls(text="text", title="title", id="_id")


def detect_format(path: Path) -> str:
    """The loader for ``path``: a folder, BEIR (``corpus.jsonl``), or by suffix."""
    if path.is_dir():
        return "beir" if (path / "corpus.jsonl").is_file() else "folder"
    if path.name == "corpus.jsonl":
        return "beir"
    fmt = _SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"cannot tell the format from the suffix {path.suffix!r}",
            path=str(path),
            hint=f"use one of {', '.join(sorted(_SUFFIX_FORMATS))}, or pass format= (one of {', '.join(FORMATS)})",
        )
    return fmt


def load_passages(
    source: str | Path,
    *,
    format: str | None = None,
    columns: ColumnMap | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> list[Passage]:
    """Load every passage of ``source``; ``metadata`` is added to each passage's own metadata."""
    path = Path(source)
    if not path.exists():
        raise DataError(
            "file or folder not found", path=str(path), hint="check the path (relative to the current directory)"
        )
    fmt = format or detect_format(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown corpus format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    if fmt == "beir" and path.is_dir():
        path = path / "corpus.jsonl"
    cols = columns or (ColumnMap.beir() if fmt == "beir" else ColumnMap())
    records: Iterable[tuple[int | None, dict[str, Any]]]
    if fmt in ("jsonl", "beir", "csv", "parquet"):
        records = _records(path, fmt)
    elif fmt == "text":
        return _text_lines(path, metadata)
    else:
        return _folder_files(path, metadata)
    passages = [_record_to_passage(rec, cols, path, line, metadata) for line, rec in records]
    if not passages:
        raise DataError("the corpus is empty (no records)", path=str(path), hint="add passages to the file")
    return passages


def _record_to_passage(
    record: dict[str, Any], cols: ColumnMap, path: Path, line: int | None, extra: Mapping[str, Any] | None
) -> Passage:
    if cols.text not in record:
        raise DataError(
            f"no {cols.text!r} column; columns are {sorted(record)}",
            path=str(path),
            line=line,
            hint="name the text column with columns=ColumnMap(text=...) (CLI: --text-field)",
        )
    text = record[cols.text]
    if not isinstance(text, str):
        raise DataError(
            f"column {cols.text!r} holds a {type(text).__name__}, not text",
            path=str(path),
            line=line,
            hint="point the text column at a string field",
        )
    source_id = record.get(cols.id)
    title = record.get(cols.title)
    meta = {k: v for k, v in record.items() if k not in (cols.text, cols.title, cols.id)}
    if extra:
        meta.update(extra)
    return Passage(
        text=text,
        title="" if title is None else str(title),
        # Without an id column the file is the source: ids then survive reordering the rows.
        source_id=path.name if source_id is None else str(source_id),
        metadata=meta,
    )


def _records(path: Path, fmt: str) -> Iterator[tuple[int | None, dict[str, Any]]]:
    """Rows of a corpus file, read by the dataset readers (one reader per format in the project);
    a corpus has no skip policy, so a bad row stops the load naming its line."""
    from promptkit.datasets.core import RowProblem
    from promptkit.datasets.files import read_csv, read_jsonl, read_parquet

    reader = {"jsonl": read_jsonl, "beir": read_jsonl, "csv": read_csv, "parquet": read_parquet}[fmt]
    for line, record in reader(path):
        if isinstance(record, RowProblem):
            hint = "each row must be one record with a text column"
            raise DataError(str(record), path=str(path), line=line, hint=hint)
        yield line, record


def _text_lines(path: Path, extra: Mapping[str, Any] | None) -> list[Passage]:
    passages = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                meta = {"line": number, **(extra or {})}
                passages.append(Passage(text=line.strip(), source_id=path.name, metadata=meta))
    if not passages:
        raise DataError("the corpus is empty (no non-blank lines)", path=str(path), hint="add one passage per line")
    return passages


def _folder_files(path: Path, extra: Mapping[str, Any] | None) -> list[Passage]:
    passages = []
    for file in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _FOLDER_SUFFIXES):
        text = file.read_text(encoding="utf-8").strip()
        if text:
            rel = file.relative_to(path).as_posix()
            passages.append(Passage(text=text, title=file.stem, source_id=rel, metadata=dict(extra or {})))
    if not passages:
        raise DataError(
            f"the folder holds no non-empty {'/'.join(_FOLDER_SUFFIXES)} files",
            path=str(path),
            hint="put one passage per text file in the folder",
        )
    return passages
