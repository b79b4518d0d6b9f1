"""Chain inputs: their declared types, checking values, coercing command-line text, type compatibility.

A chain input declares a type name: ``str``, ``int``, ``float``, ``bool``, ``list``, ``dict`` or
``any``. The same names (plus ``list[T]`` and pydantic model paths, which templates may declare)
are used by the compile-time check that a value flowing into a template input has a type the
template accepts (:func:`compatible`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from promptkit.chains.errors import ChainSpecError
from promptkit.errors import InputError

INPUT_TYPES = ("str", "int", "float", "bool", "list", "dict", "any")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Keyword arguments of Chain.run(); a chain input cannot take one of these names.
RESERVED_NAMES = frozenset({"lm", "values", "max_workers"})
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _accepts(type_name: str, value: Any) -> bool:
    checks: dict[str, Any] = {
        "str": lambda v: isinstance(v, str),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool),
        "list": lambda v: isinstance(v, list | tuple),
        "dict": lambda v: isinstance(v, Mapping),
        "any": lambda v: True,
    }
    return bool(checks[type_name](value))


@dataclass(frozen=True)
class ChainInput:
    """One declared input of a chain."""

    name: str
    type: str = "str"
    description: str = ""
    required: bool = True
    default: Any = None

    def __post_init__(self) -> None:
        if not IDENTIFIER.match(self.name) or self.name in RESERVED_NAMES:
            raise ChainSpecError(
                f"chain input name {self.name!r} is not allowed",
                key_path=("inputs", self.name),
                hint="use a letter-first identifier other than " + ", ".join(sorted(RESERVED_NAMES)),
            )
        if self.type not in INPUT_TYPES:
            raise ChainSpecError(
                f"chain input {self.name!r} has unknown type {self.type!r}",
                key_path=("inputs", self.name, "type"),
                hint="use one of " + ", ".join(INPUT_TYPES),
            )
        if self.default is not None and not _accepts(self.type, self.default):
            raise ChainSpecError(
                f"the default of chain input {self.name!r} is not a {self.type}",
                key_path=("inputs", self.name, "default"),
            )

    def check(self, value: Any, chain: str) -> Any:
        if not _accepts(self.type, value):
            raise InputError(
                f"chain {chain!r}: input {self.name!r} expected {self.type}, got {type(value).__name__}",
                hint=f"pass a {self.type} for {self.name}",
            )
        return list(value) if isinstance(value, tuple) else value

    def coerce(self, text: str, chain: str) -> Any:
        """The value of ``--input name=text`` as this input's type."""
        try:
            if self.type in ("str", "any"):
                return text
            if self.type == "int":
                return int(text)
            if self.type == "float":
                return float(text)
            if self.type == "bool":
                lowered = text.strip().lower()
                if lowered in _TRUE | _FALSE:
                    return lowered in _TRUE
                raise ValueError(text)
        except ValueError:
            raise InputError(
                f"chain {chain!r}: --input {self.name}={text[:60]!r} is not a valid {self.type}",
                hint=f"give a {self.type} value",
            ) from None
        import yaml  # list and dict inputs: YAML or JSON text on the command line

        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            example = "[1, 2]" if self.type == "list" else '{"a": 1}'
            raise InputError(
                f"chain {chain!r}: --input {self.name} is not valid YAML/JSON for a {self.type}: {exc}",
                hint=f"write the {self.type} as JSON, e.g. {example}",
            ) from None
        return self.check(value, chain)


def parse_inputs(declared: Any) -> dict[str, ChainInput]:
    """Chain inputs from a list of names / :class:`ChainInput` objects, or a mapping name -> spec."""
    if declared is None:
        return {}
    items: list[ChainInput] = []
    if isinstance(declared, Mapping):
        for name, spec in declared.items():
            items.append(_input_from_spec(str(name), spec))
    elif isinstance(declared, str):
        raise ChainSpecError(
            f"chain inputs must be a list of names, got the string {declared!r}",
            key_path=("inputs",),
            hint=f"write inputs=[{declared!r}]",
        )
    else:
        for item in declared:
            if isinstance(item, ChainInput):
                items.append(item)
            elif isinstance(item, str):
                items.append(ChainInput(item))
            else:
                raise ChainSpecError(
                    f"a chain input must be a name or a ChainInput, got {type(item).__name__}",
                    key_path=("inputs",),
                )
    result: dict[str, ChainInput] = {}
    for item in items:
        if item.name in result:
            raise ChainSpecError(f"chain input {item.name!r} is declared twice", key_path=("inputs", item.name))
        result[item.name] = item
    return result


_INPUT_KEYS = ("type", "description", "required", "default")


def _input_from_spec(name: str, spec: Any) -> ChainInput:
    if isinstance(spec, ChainInput):
        return spec
    if spec is None:
        return ChainInput(name)
    if isinstance(spec, str):  # shorthand: `feedback: str`
        return ChainInput(name, type=spec)
    if not isinstance(spec, Mapping):
        raise ChainSpecError(
            f"chain input {name!r} must be a type name or a mapping {{type, description, required, default}}",
            key_path=("inputs", name),
        )
    unknown = [key for key in spec if key not in _INPUT_KEYS]
    if unknown:
        raise ChainSpecError(
            f"chain input {name!r} has unknown key {unknown[0]!r}",
            key_path=("inputs", name, unknown[0]),
            hint="input keys are: " + ", ".join(_INPUT_KEYS),
        )
    has_default = "default" in spec
    required = spec.get("required", not has_default)
    if not isinstance(required, bool):
        raise ChainSpecError(
            f"chain input {name!r}: required must be true or false", key_path=("inputs", name, "required")
        )
    return ChainInput(
        name,
        type=str(spec.get("type", "str")),
        description=str(spec.get("description") or ""),
        required=required,
        default=spec.get("default"),
    )


def _list_item(type_name: str) -> str | None:
    """``list[str]`` -> ``str``; ``list`` -> None (items of any type)."""
    if type_name.startswith("list[") and type_name.endswith("]"):
        return type_name[5:-1]
    return None


def _is_model(type_name: str) -> bool:
    return type_name not in INPUT_TYPES and (":" in type_name or "." in type_name)


def compatible(source: str, target: str) -> bool:
    """Whether a value of type ``source`` may be given to a template input declared ``target``.

    ``any`` on either side defers to the render-time check. Models accept dicts (validated when the
    template renders); ``float`` accepts ``int``.
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
    """The chain type name of the values a JSON schema describes (``any`` when it does not say)."""
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


def json_path_type(schema: Any, path: tuple[str, ...]) -> str:
    """The type of ``value[path[0]][path[1]]...`` for a value of ``schema`` (``any`` when unknown)."""
    node = schema
    for key in path:
        if not isinstance(node, Mapping):
            return "any"
        properties = node.get("properties")
        if isinstance(properties, Mapping) and key in properties:
            node = properties[key]
        elif isinstance(node.get("additionalProperties"), Mapping):
            node = node["additionalProperties"]
        else:
            return "any"
    return json_type_name(node)


__all__ = [
    "INPUT_TYPES",
    "RESERVED_NAMES",
    "ChainInput",
    "compatible",
    "json_path_type",
    "json_type_name",
    "parse_inputs",
]
