"""YAML chain specs (``pipelines/NAME.yaml``), validated with errors that name the file and line.

::

    name: telecom_feedback
    description: ...
    inputs:
      feedback: {type: str, description: customer comments, one per line}
    steps:
      - name: extract
        template: telecom_feedback/extract.j2     # relative to this file's folder (or a prompt: inline)
        output: list
        separator: ";"
      - name: classify
        template: telecom_feedback/classify.j2
        output: json
        schema: {type: object, additionalProperties: {type: string}}   # or a .json file, or module:Model
        inputs: {issues: extract}                 # template input -> reference
    output: classify                              # or a list of steps; default: the last steps

Line numbers come from the YAML node tree (``promptkit.yaml_files.parse_yaml_document``): every key
and list item is recorded with its line, and an error raised anywhere while building the chain
carries the key path of the value it is about, which is looked up here. Duplicate keys (which YAML
silently merges) are errors.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from promptkit.chains.chain import Chain
from promptkit.chains.errors import ChainSpecError, KeyPath
from promptkit.chains.step import Step
from promptkit.yaml_files import parse_yaml_document

TOP_KEYS = ("name", "description", "version", "inputs", "steps", "output", "max_workers")
STEP_KEYS = (
    "name", "description", "template", "prompt", "output", "schema", "inputs", "depends", "retries",
    "separator", "repair", "temperature", "max_tokens",
)  # fmt: skip


class _Document:
    """A YAML document's data plus the line of every key and list item (1-based)."""

    def __init__(self, text: str, path: str) -> None:
        self.path = path
        parsed = parse_yaml_document(
            text,
            path=path,
            error=lambda problem, line: ChainSpecError(
                f"invalid YAML: {problem}",
                path=path,
                line=line,
                hint="check the indentation and quoting around that line",
            ),
        )
        if parsed.duplicates:
            key_path, line = parsed.duplicates[0]
            raise ChainSpecError(
                f"duplicate key {key_path[-1]!r}", path=path, line=line, hint="each key may appear once in a mapping"
            )
        self.data = parsed.data
        self.document = parsed

    def line_of(self, key_path: KeyPath, template_line: int | None = None) -> int | None:
        starts = self.document.block_starts
        if template_line is not None and key_path in starts:
            return starts[key_path] + template_line - 1
        line = self.document.line_of(tuple(key_path))
        if line is not None:
            return line
        return 1 if self.document.lines else None

    def error(self, exc: ChainSpecError) -> ChainSpecError:
        """``exc`` located in this file."""
        located = ChainSpecError(
            exc.bare_message,
            path=self.path,
            line=self.line_of(exc.key_path, exc.template_line),
            key_path=exc.key_path,
            template_line=exc.template_line,
            hint=exc.hint,
        )
        return located

    def fail(self, message: str, key_path: KeyPath, hint: str | None = None) -> ChainSpecError:
        return self.error(ChainSpecError(message, key_path=key_path, hint=hint))


def _unknown_key(doc: _Document, keys: Mapping[str, Any], allowed: tuple[str, ...], where: KeyPath, what: str) -> None:
    for key in keys:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            hint += "allowed: " + ", ".join(allowed)
            raise doc.fail(f"unknown key {key!r} in {what}", (*where, key), hint=hint)


def _step(doc: _Document, index: int, raw: Any) -> Step:
    where: KeyPath = ("steps", index)
    if not isinstance(raw, Mapping):
        raise doc.fail(f"steps[{index}] must be a mapping with at least name and template (or prompt)", where)
    _unknown_key(doc, raw, STEP_KEYS, where, f"step {raw.get('name', index)!r}")
    if "name" not in raw:
        raise doc.fail(f"steps[{index}] has no name", where, hint="add name: SOME_NAME")
    options: dict[str, Any] = {key: raw[key] for key in STEP_KEYS if key in raw}
    for key in ("name", "template", "prompt", "separator", "description"):
        if key in options and not isinstance(options[key], str):
            raise doc.fail(f"steps[{index}].{key} must be a string", (*where, key))
    if "repair" in options and not isinstance(options["repair"], bool):
        raise doc.fail(f"steps[{index}].repair must be true or false", (*where, "repair"))
    if options.get("inputs") is None:
        options.pop("inputs", None)
    depends = options.get("depends")
    if isinstance(depends, str):
        options["depends"] = [depends]
    elif depends is None:
        options.pop("depends", None)
    elif not isinstance(depends, list):
        raise doc.fail(f"steps[{index}].depends must be a step name or a list of names", (*where, "depends"))
    else:
        options["depends"] = tuple(depends)
    if options.get("description") is None:
        options.pop("description", None)
    try:
        return Step(**options)
    except ChainSpecError as exc:
        raise doc.error(exc.within(*where)) from None


def load_chain(path: str | Path, *, max_workers: int | None = None) -> Chain:
    """Load and check the chain spec at ``path``; every problem is a ChainSpecError naming file and line."""
    spec_path = Path(path)
    shown = str(path)
    if not spec_path.is_file():
        raise ChainSpecError("chain spec not found", path=shown, hint="give the path to a pipelines/NAME.yaml file")
    try:
        text = spec_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ChainSpecError(f"cannot read the chain spec: {exc}", path=shown) from None
    doc = _Document(text, shown)
    data = doc.data
    if not isinstance(data, Mapping):
        raise ChainSpecError(
            "a chain spec must be a YAML mapping with name, inputs, steps and output", path=shown, line=1
        )
    _unknown_key(doc, data, TOP_KEYS, (), "the chain spec")
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise doc.fail("steps must be a non-empty list of steps", ("steps",), hint="add steps: - name: ... prompt: ...")
    name = data.get("name", spec_path.stem)
    if not isinstance(name, str) or not name:
        raise doc.fail("name must be a non-empty string", ("name",))
    raw_inputs = data.get("inputs")
    if raw_inputs is not None and not isinstance(raw_inputs, Mapping | list):
        raise doc.fail("inputs must be a mapping of input name -> {type, description}", ("inputs",))
    output = data.get("output")
    if output is not None and not isinstance(output, str | list):
        raise doc.fail("output must be a step name or a list of step names", ("output",))
    workers = data.get("max_workers", Chain.DEFAULT_MAX_WORKERS) if max_workers is None else max_workers
    steps = [_step(doc, index, raw) for index, raw in enumerate(raw_steps)]
    try:
        return Chain(
            steps,
            inputs=raw_inputs,
            output=output,
            name=name,
            description=str(data.get("description") or ""),
            base_dir=spec_path.resolve().parent,
            max_workers=workers,
        )
    except ChainSpecError as exc:
        raise doc.error(exc) from exc.__cause__


__all__ = ["STEP_KEYS", "TOP_KEYS", "load_chain"]
