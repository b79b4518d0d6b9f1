"""Declared template inputs and validation of values before anything is rendered.

Their types are the names of :mod:`promptkit.prompts.types`. ``None`` is accepted exactly when the
input's default is ``None``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from types import BuiltinFunctionType, FunctionType, MethodType, ModuleType
from typing import Any

from promptkit.errors import TemplateInputError, TemplateSecurityError
from promptkit.prompts.types import InputType, TypeMismatch, parse_text

# Values that would hand a template the keys to the process (Haystack's lesson, PR #12312).
_DENIED_MODULES = frozenset(
    {"os", "posix", "nt", "sys", "subprocess", "builtins", "shutil", "importlib", "io", "_io", "ctypes", "pickle"}
)
_MAX_DEPTH = 32


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
        """Turn a command-line string (``--var name=text``) into a value of this input's type (:func:`parse_text`)."""
        try:
            return parse_text(self.type, text)
        except (ValueError, TypeMismatch):
            raise TemplateInputError(
                f"input {self.name!r} expected {self.type.name}, got {text[:40]!r}",
                template=template,
                variable=self.name,
                expected=self.type.name,
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
