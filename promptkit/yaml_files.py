"""The one YAML loader: safe loading, and one-line syntax errors that name the line a person must fix.

PyYAML's own message is several lines with a caret diagram, and its ``problem_mark`` is where the
parser *noticed* the problem: for an unclosed ``[``, ``{`` or quote that is the next line (or the end
of the file). :func:`yaml_problem` names the line where the unclosed construct starts instead.
Every YAML file or text promptkit reads (vars files, prompt files, chain specs, template front matter,
eval matrix specs, Router configs) goes through here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from promptkit.errors import DataError

_OPENED = {
    "while parsing a flow sequence": "a '[' list",
    "while parsing a flow mapping": "a '{' mapping",
    "while scanning a quoted scalar": "a quoted string",
}


def yaml_problem(exc: yaml.YAMLError, first_line: int = 1) -> tuple[str, int | None]:
    """``(one-line description, 1-based line)`` of a PyYAML error; ``first_line``: the text's first line in its file."""
    problem = str(getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]).replace("\t", "\\t")
    noticed = getattr(exc, "problem_mark", None)
    started = getattr(exc, "context_mark", None)
    opened = _OPENED.get(str(getattr(exc, "context", None) or ""))
    if opened is not None and started is not None:
        seen = f" (line {noticed.line + first_line})" if noticed is not None else ""
        message = f"{opened} opened at column {started.column + 1} is not closed: {problem}{seen}"
        return message, started.line + first_line
    if noticed is not None:
        return f"{problem} (column {noticed.column + 1})", noticed.line + first_line
    return problem, None


def load_yaml_text(text: str, *, path: str | Path, hint: str | None = None) -> Any:
    """``yaml.safe_load(text)``; a syntax error is a one-line DataError naming ``path`` and the line."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        message, line = yaml_problem(exc)
        raise DataError(
            f"invalid YAML: {message}",
            path=str(path),
            line=line,
            hint=hint or "check the indentation, quotes and brackets on that line",
        ) from None


def load_yaml_file(path: str | Path, *, what: str = "YAML file", hint: str | None = None) -> Any:
    """Read and parse a YAML file; a missing, unreadable, non-UTF-8 or malformed file is a DataError."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{what} not found", path=str(file), hint="check the path (relative paths start at the cwd)")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read the {what}: {exc.strerror}", path=str(file)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start})",
            path=str(file),
            line=data.count(b"\n", 0, exc.start) + 1,
            hint="save the file as UTF-8",
        ) from None
    return load_yaml_text(text, path=file, hint=hint)


__all__ = ["load_yaml_file", "load_yaml_text", "yaml_problem"]
