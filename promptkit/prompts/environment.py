"""The sandboxed Jinja environment promptkit templates run in.

An ``ImmutableSandboxedEnvironment`` with ``StrictUndefined``, hardened further:

* any ``_private`` attribute, any attribute of a module, and ``str.format`` / ``format_map``
  raise :class:`TemplateSecurityError` (the stock sandbox returns an Undefined instead, which a
  template can test for and route around);
* ``lipsum``, ``cycler`` and ``joiner`` are removed from the globals;
* calling a module-level function of os, sys, subprocess, builtins & co. is refused;
* every ``{% for %}`` iterable is wrapped with a deadline-checking iterator (rewritten in
  :meth:`PromptEnvironment._parse`), every call checks the deadline, and ``*`` / ``**`` cannot
  build a value larger than the output budget: a template cannot spin or balloon without output;
* ``finalize`` escapes section tags in every interpolated value.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, MutableMapping
from types import ModuleType
from typing import Any, cast

from jinja2 import StrictUndefined, TemplateNotFound, nodes
from jinja2 import Template as JinjaTemplate
from jinja2.exceptions import TemplateSyntaxError
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel

from promptkit.errors import TemplateBudgetError, TemplateError, TemplateSecurityError
from promptkit.prompts import analysis
from promptkit.prompts.escaping import finalize_value
from promptkit.prompts.extension import BUDGET_ITER, PromptExtension
from promptkit.prompts.frontmatter import FrontMatter, parse_front_matter
from promptkit.prompts.inputs import InputSpec, is_dangerous
from promptkit.prompts.state import CURRENT_RENDER

_REMOVED_GLOBALS = ("lipsum", "cycler", "joiner")
_LOOP_ATTRIBUTES = frozenset(
    {"index", "index0", "revindex", "revindex0", "first", "last", "length", "depth", "depth0", "previtem", "nextitem"}
)
_FAST_ATTRIBUTES: dict[type, frozenset[str]] = {}


def _fast_attributes(cls: type) -> frozenset[str]:
    """Attributes of ``cls`` that are plain data: the fields of a pydantic model, the loop helpers."""
    names = _FAST_ATTRIBUTES.get(cls)
    if names is None:
        if issubclass(cls, BaseModel):
            names = frozenset(name for name in cls.model_fields if not name.startswith("_"))
        elif issubclass(cls, LoopContext):
            names = _LOOP_ATTRIBUTES
        else:
            names = frozenset()
        _FAST_ATTRIBUTES[cls] = names
    return names


_MAX_EXPONENT = 4096  # 10 ** 4096 is already 4 KB of digits; bigger exponents only burn CPU


class TemplateMeta:
    """What promptkit knows about a compiled template beyond Jinja's view of it.

    ``extends`` is the literal parent name of ``{% extends "..." %}`` (None when there is none
    or it is computed); ``optional`` are the inputs with defaults, applied when the template is
    included by another one (see :meth:`PromptJinjaTemplate.new_context`).
    """

    __slots__ = ("extends", "front", "has_messages", "optional", "referenced", "source")

    def __init__(
        self,
        source: str,
        front: FrontMatter,
        *,
        has_messages: bool,
        referenced: list[str | None],
        extends: str | None,
        optional: list[InputSpec],
    ) -> None:
        self.source = source
        self.front = front
        self.has_messages = has_messages
        self.referenced = referenced
        self.extends = extends
        self.optional = optional


class PromptJinjaTemplate(JinjaTemplate):
    """A compiled Jinja template that carries its :class:`TemplateMeta`."""

    prompt_meta: TemplateMeta

    def new_context(
        self,
        vars: dict[str, Any] | None = None,
        shared: bool = False,
        locals: Mapping[str, Any] | None = None,
    ) -> Context:
        # An {% include %} (or import "with context") passes the includer's variables: fill in the
        # defaults of this template's optional inputs the includer does not have, as a top-level
        # render would. A copy, because Jinja may hand over the includer's own dict.
        missing = [
            spec
            for spec in self.prompt_meta.optional
            if (vars is None or spec.name not in vars) and (locals is None or spec.name not in locals)
        ]
        if missing:
            vars = {**{spec.name: spec.default_value() for spec in missing}, **(vars or {})}
        return super().new_context(vars, shared, locals)


class PromptEnvironment(ImmutableSandboxedEnvironment):
    """The Jinja environment behind a :class:`promptkit.prompts.TemplateEnv`."""

    template_class = PromptJinjaTemplate
    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, *, max_bytes: int, **kwargs: Any) -> None:
        super().__init__(
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=True,
            cache_size=400,
            finalize=finalize_value,
            extensions=[PromptExtension],
            **kwargs,
        )
        self.max_bytes = max_bytes
        for name in _REMOVED_GLOBALS:
            self.globals.pop(name, None)
        # Globals are called from templates; identity-allowlist them past the builtins denylist (dict).
        self._allowed_callables = {id(v) for v in self.globals.values()}
        self._hooks = self.extensions[PromptExtension.identifier]
        self._compiling = threading.local()  # names being compiled on this thread: catches circular extends

    # -- sandbox hooks -------------------------------------------------------------------
    def getattr(self, obj: Any, attribute: str) -> Any:
        # Fast path for what prompt templates read most: pydantic fields and loop helpers. Only
        # non-callable values take it, so a bound method (say a stored str.format) still goes
        # through every check below.
        if attribute in _fast_attributes(type(obj)):
            value = getattr(obj, attribute)
            if not callable(value):
                return value
        return super().getattr(obj, attribute)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr.startswith("_"):
            raise TemplateSecurityError(
                f"access to the private attribute {attr!r} of a {type(obj).__name__} is not allowed",
                hint="templates may only read the data they are given",
            )
        if isinstance(obj, ModuleType):
            raise TemplateSecurityError(f"access to attribute {attr!r} of a module is not allowed")
        return super().is_safe_attribute(obj, attr, value)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise TemplateSecurityError(
            f"access to attribute {attribute!r} of a {type(obj).__name__} is not allowed",
            hint="templates may only read data; methods that change values or expose internals are blocked",
        )

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            # str.format reaches attributes through format fields (CVE-2024-56326, CVE-2025-27516).
            raise TemplateSecurityError(
                f"str.{getattr(value, '__name__', 'format')} is not allowed in templates",
                hint="use the |format filter ('%s' style) or plain {{ }} interpolation",
            )
        return None

    def is_safe_callable(self, obj: Any) -> bool:
        if id(obj) not in self._allowed_callables and is_dangerous(obj):
            return False
        return super().is_safe_callable(obj)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(__obj, "__self__", None) is __self._hooks:
            # The message / loop hooks: unreachable from template source, and called per message and loop.
            return __obj(*args)
        state = CURRENT_RENDER.get()
        if state is not None:
            state.check_deadline()
        if not __self.is_safe_callable(__obj):
            name = getattr(__obj, "__name__", "")
            raise TemplateSecurityError(f"calling {type(__obj).__name__} {name!r} is not allowed")
        return __context.call(__obj, *args, **kwargs)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        state = CURRENT_RENDER.get()
        limit = state.max_bytes if state is not None else self.max_bytes
        if operator == "*":
            seq, count = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(seq, str | list | tuple) and isinstance(count, int) and len(seq) * count > limit:
                raise TemplateBudgetError(f"'*' would build a value of {len(seq) * count} items (limit {limit})")
        elif operator == "**" and isinstance(right, int) and right > _MAX_EXPONENT and left not in (0, 1, -1):
            raise TemplateBudgetError(f"exponent {right} is too large (limit {_MAX_EXPONENT})")
        return super().call_binop(context, operator, left, right)

    # -- compiling -----------------------------------------------------------------------
    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        ast = super()._parse(source, name, filename)
        label = name or "<inline>"
        analysis.check_security(ast, label)
        # Wrap every loop iterable so nested loops that produce no output still hit the deadline.
        for loop in ast.find_all(nodes.For):
            iterable = cast(nodes.Expr, loop.iter)
            loop.iter = self._hooks.call_method(BUDGET_ITER, [iterable], lineno=loop.lineno)
        return ast

    def compile_prompt(
        self,
        source: str,
        name: str,
        filename: str | None,
        globals: MutableMapping[str, Any] | None = None,
        uptodate: Callable[[], bool] | None = None,
    ) -> PromptJinjaTemplate:
        """Parse, check and compile a template; the loader and ``from_string`` both come here."""
        front = parse_front_matter(source, name)
        compiling: list[str] = self._compiling.__dict__.setdefault("names", [])
        if filename is not None and name in compiling:
            chain = " -> ".join([*compiling[compiling.index(name) :], name])
            raise TemplateError(f"templates extend each other in a circle: {chain}", template=name)
        compiling.append(name)
        try:
            return self._compile_checked(source, name, filename, front, globals, uptodate)
        finally:
            compiling.pop()

    def _compile_checked(
        self,
        source: str,
        name: str,
        filename: str | None,
        front: FrontMatter,
        globals: MutableMapping[str, Any] | None,
        uptodate: Callable[[], bool] | None,
    ) -> PromptJinjaTemplate:
        try:
            ast = self._parse(source, name, filename)
        except TemplateSyntaxError as exc:
            raise TemplateError(exc.message or str(exc), template=name, line=exc.lineno) from None
        has_messages = analysis.check_messages(ast, name)
        extends = analysis.extends_name(ast)
        inherited: dict[str, InputSpec] = {}
        if extends:
            try:
                inherited = self.effective_inputs(cast(PromptJinjaTemplate, self.get_template(extends)))
            except TemplateNotFound:
                raise TemplateError(
                    f"extends {extends!r}, which was not found in the template roots", template=name
                ) from None
        inputs = {**inherited, **front.inputs}
        analysis.check_declared(ast, name, inputs, self.globals)
        try:
            code = self.compile(ast, name, filename)
        except TemplateSyntaxError as exc:
            raise TemplateError(exc.message or str(exc), template=name, line=exc.lineno) from None
        template = self.template_class.from_code(self, code, self.make_globals(globals), uptodate)
        assert isinstance(template, PromptJinjaTemplate)
        template.prompt_meta = TemplateMeta(
            source,
            front,
            has_messages=has_messages,
            referenced=list(analysis.referenced_templates(ast)),
            extends=extends,
            optional=[spec for spec in inputs.values() if not spec.required],
        )
        return template

    def effective_inputs(self, template: PromptJinjaTemplate) -> dict[str, InputSpec]:
        """The inputs a template declares plus those of the templates it extends (its own win)."""
        chain: list[PromptJinjaTemplate] = []
        current: PromptJinjaTemplate | None = template
        while current is not None and current not in chain:
            chain.append(current)
            parent = current.prompt_meta.extends
            current = cast(PromptJinjaTemplate, self.get_template(parent)) if parent else None
        inputs: dict[str, InputSpec] = {}
        for member in reversed(chain):
            inputs.update(member.prompt_meta.front.inputs)
        return inputs
