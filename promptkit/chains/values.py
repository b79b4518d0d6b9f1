"""Chain inputs: their declared types, checking values, coercing command-line text.

A chain input declares a type name of :mod:`promptkit.prompts.types` (``str``, ``int``, ``float``,
``bool``, ``list``, ``dict``, ``any``, ``list[T]``, a pydantic model path), the same names templates
declare; :func:`promptkit.prompts.types.compatible` checks a value flowing into a template input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from promptkit.chains.errors import ChainSpecError
from promptkit.errors import InputError
from promptkit.prompts.types import TYPE_NAMES, InputType, TypeMismatch, json_type_name, parse_text, parse_type

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Keyword arguments of Chain.run(); a chain input cannot take one of these names.
RESERVED_NAMES = frozenset({"lm", "values", "max_workers"})


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
        try:
            parsed = parse_type(self.type)
        except ValueError as exc:
            raise ChainSpecError(
                f"chain input {self.name!r} has unknown type {self.type!r}: {exc}",
                key_path=("inputs", self.name, "type"),
                hint="use one of " + ", ".join(TYPE_NAMES),
            ) from None
        object.__setattr__(self, "_parsed", parsed)
        if self.default is not None:
            try:
                parsed.check(self.default)
            except TypeMismatch:
                raise ChainSpecError(
                    f"the default of chain input {self.name!r} is not a {self.type}",
                    key_path=("inputs", self.name, "default"),
                ) from None

    @property
    def parsed_type(self) -> InputType:
        parsed: InputType = self.__dict__["_parsed"]
        return parsed

    def check(self, value: Any, chain: str) -> Any:
        try:
            checked = self.parsed_type.check(value)
        except TypeMismatch as exc:
            raise InputError(
                f"chain {chain!r}: input '{self.name}{exc.where}' expected {exc.expected}, got {exc.got}",
                hint=f"pass a {self.type} for {self.name}",
            ) from None
        return list(checked) if isinstance(checked, tuple) else checked

    def coerce(self, text: str, chain: str) -> Any:
        """The value of ``--input name=text`` as this input's type."""
        try:
            value = parse_text(self.parsed_type, text)
        except (ValueError, TypeMismatch) as exc:
            why = f": {exc}" if isinstance(exc, ValueError) and str(exc) != text else ""
            example = {"list": ", e.g. [1, 2]", "dict": ', e.g. {"a": 1}'}.get(self.type, "")
            raise InputError(
                f"chain {chain!r}: --input {self.name}={text[:60]!r} is not a valid {self.type}{why}",
                hint=f"give a {self.type} value" + (f" as YAML or JSON{example}" if example else ""),
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


__all__ = ["RESERVED_NAMES", "ChainInput", "json_path_type", "parse_inputs"]
