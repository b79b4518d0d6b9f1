"""What a step's reply becomes: text, a list, or JSON checked against a schema or a pydantic model.

* ``text``: the reply, stripped.
* ``list``: items split by ``separator`` -- ``auto`` (one item per line when the reply has several
  lines, else split on ``;``), ``lines``, ``semicolon``, ``comma``, or any literal string (a reply
  without that separator but with several lines is split into lines). Bullets (``-``, ``*``, ``1.``)
  are dropped; a reply that is a JSON array of strings is taken as is.
* ``json``: the last JSON value in the reply that validates against the JSON schema or pydantic model
  (code fences and surrounding prose tolerated; see :mod:`promptkit.parsing.json_text`), repaired with
  ``json_repair`` when it is broken.
  A model's output is stored as plain JSON (``model_dump(mode="json")``) so results stay serializable.

A reply that cannot be used raises :class:`OutputInvalid` with a reason the re-ask shows the model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from promptkit import parsing
from promptkit.chains.errors import ChainSpecError
from promptkit.prompts.types import import_model, json_type_name

OutputKind = Literal["text", "list", "json"]
OUTPUT_KINDS: tuple[str, ...] = ("text", "list", "json")
_SEPARATOR_ALIASES = {"semicolon": ";", "comma": ","}
_BULLET = re.compile(r"^\s*(?:[-*•+]|\d{1,3}[.)]|\(\d{1,3}\))\s+")
_MAX_SHOWN = 200  # characters of a value quoted in a validation message


class OutputInvalid(Exception):
    """A reply that does not meet the step's output spec; ``reason`` is shown to the model and the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class OutputSpec:
    """How to parse and check one step's reply. ``schema_source`` says where the schema came from."""

    kind: str = "text"
    separator: str = "auto"
    schema: dict[str, Any] | None = None
    model: type[BaseModel] | None = field(default=None, compare=False)
    schema_source: str | None = None
    repair: bool = True

    @property
    def json_schema(self) -> dict[str, Any] | None:
        """The JSON schema a structured-output backend can enforce (a model's generated schema too)."""
        if self.model is not None:
            return self.model.model_json_schema()
        return self.schema

    @property
    def type_name(self) -> str:
        """The chain type name of the parsed output (for compile-time compatibility checks)."""
        if self.kind == "text":
            return "str"
        if self.kind == "list":
            return "list[str]"
        if self.model is not None:
            return "dict"
        return json_type_name(self.schema) if self.schema is not None else "any"

    def parse(self, raw: str) -> tuple[Any, bool]:
        """``(parsed value, repaired?)``; raises :class:`OutputInvalid`."""
        if not raw.strip():
            raise OutputInvalid("the reply was empty")
        if self.kind == "text":
            return raw.strip(), False
        if self.kind == "list":
            return parse_list(raw, self.separator), False
        # The last JSON value that fits wins: a reply quoting a passage's JSON before answering ends with its answer.
        value, repaired = extract_json(raw, repair=self.repair, accept=self._fits)
        return self.validate(value), repaired

    def _fits(self, value: Any) -> bool:
        try:
            self.validate(value)
        except OutputInvalid:
            return False
        return True

    def validate(self, value: Any) -> Any:
        if self.model is not None:
            try:
                return self.model.model_validate(value).model_dump(mode="json")
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(part) for part in first["loc"]) or "(root)"
                raise OutputInvalid(
                    f"the JSON does not match {self.model.__name__}: at {where}: {first['msg']}"
                    + (f" ({exc.error_count() - 1} more problems)" if exc.error_count() > 1 else "")
                ) from None
        if self.schema is not None:
            check_against_schema(value, self.schema)
        elif not isinstance(value, dict | list):
            raise OutputInvalid(f"expected a JSON object or array, got {_json_kind(value)}")
        return value


def _json_kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def parse_list(raw: str, separator: str = "auto") -> list[str]:
    """Split a reply into items (see the module docstring)."""
    text = parsing.strip_fences(raw)
    if text.startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, list) and all(isinstance(item, str | int | float) for item in value):
            items = [str(item).strip() for item in value]
            return _non_empty(items)
    sep = _SEPARATOR_ALIASES.get(separator, separator)
    if sep == "auto":
        lines = [line for line in text.splitlines() if line.strip()]
        pieces = lines if len(lines) > 1 else text.split(";")
    elif sep == "lines" or (sep not in text and len(text.splitlines()) > 1):
        pieces = text.splitlines()  # a model that ignored the separator but wrote one item per line
    else:
        pieces = text.split(sep)
    items = [_BULLET.sub("", piece).strip() for piece in pieces]
    if sep == "auto":
        items = [item.rstrip(";").strip() for item in items]  # "a;" lines: the separator ends each line
    else:
        items = [" ".join(item.split()) for item in items]  # an item wrapped over lines is one item
    return _non_empty(items)


def _non_empty(items: list[str]) -> list[str]:
    kept = [item for item in items if item]
    if not kept:
        raise OutputInvalid("the reply has no list items")
    return kept


def extract_json(raw: str, *, repair: bool = True, accept: Callable[[Any], bool] | None = None) -> tuple[Any, bool]:
    """The JSON value in ``raw`` and whether it had to be repaired (:func:`promptkit.parsing.extract_json`,
    with the reason as :class:`OutputInvalid`)."""
    try:
        return parsing.extract_json(raw, accept=accept, repair=repair)
    except parsing.JSONNotFound as exc:
        if exc.found is not None:
            return exc.found, False  # JSON, but not what was asked: validation names the problem
        raise OutputInvalid(str(exc)) from None


def check_against_schema(value: Any, schema: Mapping[str, Any]) -> None:
    """Raise :class:`OutputInvalid` naming the first schema violation (by position in the value)."""
    from jsonschema.validators import validator_for

    validator = validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path])
    if not errors:
        return
    first = errors[0]
    where = "".join(f"[{p}]" if isinstance(p, int) else f"[{json.dumps(p)}]" for p in first.absolute_path) or "(root)"
    message = first.message if len(first.message) <= _MAX_SHOWN else first.message[:_MAX_SHOWN] + "..."
    more = f" ({len(errors) - 1} more problems)" if len(errors) > 1 else ""
    raise OutputInvalid(f"the JSON does not match the schema: at {where}: {message}{more}")


# -- building specs ---------------------------------------------------------------------------


def check_schema(schema: Any, where: str) -> dict[str, Any]:
    """Meta-validate a JSON schema (its own ``$schema`` draft, else the latest); ChainSpecError if bad."""
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    if not isinstance(schema, Mapping):
        raise ChainSpecError(f"the schema ({where}) must be a JSON schema object, got {type(schema).__name__}")
    try:
        validator_for(schema).check_schema(dict(schema))
    except SchemaError as exc:
        at = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise ChainSpecError(
            f"the schema ({where}) is not a valid JSON Schema: at {at}: {exc.message}",
            hint="see https://json-schema.org/understanding-json-schema/",
        ) from None
    return dict(schema)


def _load_schema_file(path: Path, shown: str) -> Any:
    if not path.is_file():
        raise ChainSpecError(
            f"schema file {shown!r} not found (looked for {path})",
            hint="schema paths are relative to the spec's folder",
        )
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ChainSpecError(f"schema file {shown!r}, line {exc.lineno}: invalid JSON: {exc.msg}") from None
    from promptkit.yaml_files import parse_yaml_document

    return parse_yaml_document(
        text,
        path=path,
        error=lambda problem, line: ChainSpecError(f"schema file {shown!r}, line {line}: invalid YAML: {problem}"),
    ).data


def build_output_spec(
    kind: str,
    *,
    schema: Any = None,
    separator: str = "auto",
    repair: bool = True,
    base_dir: Path | None = None,
) -> OutputSpec:
    """Check a step's ``output`` / ``schema`` / ``separator`` and load the schema.

    ``schema`` is a JSON schema mapping, a ``.json`` / ``.yaml`` file path (relative to ``base_dir``),
    a ``module:Class`` pydantic model path, or a pydantic model class. Errors are located at the
    step's keys (``key_path``) so a YAML spec can name the line.
    """
    if kind not in OUTPUT_KINDS:
        raise ChainSpecError(
            f"unknown output kind {kind!r}", key_path=("output",), hint="use one of " + ", ".join(OUTPUT_KINDS)
        )
    if not isinstance(separator, str) or not separator:
        raise ChainSpecError("separator must be a non-empty string", key_path=("separator",))
    if schema is not None and kind != "json":
        raise ChainSpecError(
            f"a schema only applies to output: json (this step's output is {kind})",
            key_path=("schema",),
            hint="set output: json, or remove the schema",
        )
    if schema is None:
        return OutputSpec(kind, separator, repair=repair)
    try:
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            return OutputSpec(kind, separator, model=schema, schema_source=schema.__name__, repair=repair)
        if isinstance(schema, str | Path):
            text = str(schema)
            if text.endswith((".json", ".yaml", ".yml")):
                path = Path(text) if base_dir is None or Path(text).is_absolute() else base_dir / text
                loaded = check_schema(_load_schema_file(path, text), text)
                return OutputSpec(kind, separator, schema=loaded, schema_source=text, repair=repair)
            try:
                model = import_model(text)
            except ValueError as exc:
                raise ChainSpecError(
                    f"schema {text!r}: {exc}",
                    hint="give a JSON schema mapping, a .json/.yaml file, or a pydantic model as 'module:Class'",
                ) from None
            return OutputSpec(kind, separator, model=model, schema_source=text, repair=repair)
        return OutputSpec(kind, separator, schema=check_schema(schema, "inline"), schema_source="inline", repair=repair)
    except ChainSpecError as exc:
        raise exc.within("schema") if not exc.key_path else exc from None


__all__ = [
    "OUTPUT_KINDS",
    "OutputInvalid",
    "OutputKind",
    "OutputSpec",
    "build_output_spec",
    "check_against_schema",
    "extract_json",
    "parse_list",
]
