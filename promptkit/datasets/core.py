"""The Dataset container, bad-row bookkeeping, field mapping, sampling and splits.

Readers hand over ``(line, record)`` pairs; a record that cannot become an example raises
:class:`RowProblem`, and :class:`RowErrorPolicy` turns that into either a ``DataError`` naming the
file and line (``on_error="fail"``) or an entry in ``Dataset.errors`` (``on_error="skip"``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from promptkit.errors import DataError, InputError, describe

if TYPE_CHECKING:
    import dspy

OnError = Literal["fail", "skip"]


class RowProblem(Exception):
    """Raised by a reader or converter for one bad row; the policy decides whether it is fatal."""

    def __init__(self, message: str, *, line: int | None = None, path: str | None = None) -> None:
        self.message = message
        self.line = line
        self.path = path  # set when the row lives in another file than the dataset's (BEIR qrels)
        super().__init__(message)


@dataclass(frozen=True)
class RowError:
    """A row that was skipped, with where it is and why."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"


class RowErrorPolicy:
    """Applies ``on_error``: raise at the first bad row, or remember it and go on."""

    def __init__(self, path: str, on_error: str) -> None:
        if on_error not in ("fail", "skip"):
            raise InputError(f"on_error must be 'fail' or 'skip', got {on_error!r}", hint="pass on_error='skip'")
        self.path = path
        self.on_error = on_error
        self.errors: list[RowError] = []

    def bad_row(self, problem: RowProblem, line: int | None) -> None:
        where = problem.line if problem.line is not None else line
        path = problem.path or self.path
        if self.on_error == "fail":
            raise DataError(
                problem.message,
                path=path,
                line=where,
                hint="fix the row, or load with on_error='skip' to skip bad rows (they are listed in Dataset.errors)",
            )
        self.errors.append(RowError(path, where, problem.message))


class Dataset(list["dspy.Example"]):
    """A list of ``dspy.Example`` (inputs already declared) plus where it came from and what was skipped.

    ``lines[i]`` is the source line (or row number) of ``self[i]``, so results can point back at the file.
    """

    def __init__(
        self,
        examples: Iterable[dspy.Example] = (),
        *,
        source: str = "",
        format: str = "",
        input_keys: Sequence[str] = (),
        errors: Sequence[RowError] = (),
        lines: Sequence[int | None] = (),
    ) -> None:
        super().__init__(examples)
        self.source = source
        self.format = format
        self.input_keys = tuple(input_keys)
        self.errors = list(errors)
        self.lines = list(lines)

    def __repr__(self) -> str:
        return (
            f"Dataset({len(self)} examples from {self.source!r}, format={self.format!r}, "
            f"inputs={self.input_keys!r}, skipped={len(self.errors)})"
        )


def parse_mapping(mapping: Mapping[str, str] | Sequence[str] | None) -> dict[str, str]:
    """Normalise a field mapping: a dict ``new -> source`` or CLI strings like ``"question=query"``."""
    if mapping is None:
        return {}
    if isinstance(mapping, Mapping):
        pairs = list(mapping.items())
    elif isinstance(mapping, str):
        raise InputError(
            f"mapping must be a dict or a list of 'new=source' strings, got the string {mapping!r}",
            hint=f"wrap it in a list: [{mapping!r}]",
        )
    else:
        pairs = []
        for item in mapping:
            new, sep, source = str(item).partition("=")
            if not sep or not new.strip() or not source.strip():
                raise InputError(
                    f"bad field mapping {item!r}: expected NEW=SOURCE", hint="for example --map question=query"
                )
            pairs.append((new.strip(), source.strip()))
    result: dict[str, str] = {}
    for new, source in pairs:
        if not isinstance(new, str) or not isinstance(source, str):
            raise InputError(f"field mapping names must be strings, got {describe(new)}={describe(source)}")
        result[new] = source
    return result


def apply_mapping(record: dict[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """Copy each ``source`` field to its ``new`` name; sources are dropped unless also kept under their own name."""
    if not mapping:
        return record
    missing = [f"{source!r} (for {new!r})" for new, source in mapping.items() if source not in record]
    if missing:
        raise RowProblem(f"mapped field {', '.join(missing)} is missing; the row has {sorted(record)}")
    sources = set(mapping.values())
    mapped = {key: value for key, value in record.items() if key not in sources or key in mapping}
    for new, source in mapping.items():
        mapped[new] = record[source]
    return mapped


def check_inputs(fields: Mapping[str, Any], inputs: Sequence[str]) -> None:
    """Every declared input must be present and non-null."""
    for key in inputs:
        if key not in fields:
            raise RowProblem(f"missing input field {key!r}; the row has {sorted(fields)}")
        if fields[key] is None:
            raise RowProblem(f"input field {key!r} is null")


def check_sample(sample: int | float) -> None:
    """A sample is a whole number of rows (>= 1) or a fraction in (0, 1]."""
    if isinstance(sample, bool) or not isinstance(sample, int | float):
        raise InputError(f"sample must be a count or a fraction in (0, 1], got {describe(sample)}")
    if isinstance(sample, float):
        if not 0.0 < sample <= 1.0:
            raise InputError(f"sample fraction must be in (0, 1], got {sample}", hint="or pass a whole number of rows")
    elif sample < 1:
        raise InputError(f"sample must be at least 1 row, got {sample}")


def choose_sample(count: int, sample: int | float, seed: int) -> list[int]:
    """Indices of a reproducible random sample, in their original order (so files stay readable side by side)."""
    check_sample(sample)
    size = round(count * sample) if isinstance(sample, float) else sample
    size = min(size, count)
    return sorted(random.Random(seed).sample(range(count), size))


def split(
    examples: Sequence[Any],
    parts: Sequence[int | float],
    *,
    seed: int | None = 0,
) -> tuple[list[Any], ...]:
    """Shuffle (with ``seed``; ``None`` keeps the order) and cut into parts.

    ``parts`` is either fractions (``(0.8, 0.2)``, summing to at most 1; rounding leftovers go to the
    last part when the fractions sum to 1) or sizes (``(200, 300)``, summing to at most ``len(examples)``).
    The same seed always gives the same parts.
    """
    if not parts:
        raise InputError("split needs at least one part, e.g. (0.8, 0.2) or (200, 300)")
    if any(isinstance(p, bool) or not isinstance(p, int | float) or p < 0 for p in parts):
        raise InputError(f"split parts must be non-negative numbers, got {list(parts)!r}")
    total = len(examples)
    order = list(range(total))
    if seed is not None:
        random.Random(seed).shuffle(order)
    sizes = _part_sizes(parts, total)
    result: list[list[Any]] = []
    start = 0
    for size in sizes:
        result.append([examples[i] for i in order[start : start + size]])
        start += size
    return tuple(result)


def _part_sizes(parts: Sequence[int | float], total: int) -> list[int]:
    if all(isinstance(p, int) for p in parts):
        sizes = [int(p) for p in parts]
        if sum(sizes) > total:
            raise InputError(f"split sizes {sizes} add up to {sum(sizes)}, but there are only {total} examples")
        return sizes
    fractions = [float(p) for p in parts]
    if any(f > 1.0 for f in fractions) or sum(fractions) > 1.0 + 1e-9:
        raise InputError(
            f"split fractions {fractions} must each be at most 1 and add up to at most 1",
            hint="use fractions like (0.8, 0.2) or whole sizes like (200, 300)",
        )
    sizes = [int(f * total) for f in fractions]
    if abs(sum(fractions) - 1.0) <= 1e-9:
        sizes[-1] = total - sum(sizes[:-1])
    return sizes
