"""The one type-name system of templates and chains: the names, checking values, text from the command line.

Names: ``str``, ``int`` (not bool), ``float`` (int or float, not bool), ``bool``, ``list`` (list or
tuple), ``dict`` (any mapping), ``any``, ``list[T]`` for any of these, and a pydantic model given as
``module:Class`` or ``module.Class`` (an instance, or a mapping validated into one). Template inputs,
chain inputs and the chain's compile-time check that a step's output fits a template input
(:func:`compatible`) all use these names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from promptkit.yaml_files import parse_yaml_document

_BOOL_WORDS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False, "on": True, "off": False}


class TypeMismatch(Exception):
    """Internal: a value does not match its declared type. ``where`` is the path below the input."""

    def __init__(self, expected: str, got: str, where: str = "", detail: str = "") -> None:
        super().__init__(expected)
        self.expected = expected
        self.got = got
        self.where = where
        self.detail = detail


@dataclass(frozen=True)
class InputType:
    """A parsed type name. ``coerce`` returns the value (a model type may convert a mapping)."""

    name: str
    check: Callable[[Any], Any] = field(repr=False, compare=False)
    # any / list / dict values can hold arbitrary objects, so they get the dangerous-value scan.
    opaque: bool = False


def _simple(name: str, accepts: Callable[[Any], bool], *, opaque: bool = False) -> InputType:
    def check(value: Any) -> Any:
        if not accepts(value):
            raise TypeMismatch(name, type(value).__name__)
        return value

    return InputType(name, check, opaque)


_SIMPLE: dict[str, InputType] = {
    "str": _simple("str", lambda v: isinstance(v, str)),
    "int": _simple("int", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "float": _simple("float", lambda v: isinstance(v, int | float) and not isinstance(v, bool)),
    "bool": _simple("bool", lambda v: isinstance(v, bool)),
    "list": _simple("list", lambda v: isinstance(v, list | tuple), opaque=True),
    "dict": _simple("dict", lambda v: isinstance(v, Mapping), opaque=True),
    "any": InputType("any", lambda v: v, opaque=True),
}
TYPE_NAMES = (*_SIMPLE, "list[T]", "module:Model")


def _model_type(name: str, model: type[BaseModel]) -> InputType:
    def check(value: Any) -> Any:
        if isinstance(value, model):
            return value
        if not isinstance(value, Mapping):
            raise TypeMismatch(name, type(value).__name__)
        try:
            return model.model_validate(dict(value))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
            raise TypeMismatch(name, "an invalid value", where, err["msg"]) from None

    return InputType(name, check)


def _list_of(item: InputType) -> InputType:
    name = f"list[{item.name}]"

    def check(value: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise TypeMismatch(name, type(value).__name__)
        converted: list[Any] | None = None
        for index, element in enumerate(value):
            try:
                new = item.check(element)
            except TypeMismatch as exc:
                raise TypeMismatch(exc.expected, exc.got, f"[{index}]{exc.where}", exc.detail) from None
            if new is not element and converted is None:
                converted = list(value[:index])
            if converted is not None:
                converted.append(new)
        return value if converted is None else converted

    return InputType(name, check, item.opaque)


def import_model(path: str) -> type[BaseModel]:
    """Import ``module:Class`` or ``module.Class`` and check it is a pydantic model. Raises ValueError."""
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ValueError(f"{path!r} is not a type name or a 'module:Class' path")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import module {module_name!r} for type {path!r}: {exc}") from None
    model = getattr(module, attr, None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise ValueError(f"{path!r} is not a pydantic model class")
    return model


def parse_type(text: str) -> InputType:
    """Parse a declared type name; raises ValueError naming the accepted types."""
    text = text.strip()
    if text in _SIMPLE:
        return _SIMPLE[text]
    if text.startswith("list[") and text.endswith("]"):
        return _list_of(parse_type(text[5:-1]))
    if ":" in text or "." in text:
        return _model_type(text, import_model(text))
    raise ValueError(f"unknown type {text!r}; use one of {', '.join(TYPE_NAMES)}")


def parse_text(kind: InputType, text: str) -> Any:
    """A command-line string (``--var`` / ``--input name=text``) as a value of type ``kind``.

    ``str`` keeps the text; ``int``/``float``/``bool`` parse it (bool: true/false, yes/no, on/off, 1/0);
    every other type reads it as YAML (so JSON works too), then checks it. Raises ValueError or TypeMismatch.
    """
    if kind.name == "str":
        return text
    if kind.name == "int":
        return int(text)
    if kind.name == "float":
        return float(text)
    if kind.name == "bool":
        lowered = text.strip().lower()
        if lowered not in _BOOL_WORDS:
            raise ValueError(text)
        return _BOOL_WORDS[lowered]
    value = parse_yaml_document(
        text, path="<command line>", error=lambda problem, _line: ValueError(f"not valid YAML/JSON: {problem}")
    ).data
    return kind.check(value)


def _list_item(type_name: str) -> str | None:
    """``list[str]`` -> ``str``; ``list`` -> None (items of any type)."""
    if type_name.startswith("list[") and type_name.endswith("]"):
        return type_name[5:-1]
    return None


def _is_model(type_name: str) -> bool:
    return type_name not in _SIMPLE and (":" in type_name or "." in type_name)


def compatible(source: str, target: str) -> bool:
    """Whether a value of type ``source`` may be given to an input declared ``target``.

    ``any`` on either side defers to the check when the value arrives. Models accept dicts (validated
    then); ``float`` accepts ``int``.
    """
    if source == "any" or target == "any" or source == target:
        return True
    if target == "float":
        return source == "int"
    if _is_model(target):
        return source == "dict" or _is_model(source)
    if target == "dict":
        return _is_model(source)
    if target == "list" or _list_item(target) is not None:
        if source != "list" and _list_item(source) is None:
            return False
        source_item, target_item = _list_item(source), _list_item(target)
        if source_item is None or target_item is None:
            return True
        return compatible(source_item, target_item)
    return False


def json_type_name(schema: Any) -> str:
    """The type name of the values a JSON schema describes (``any`` when it does not say)."""
    if not isinstance(schema, Mapping):
        return "any"
    kind = schema.get("type")
    names = {"object": "dict", "string": "str", "integer": "int", "number": "float", "boolean": "bool"}
    if kind == "array":
        items = schema.get("items")
        item = json_type_name(items) if isinstance(items, Mapping) else "any"
        return "list" if item == "any" else f"list[{item}]"
    if isinstance(kind, str) and kind in names:
        return names[kind]
    return "any"


__all__ = [
    "TYPE_NAMES",
    "InputType",
    "TypeMismatch",
    "compatible",
    "import_model",
    "json_type_name",
    "parse_text",
    "parse_type",
]
