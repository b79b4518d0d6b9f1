"""The one YAML loader: safe loading, and one-line syntax errors that name the line a person must fix.

PyYAML's own message is several lines with a caret diagram, and its ``problem_mark`` is where the
parser *noticed* the problem: for an unclosed ``[``, ``{`` or quote that is the next line (or the end
of the file). :func:`yaml_problem` names the line where the unclosed construct starts instead.
Every YAML file or text promptkit reads (vars files, prompt files, chain specs, template front matter,
eval matrix specs, Router configs) goes through here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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


@dataclass
class YamlDocument:
    """A parsed YAML text: its data, and the file line (1-based) of every key and list item by key path."""

    data: Any
    lines: dict[tuple[Any, ...], int] = field(default_factory=dict)
    # The first content line of each ``|`` / ``>`` block scalar (an inline template's line 1).
    block_starts: dict[tuple[Any, ...], int] = field(default_factory=dict)
    # (key path, line) of each key that appears a second time in its mapping (PyYAML keeps the last).
    duplicates: list[tuple[tuple[Any, ...], int]] = field(default_factory=list)

    def line_of(self, path: tuple[Any, ...]) -> int | None:
        """The line of ``path``, else of its nearest located parent."""
        for end in range(len(path), 0, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


ErrorFactory = Callable[[str, "int | None"], Exception]


def parse_yaml_document(
    text: str,
    *,
    path: str | Path,
    first_line: int = 1,
    hint: str | None = None,
    error: ErrorFactory | None = None,
) -> YamlDocument:
    """Parse ``text`` once (safe loader) into data and line numbers; ``first_line``: its first line in the file.

    A syntax error is ``error(one-line message, line)`` when given (a caller's own error type), else a
    DataError naming ``path`` and the line.
    """
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        message, line = yaml_problem(exc, first_line)
        if error is not None:
            raise error(message, line) from None
        raise DataError(
            f"invalid YAML: {message}",
            path=str(path),
            line=line,
            hint=hint or "check the indentation, quotes and brackets on that line",
        ) from None
    finally:
        loader.dispose()
    document = YamlDocument(data)
    if root is not None:
        _record_lines(root, (), document, first_line)
    return document


def _record_lines(node: yaml.Node, path: tuple[Any, ...], document: YamlDocument, first_line: int) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            sub = (*path, key_node.value)
            line = key_node.start_mark.line + first_line
            if key_node.value in seen:
                document.duplicates.append((sub, line))
            seen.add(key_node.value)
            document.lines[sub] = line
            _record_lines(value_node, sub, document, first_line)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            document.lines[(*path, index)] = item.start_mark.line + first_line
            _record_lines(item, (*path, index), document, first_line)
    elif isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        document.block_starts[path] = node.start_mark.line + first_line + 1


def load_yaml_text(text: str, *, path: str | Path, hint: str | None = None) -> Any:
    """``yaml.safe_load(text)``; a syntax error is a one-line DataError naming ``path`` and the line."""
    return parse_yaml_document(text, path=path, hint=hint).data


def read_yaml_document(path: str | Path, *, what: str = "YAML file", hint: str | None = None) -> YamlDocument:
    """Read and parse a YAML file with its line numbers; a missing, unreadable, non-UTF-8 or malformed file
    is a DataError."""
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
    return parse_yaml_document(text, path=file, hint=hint)


def load_yaml_file(path: str | Path, *, what: str = "YAML file", hint: str | None = None) -> Any:
    """Read and parse a YAML file; a missing, unreadable, non-UTF-8 or malformed file is a DataError."""
    return read_yaml_document(path, what=what, hint=hint).data


__all__ = [
    "YamlDocument",
    "load_yaml_file",
    "load_yaml_text",
    "parse_yaml_document",
    "read_yaml_document",
    "yaml_problem",
]
