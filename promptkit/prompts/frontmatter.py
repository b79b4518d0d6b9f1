"""The front-matter header a template declares its inputs in.

The header is a Jinja comment at the top of the file, so the file stays valid Jinja and its
line numbers do not move::

    {#---
    name: qa
    description: Answer a question from an optional context.
    version: "1.0"
    inputs:
      question: {type: str, description: "what the user asks"}
      context: {type: str, required: false}
    ---#}

``{#-`` / ``-#}`` are Jinja's whitespace-trimming comment delimiters, so the header leaves no
blank line in the output. A template without a header declares no inputs.

``outputs`` and ``export`` are kept as written (:attr:`FrontMatter.extra`): a template written by
``promptkit export`` records there what the reply holds and which program and predictor it came from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from promptkit.errors import TemplateError
from promptkit.prompts.inputs import InputSpec
from promptkit.prompts.types import TypeMismatch, parse_type
from promptkit.yaml_files import parse_yaml_document

_HEADER = re.compile(r"\A(?P<lead>\s*)\{#---[ \t]*\r?\n(?P<body>.*?)^[ \t]*---#\}", re.S | re.M)
_EXTRA_KEYS = frozenset({"outputs", "export"})
_TOP_KEYS = frozenset({"name", "description", "version", "inputs"}) | _EXTRA_KEYS
_INPUT_KEYS = frozenset({"type", "required", "default", "description"})
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
# Names a template may not use at all (see analysis.FORBIDDEN_NAMES) or that Jinja gives a meaning.
RESERVED_INPUTS = frozenset({"config", "request", "lipsum", "cycler", "joiner", "self", "loop", "caller", "super"})


@dataclass(frozen=True)
class FrontMatter:
    """What a template's header declares."""

    name: str | None = None
    description: str = ""
    version: str | None = None
    inputs: dict[str, InputSpec] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    first_line: int = 0  # the file line the header's YAML starts on (0: no header)


class _Header:
    """Parsing context: the template name, the YAML and where its lines sit in the file."""

    def __init__(self, template: str, body: str, first_line: int) -> None:
        self.template = template
        self.body = body
        self.first_line = first_line  # 1-based file line of the YAML's first line
        self.lines: dict[tuple[Any, ...], int] = {}  # file line of each key

    def fail(self, message: str, path: tuple[str, ...] = (), hint: str | None = None) -> TemplateError:
        line = self.lines.get(path)
        return TemplateError(
            f"front matter: {message}",
            template=self.template,
            line=line if line is not None else self.first_line - 1,
            hint=hint,
        )

    def load(self) -> Any:
        document = parse_yaml_document(
            self.body,
            path=self.template,
            first_line=self.first_line,
            error=lambda problem, line: TemplateError(
                f"front matter is not valid YAML: {problem}",
                template=self.template,
                line=line if line is not None else self.first_line,
                hint="the header between {#--- and ---#} must be a YAML mapping",
            ),
        )
        self.lines = document.lines
        return document.data


def _input_spec(header: _Header, name: str, raw: Any) -> InputSpec:
    path = ("inputs", name)
    if not _IDENTIFIER.match(name) or name in RESERVED_INPUTS:
        raise header.fail(
            f"input name {name!r} is not allowed",
            path,
            hint="use a letter-first identifier that is not one of " + ", ".join(sorted(RESERVED_INPUTS)),
        )
    if isinstance(raw, str):  # shorthand: `question: str`
        raw = {"type": raw}
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise header.fail(f"input {name!r} must be a mapping like {{type: str}}", path)
    unknown = sorted(set(raw) - _INPUT_KEYS)
    if unknown:
        raise header.fail(
            f"input {name!r} has unknown key {unknown[0]!r}",
            (*path, unknown[0]),
            hint="input keys are: " + ", ".join(sorted(_INPUT_KEYS)),
        )
    try:
        input_type = parse_type(str(raw.get("type", "any")))
    except ValueError as exc:
        raise header.fail(f"input {name!r}: {exc}", (*path, "type")) from None
    has_default = "default" in raw
    required = raw.get("required", not has_default)
    if not isinstance(required, bool):
        raise header.fail(f"input {name!r}: required must be true or false", (*path, "required"))
    if required and has_default:
        raise header.fail(
            f"input {name!r} is required and has a default", (*path, "default"), hint="drop one of the two"
        )
    default = raw.get("default")
    if default is not None:
        try:
            default = input_type.check(default)
        except TypeMismatch as exc:
            raise header.fail(
                f"default of input {name!r} is not a {exc.expected} (got {exc.got}{exc.where})", (*path, "default")
            ) from None
    description = raw.get("description") or ""
    return InputSpec(name, input_type, required, default, str(description))


def parse_front_matter(source: str, template: str) -> FrontMatter:
    """Read the header at the top of ``source``; no header means no declared inputs."""
    match = _HEADER.match(source)
    if match is None:
        if source.lstrip().startswith("{#---"):
            raise TemplateError(
                "front matter is not closed", template=template, line=1, hint="end the header with a line '---#}'"
            )
        return FrontMatter()
    first_line = match.group("lead").count("\n") + 2
    header = _Header(template, match.group("body"), first_line)
    data = header.load()
    if data is None:
        return FrontMatter()
    if not isinstance(data, Mapping):
        raise header.fail("must be a YAML mapping (name, description, version, inputs)")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise header.fail(
            f"unknown key {unknown[0]!r}", (unknown[0],), hint="header keys are: " + ", ".join(sorted(_TOP_KEYS))
        )
    raw_inputs = data.get("inputs") or {}
    if not isinstance(raw_inputs, Mapping):
        raise header.fail("inputs must be a mapping of name -> {type, required, default, description}", ("inputs",))
    inputs = {str(name): _input_spec(header, str(name), raw) for name, raw in raw_inputs.items()}
    version = data.get("version")
    return FrontMatter(
        name=None if data.get("name") is None else str(data["name"]),
        description=str(data.get("description") or ""),
        version=None if version is None else str(version),
        inputs=inputs,
        extra={key: data[key] for key in sorted(_EXTRA_KEYS) if key in data},
        first_line=first_line,
    )
