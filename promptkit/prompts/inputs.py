"""Declared template inputs: their types, and validation of values before anything is rendered.

Types: ``str``, ``int`` (not bool), ``float`` (int or float, not bool), ``bool``, ``list``
(list or tuple), ``dict`` (any mapping), ``any``, ``list[T]`` for any of these, and a pydantic
model given as ``module:Class`` or ``module.Class`` (an instance, or a mapping validated into
one). ``None`` is accepted exactly when the input's default is ``None``.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import BuiltinFunctionType, FunctionType, MethodType, ModuleType
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from promptkit.errors import TemplateInputError, TemplateSecurityError

# Values that would hand a template the keys to the process (Haystack's lesson, PR #12312).
_DENIED_MODULES = frozenset(
    {"os", "posix", "nt", "sys", "subprocess", "builtins", "shutil", "importlib", "io", "_io", "ctypes", "pickle"}
)
_MAX_DEPTH = 32
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


@dataclass(frozen=True)
class InputSpec:
    """One declared input of a template."""

    name: str
    type: InputType
    required: bool = True
    default: Any = None
    description: str = ""

    @property
    def type_name(self) -> str:
        return self.type.name

    def parse(self, text: str, *, template: str | None = None) -> Any:
        """Turn a command-line string (``--var name=text``) into a value of this input's type.

        ``str`` keeps the text; ``int``/``float``/``bool`` parse it (bool: true/false, yes/no, 1/0);
        every other type reads it as YAML (so JSON works too), then checks it like any value.
        """
        kind = self.type.name
        try:
            if kind == "str":
                return text
            if kind == "int":
                return int(text)
            if kind == "float":
                return float(text)
            if kind == "bool":
                lowered = text.strip().lower()
                if lowered not in _BOOL_WORDS:
                    raise ValueError(text)
                return _BOOL_WORDS[lowered]
            return self.type.check(yaml.safe_load(text))
        except (ValueError, yaml.YAMLError, TypeMismatch):
            raise TemplateInputError(
                f"input {self.name!r} expected {kind}, got {text[:40]!r}",
                template=template,
                variable=self.name,
                expected=kind,
                hint="bool takes true/false; list, dict and model inputs take YAML or JSON",
            ) from None

    def default_value(self) -> Any:
        # Copied so a caller mutating the validated values cannot change the next render.
        return copy.copy(self.default) if isinstance(self.default, list | dict) else self.default


def is_dangerous(value: Any) -> bool:
    """A module, or a function/class from os, sys, subprocess, builtins & co."""
    if isinstance(value, ModuleType):
        return True
    if isinstance(value, BuiltinFunctionType):
        owner = value.__self__
        return isinstance(owner, ModuleType) and owner.__name__.split(".")[0] in _DENIED_MODULES
    if isinstance(value, FunctionType | MethodType | type):
        module = getattr(value, "__module__", None) or ""
        return module.split(".")[0] in _DENIED_MODULES
    return False


def _refuse_dangerous(value: Any, template: str, where: str, depth: int = 0) -> None:
    if value is None or value.__class__ in (str, int, float, bool):
        return
    if is_dangerous(value):
        raise TemplateSecurityError(
            f"input {where!r} is a module or a system function ({type(value).__name__}); templates get data only",
            template=template,
            hint="pass the data the template needs, not modules or functions",
        )
    if depth >= _MAX_DEPTH:
        return
    if isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            _refuse_dangerous(item, template, f"{where}[{index}]", depth + 1)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _refuse_dangerous(item, template, f"{where}[{key!r}]", depth + 1)


def validate_values(template: str, specs: Mapping[str, InputSpec], values: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``values`` against ``specs``; return them with defaults filled in.

    Raises :class:`TemplateInputError` for a missing, unknown or mistyped input, and
    :class:`TemplateSecurityError` for a module or system function passed as a value.
    """
    if not isinstance(values, Mapping):
        raise TemplateInputError(
            f"values must be a mapping of input name -> value, got {type(values).__name__}",
            template=template,
            expected="mapping",
        )
    for name in values:
        if name not in specs:
            declared = ", ".join(specs) or "none"
            raise TemplateInputError(
                f"unknown input {name!r} (declared inputs: {declared})",
                template=template,
                variable=name,
                expected="one of the declared inputs",
                hint="remove it, or declare it in the template's front matter",
            )
    result: dict[str, Any] = {}
    for name, spec in specs.items():
        if name not in values:
            if spec.required:
                raise TemplateInputError(
                    f"missing required input {name!r} ({spec.type.name})",
                    template=template,
                    variable=name,
                    expected=spec.type.name,
                    hint=f"pass {name}=..." + (f" ({spec.description})" if spec.description else ""),
                )
            result[name] = spec.default_value()
            continue
        value = values[name]
        if value is None and spec.default is None and not spec.required:
            result[name] = None
            continue
        try:
            result[name] = spec.type.check(value)
        except TypeMismatch as exc:
            detail = f": {exc.detail}" if exc.detail else ""
            raise TemplateInputError(
                f"input '{name}{exc.where}' expected {exc.expected}, got {exc.got}{detail}",
                template=template,
                variable=name,
                expected=spec.type.name,
                hint=f"pass a {spec.type.name} for {name}",
            ) from None
        if spec.type.opaque:
            _refuse_dangerous(result[name], template, name)
    return result
