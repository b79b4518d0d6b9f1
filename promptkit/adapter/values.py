"""What the adapter template receives: field docs, input values, demos and history turns as text.

Values of DSPy's custom types (``dspy.Image``, ``dspy.File``, ``dspy.Audio``, ...) format
themselves as content parts wrapped in DSPy's custom-type markers; the adapter turns those into
message content parts after rendering. A string can never do that: the markers in strings are made
inert here, like field markers and section tags — except in a field typed with a custom type, which
may hold the formatted text itself (that is how a saved program's demos come back from JSON).
"""

from __future__ import annotations

import functools
import json
import weakref
from collections.abc import Mapping
from typing import Any, get_args

import dspy
import pydantic
from dspy.adapters.types.base_type import CUSTOM_TYPE_END_IDENTIFIER, CUSTOM_TYPE_START_IDENTIFIER
from dspy.adapters.utils import format_field_value, get_annotation_name, serialize_for_json, translate_field_type
from dspy.signatures.signature import Signature

from promptkit.parsing import escape_markers

FieldDoc = dict[str, str]
_NOTE = "# note: the value you produce "
# Field docs cost a pydantic schema per typed field: computed once per signature class (optimizers make
# new classes when they change instructions, and those may be collected: hence weak keys).
_DOCS: weakref.WeakKeyDictionary[type[Signature], tuple[list[FieldDoc], list[FieldDoc]]] = weakref.WeakKeyDictionary()


def field_docs(signature: type[Signature]) -> tuple[list[FieldDoc], list[FieldDoc]]:
    """``(input docs, output docs)``: ``{name, type, description, format}`` per field."""
    cached = _DOCS.get(signature)
    if cached is None:
        cached = (
            [_field_doc(name, info, output=False) for name, info in signature.input_fields.items()],
            [_field_doc(name, info, output=True) for name, info in signature.output_fields.items()],
        )
        _DOCS[signature] = cached
    return cached


def _field_doc(name: str, info: Any, *, output: bool) -> FieldDoc:
    extra = info.json_schema_extra or {}
    desc = str(extra.get("desc", "") or "")
    if desc == f"${{{name}}}":  # DSPy's placeholder description for undocumented fields
        desc = ""
    # What a value must look like (an int, one of a Literal's values, a JSON schema): DSPy's own wording.
    note = translate_field_type(name, info) if output else ""
    fmt = note.split(_NOTE, 1)[1] if _NOTE in note else ""
    doc = {"name": name, "type": get_annotation_name(info.annotation), "description": desc, "format": fmt}
    return {**doc, "budget": ""}  # a length budget is per call (see promptkit.adapter.budgets)


def input_values(input_fields: Mapping[str, Any], values: Mapping[str, Any]) -> list[dict[str, str]]:
    """``[{name, value}]`` for the inputs present in ``values``, as the prompt shows them."""
    shown = []
    for name, info in input_fields.items():
        if name in values:
            value = values[name]
            # A custom-type field may hold its formatted text (a demo loaded from JSON): left as it is.
            typed = holds_custom_type(info.annotation)
            text = field_text(info, value) if typed else input_text(info, inert(value))
            shown.append({"name": name, "value": escape_markers(text)})
    return shown


def input_text(info: Any, value: Any) -> str:
    """An input value as the prompt shows it. A list of strings (retrieved passages, say) is numbered
    one per line, which a small model reads far better than a one-line JSON array."""
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return "\n".join(f"[{number}] {item}" for number, item in enumerate(value, 1))
    return field_text(info, value)


def field_text(info: Any, value: Any) -> str:
    """A field value as the prompt shows it: DSPy's formatting, without its cost for plain scalars.

    DSPy builds a pydantic TypeAdapter per value (~150 µs); for str/int/float/bool its result is
    simply ``str(value)``, which is most fields of most calls.
    """
    if type(value) in (str, int, float, bool):
        return str(value)
    return str(format_field_value(field_info=info, value=value))


def holds_custom_type(annotation: Any) -> bool:
    """Whether a field of this annotation can hold a DSPy custom type: ``dspy.Image``, ``list[dspy.File]``,
    a pydantic model with an image field..."""
    try:
        return _holds_cached(annotation)
    except TypeError:  # an unhashable annotation: walk it uncached
        return _holds(annotation)


@functools.lru_cache(maxsize=1024)
def _holds_cached(annotation: Any) -> bool:
    return _holds(annotation)


def _holds(annotation: Any, depth: int = 0) -> bool:
    if depth > 8:  # a self-referencing model
        return False
    if isinstance(annotation, type) and issubclass(annotation, dspy.Type):
        return True
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return any(_holds(f.annotation, depth + 1) for f in annotation.model_fields.values())
    return any(_holds(arg, depth + 1) for arg in get_args(annotation))


def inert(value: Any) -> Any:
    """``value`` with DSPy's custom-type markers made inert in every string in it (real ``dspy.Type``
    values are left alone): data cannot smuggle in an image or a file."""
    if isinstance(value, str):
        return escape_custom_types(value)
    if isinstance(value, list | tuple):
        return [inert(item) for item in value]
    if isinstance(value, dict):
        return {key: inert(item) for key, item in value.items()}
    return value


def escape_custom_types(text: str) -> str:
    if "<<CUSTOM-TYPE-" not in text:
        return text
    return text.replace(CUSTOM_TYPE_START_IDENTIFIER, "&lt;" + CUSTOM_TYPE_START_IDENTIFIER[1:]).replace(
        CUSTOM_TYPE_END_IDENTIFIER, "&lt;" + CUSTOM_TYPE_END_IDENTIFIER[1:]
    )


def json_reply(values: Mapping[str, Any]) -> str:
    return json.dumps(serialize_for_json(dict(values)), ensure_ascii=False, indent=2)


_WITHOUT: weakref.WeakKeyDictionary[type[Signature], dict[str, type[Signature]]] = weakref.WeakKeyDictionary()


def without_field(signature: type[Signature], name: str) -> type[Signature]:
    """``signature.delete(name)``, built once per signature class: DSPy builds a pydantic model per
    call (2 ms), and the field docs and schema caches key on the class it returns."""
    by_name = _WITHOUT.setdefault(signature, {})
    if name not in by_name:
        by_name[name] = signature.delete(name)
    return by_name[name]


_SCHEMAS: weakref.WeakKeyDictionary[type[Signature], dict[str, Any] | None] = weakref.WeakKeyDictionary()


def output_json_schema(signature: type[Signature]) -> dict[str, Any] | None:
    """The strict JSON schema of the signature's outputs, or None when an output is an open-ended dict.
    Built once per signature class (a pydantic model per call cost ~1 ms); treat it as read-only."""
    if signature in _SCHEMAS:
        return _SCHEMAS[signature]
    from dspy.adapters.json_adapter import _get_structured_outputs_response_format

    try:
        schema: dict[str, Any] | None = _get_structured_outputs_response_format(signature).model_json_schema()
    except ValueError:
        schema = None
    if schema is not None:
        schema = with_string_constraints(schema, signature)
    _SCHEMAS[signature] = schema
    return schema


# pydantic's string constraints and their JSON schema keywords (which grammar routes enforce).
_STRING_CONSTRAINTS = {"pattern": "pattern", "min_length": "minLength", "max_length": "maxLength"}


def with_string_constraints(schema: dict[str, Any], signature: type[Signature]) -> dict[str, Any]:
    """``schema`` with each string output's own constraints (``pattern``, ``minLength``, ``maxLength``).

    DSPy builds the output model from the bare annotations, so ``Annotated[str, StringConstraints(pattern=...)]``
    and ``dspy.OutputField(max_length=N)`` lose their constraints there; kept, a grammar (the embedded
    model, a llama.cpp server) makes the reply match them instead of leaving it to the model.
    """
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return schema
    constrained = dict(properties)
    for name, info in signature.output_fields.items():
        prop = properties.get(name)
        if not isinstance(prop, dict) or prop.get("type") != "string":
            continue
        own = {
            keyword: value
            for item in info.metadata
            for attribute, keyword in _STRING_CONSTRAINTS.items()
            if (value := getattr(item, attribute, None)) is not None
        }
        if own:
            constrained[name] = {**prop, **own}
    return {**schema, "properties": constrained}


def without_length_bounds(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without ``minLength``/``maxLength`` on its string outputs: for routes that check the schema
    strictly but not those keywords (OpenAI's strict mode refuses them); ``pattern`` stays."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return schema
    bare = {
        name: {k: v for k, v in prop.items() if k not in ("minLength", "maxLength")} if isinstance(prop, dict) else prop
        for name, prop in properties.items()
    }
    return {**schema, "properties": bare}
