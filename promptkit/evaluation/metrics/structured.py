"""Structured-output metrics: is the answer valid JSON, and does it satisfy a JSON Schema?"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from promptkit import parsing
from promptkit.errors import DataError, InputError

from .base import FieldSpec, Metric, MetricError, gold, predicted


def parse_json_answer(value: Any, strip_fences: bool = False) -> tuple[bool, Any]:
    """``(True, data)`` when ``value`` is JSON text (or already parsed data), else ``(False, None)``."""
    if isinstance(value, dict | list):
        return True, value
    if not isinstance(value, str):
        return False, None
    texts = [value]
    if strip_fences:  # after the whole value: a JSON string may itself hold fenced code
        texts.append(parsing.strip_fences(value))
    for text in texts:
        try:
            return True, json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            pass
    return False, None


class JsonValid(Metric):
    """1 if the answer parses as JSON (``strip_fences=True`` also accepts a fenced ```json block)."""

    name = "json_valid"
    binary = True

    def __init__(self, field: FieldSpec = "answer", strip_fences: bool = False) -> None:
        self.field, self.strip_fences = field, strip_fences

    def compute(self, example: Any, prediction: Any, trace: Any = None) -> float:
        return float(parse_json_answer(predicted(prediction, self.field), self.strip_fences)[0])


def load_schema(schema: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """A schema given as a dict, as JSON text, or as the path of a JSON file."""
    if isinstance(schema, Mapping):
        return dict(schema)
    text = str(schema)
    if isinstance(schema, str) and text.lstrip().startswith("{"):
        source, raw = "the schema text", text
    else:
        path = Path(text)
        if not path.is_file():
            raise DataError("JSON Schema file not found", path=text, hint="pass a dict, JSON text or a .json file")
        source, raw = str(path), path.read_text(encoding="utf-8")
    try:
        loaded = json.loads(raw)
    except json.JSONDecodeError as error:
        raise DataError(f"invalid JSON in {source}: {error.msg}", path=None, line=error.lineno) from None
    if not isinstance(loaded, dict):
        raise DataError(f"{source} must be a JSON object (a JSON Schema)")
    return loaded


def _validator(schema: dict[str, Any]) -> Any:
    import jsonschema  # a core dependency, but only metrics that validate need it loaded

    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


class SchemaValid(Metric):
    """1 if the answer is JSON that validates against ``schema`` (or the example's ``schema`` field)."""

    name = "schema_valid"
    binary = True

    def __init__(
        self,
        schema: Mapping[str, Any] | str | Path | None = None,
        field: FieldSpec = "answer",
        schema_field: FieldSpec = "schema",
        strip_fences: bool = False,
    ) -> None:
        self.field, self.schema_field, self.strip_fences = field, schema_field, strip_fences
        self._fixed = None
        if schema is not None:
            import jsonschema

            try:
                self._fixed = _validator(load_schema(schema))
            except jsonschema.SchemaError as error:
                raise InputError(f"invalid JSON Schema for schema_valid: {error.message}") from None

    def compute(self, example: Any, prediction: Any, trace: Any = None) -> float:
        validator = self._fixed
        if validator is None:
            import jsonschema

            try:
                validator = _validator(load_schema(gold(example, self.schema_field)))
            except jsonschema.SchemaError as error:
                raise MetricError(f"the example's JSON Schema is invalid: {error.message}") from None
        valid_json, data = parse_json_answer(predicted(prediction, self.field), self.strip_fences)
        return float(valid_json and validator.is_valid(data))
