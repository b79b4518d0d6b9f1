"""``load()``: pick a reader for the path, interpret the records, apply mapping and inputs, sample.

A format has two halves: where the records come from (a JSONL/JSON/CSV/Parquet file, a BEIR folder,
a Hugging Face split) and how they are read (plain records, or the GSM8K / MATH / HotPotQA layouts).
Both are inferred when ``format`` is None: the source from the extension or folder layout, the
layout from the first record's keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from promptkit.errors import DataError, InputError

from .beir import QRELS_DIR, QUERIES_FILE, is_beir_folder, read_beir_queries
from .core import (
    Dataset,
    RowErrorPolicy,
    RowProblem,
    apply_mapping,
    check_inputs,
    check_sample,
    choose_sample,
    parse_mapping,
)
from .files import RawRow, open_text, read_csv, read_json_array, read_jsonl, read_parquet
from .hub import HF_PREFIX, read_hf
from .task_formats import CONVERTERS, detect_task_format

FILE_FORMATS = ("jsonl", "json", "csv", "parquet")
TASK_FORMATS = tuple(CONVERTERS)
FORMATS = (*FILE_FORMATS, "beir", *TASK_FORMATS)
DEFAULT_INPUTS = ("question",)

_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "csv"}
_EXTENSIONS |= {".parquet": "parquet", ".pq": "parquet"}
_READERS: dict[str, Callable[[Path], Iterator[RawRow]]] = {
    "jsonl": read_jsonl,
    "json": read_json_array,
    "csv": read_csv,
    "parquet": read_parquet,
}


def load(
    path: str | Path,
    format: str | None = None,
    *,
    inputs: Sequence[str] | None = None,
    mapping: Mapping[str, str] | Sequence[str] | None = None,
    limit: int | None = None,
    sample: int | float | None = None,
    seed: int = 0,
    on_error: str = "fail",
    qrels_split: str | None = None,
) -> Dataset:
    """Load a dataset into ``dspy.Example``s whose ``inputs`` are declared (``with_inputs``).

    path: a file (.jsonl, .json, .csv, .tsv, .parquet, optionally .gz), a BEIR folder, or
        ``hf:NAME[:config][:split]``.
    format: one of ``FORMATS``; inferred when None.
    inputs: the input field names (default ``("question",)``).
    mapping: ``{new_name: source_name}`` (or ``["question=query"]``), applied to each source row first.
    limit: keep the first N good rows (reading stops there). sample: then a random N rows (or a
        fraction in (0, 1]) chosen with ``seed``, kept in file order.
    on_error: ``"fail"`` raises DataError(path, line) at the first bad row; ``"skip"`` skips bad rows
        and lists them in ``Dataset.errors``.
    qrels_split: BEIR only: which ``qrels/<split>.tsv`` (default ``test``, or the only one).
    """
    if format is not None and format not in FORMATS:
        raise InputError(f"unknown dataset format {format!r}", hint=f"use one of {', '.join(FORMATS)}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InputError(f"limit must be a positive whole number, got {limit!r}")
    field_map = parse_mapping(mapping)
    if sample is not None:
        check_sample(sample)  # before reading, so a bad option fails at once
    if isinstance(inputs, str):
        inputs = [inputs]
    input_keys = tuple(inputs) if inputs is not None else DEFAULT_INPUTS
    if not input_keys or not all(isinstance(key, str) and key for key in input_keys):
        raise InputError(
            f"inputs must be a non-empty list of field names, got {inputs!r}", hint="e.g. inputs=['question']"
        )
    source = str(path)
    policy = RowErrorPolicy(source, on_error)
    rows, source_kind = _open_source(source, format, policy, qrels_split)
    layout = format if format in TASK_FORMATS else None
    detect = format is None

    examples: list[Any] = []
    lines: list[int | None] = []
    for line, record in rows:
        if isinstance(record, RowProblem):
            policy.bad_row(record, line)
            continue
        try:
            mapped = apply_mapping(record, field_map)
            if detect:  # the layout is recognised from the first readable row
                layout = detect_task_format(mapped) if source_kind != "beir" else None
                detect = False
            fields = CONVERTERS[layout](mapped) if layout is not None else mapped
            if not examples and inputs is None and on_error == "fail":
                _check_default_inputs(fields, source, line)
            check_inputs(fields, input_keys)
            example = _example(fields, input_keys)
        except RowProblem as problem:
            policy.bad_row(problem, line)
            continue
        examples.append(example)
        lines.append(line)
        if limit is not None and len(examples) >= limit:
            break

    if not examples:
        first = f" (first problem: {policy.errors[0]})" if policy.errors else ""
        raise DataError(
            f"no usable rows{first}",
            path=source,
            hint="check the file and its format; declare inputs (inputs=[...]) or rename fields (--map question=query)",
        )
    if sample is not None:
        chosen = choose_sample(len(examples), sample, seed)
        examples, lines = [examples[i] for i in chosen], [lines[i] for i in chosen]
    return Dataset(
        examples,
        source=source,
        format=layout or source_kind,
        input_keys=input_keys,
        errors=policy.errors,
        lines=lines,
    )


def _open_source(
    source: str, format: str | None, policy: RowErrorPolicy, qrels_split: str | None
) -> tuple[Iterator[RawRow], str]:
    """The record stream and the kind of source it is (``hf``, ``beir`` or a file format)."""
    if source.startswith(HF_PREFIX):
        if format in (*FILE_FORMATS, "beir"):
            raise InputError(f"format {format!r} does not apply to a Hugging Face dataset ({source!r})")
        return read_hf(source), "hf"
    path = Path(source)
    if format == "beir" or path.is_dir():
        if not is_beir_folder(path):
            raise DataError(
                f"not a BEIR dataset folder (expected {QUERIES_FILE}, corpus.jsonl and {QRELS_DIR}/*.tsv)",
                path=source,
                hint="pass a data file, or a folder laid out like the BEIR benchmark",
            )
        return read_beir_queries(path, policy, split=qrels_split), "beir"
    kind = format if format in FILE_FORMATS else _kind_from_name(path, format)
    if kind == "json" and _looks_like_jsonl(path):
        kind = "jsonl"
    return _READERS[kind](path), kind


def _kind_from_name(path: Path, format: str | None) -> str:
    if not path.exists():
        raise DataError("file not found", path=str(path), hint="check the path (relative paths start at the cwd)")
    name = path.name.lower().removesuffix(".gz")
    kind = _EXTENSIONS.get(Path(name).suffix)
    if kind is not None:
        return kind
    if format in TASK_FORMATS:
        return "jsonl"  # the official GSM8K/MATH/HotPotQA dumps are JSON lines whatever they are called
    raise DataError(
        f"cannot tell the format from the extension {Path(name).suffix or '(none)'!r}",
        path=str(path),
        hint=f"rename the file or pass format= one of {', '.join(FORMATS)}",
    )


def _looks_like_jsonl(path: Path) -> bool:
    """A ``.json`` file that does not start with '[' is treated as JSON lines."""
    with open_text(path) as stream:
        head = stream.read(4096).lstrip("\ufeff \t\r\n")
    return not head.startswith("[")


def _check_default_inputs(fields: Mapping[str, Any], source: str, line: int | None) -> None:
    if "question" not in fields:
        raise DataError(
            f"rows have no 'question' field (the default input); fields are {sorted(fields)}",
            path=source,
            line=line,
            hint="declare the inputs (inputs=['query']) or rename a field (mapping={'question': 'query'}, CLI --map)",
        )


def _example(fields: dict[str, Any], input_keys: Sequence[str]) -> Any:
    import dspy  # imported here so `import promptkit.datasets` stays light for the metrics that share it

    try:
        return dspy.Example(**fields).with_inputs(*input_keys)
    except TypeError as error:  # non-string keys cannot become fields
        raise RowProblem(f"cannot build an example from this row: {error}") from None
