"""Checks made on a template's AST when it is loaded, before it can ever render.

* sandbox escapes that are visible in the source (``config``, ``self._TemplateReference__context``,
  ``x.__class__``, ``|attr('__globals__')``) -> TemplateSecurityError;
* ``{% message %}`` blocks where Jinja would render them out of order, nested, or with text
  outside them -> TemplateError;
* variables the template uses but does not declare -> TemplateInputError.

Runtime checks in the environment back these up for whatever the source cannot show.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

from jinja2 import meta, nodes

from promptkit.errors import TemplateError, TemplateInputError, TemplateSecurityError
from promptkit.prompts.extension import message_role

# Jinja/Flask names used in published sandbox escapes; a prompt template never needs them.
FORBIDDEN_NAMES = frozenset({"config", "request", "lipsum", "cycler", "joiner"})
_BUFFERING: dict[type[nodes.Node], str] = {
    nodes.Macro: "a macro",
    nodes.CallBlock: "a {% call %} block",
    nodes.AssignBlock: "a {% set %} block",
    nodes.FilterBlock: "a {% filter %} block",
}


def _is_private(name: object) -> bool:
    return isinstance(name, str) and name.startswith("_")


def check_security(ast: nodes.Template, template: str) -> None:
    """Refuse forbidden globals and any ``_private`` attribute named in the source."""
    for node in ast.find_all((nodes.Name, nodes.Getattr, nodes.Getitem, nodes.Filter)):
        bad: str | None = None
        if isinstance(node, nodes.Name) and node.name in FORBIDDEN_NAMES:
            bad = f"the name {node.name!r} is not available in promptkit templates"
        elif isinstance(node, nodes.Getattr) and _is_private(node.attr):
            bad = f"access to the private attribute {node.attr!r} is not allowed"
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and _is_private(node.arg.value):
            bad = f"access to the private item {node.arg.value!r} is not allowed"
        elif (
            isinstance(node, nodes.Filter)
            and node.name == "attr"
            and node.args
            and isinstance(node.args[0], nodes.Const)
            and _is_private(node.args[0].value)
        ):
            bad = f"|attr({node.args[0].value!r}) is not allowed"
        if bad is not None:
            raise TemplateSecurityError(
                bad, template=template, line=node.lineno, hint="templates may only read the data they are given"
            )


def _walk_messages(
    node: nodes.Node, template: str, buffered_by: str | None, in_message: bool, stray: list[nodes.TemplateData]
) -> bool:
    """Validate message placement below ``node``; collect non-blank text outside messages. True if any message."""
    found = False
    for child in node.iter_child_nodes():
        role = message_role(child)
        if role is not None:
            if buffered_by is not None or in_message:
                where = "another message" if in_message else buffered_by
                raise TemplateError(
                    f"{{% message {role!r} %}} inside {where}: its text would be assigned to the wrong message",
                    template=template,
                    line=child.lineno,
                    hint="put {% message %} blocks at the top level (or directly in a {% block %}) of a template",
                )
            _walk_messages(child, template, buffered_by, True, stray)
            found = True
            continue
        if isinstance(child, nodes.TemplateData) and not in_message and child.data.strip():
            stray.append(child)
        inner_buffer = _BUFFERING.get(type(child)) or buffered_by
        found = _walk_messages(child, template, inner_buffer, in_message, stray) or found
    return found


def check_messages(ast: nodes.Template, template: str) -> bool:
    """Validate ``{% message %}`` placement; return True when the template has message blocks."""
    stray: list[nodes.TemplateData] = []
    has_messages = _walk_messages(ast, template, None, False, stray)
    extends = next(ast.find_all(nodes.Extends), None) is not None
    # In a child template, text outside {% block %}s is never rendered, so it cannot be stray.
    if has_messages and stray and not extends:
        text = stray[0].data.strip().splitlines()[0][:60]
        raise TemplateError(
            f"text {text!r} is outside any {{% message %}} block",
            template=template,
            line=stray[0].lineno,
            hint="move it into a message, or drop the message blocks to render a single user message",
        )
    return has_messages


def _first_use(ast: nodes.Template, name: str) -> int | None:
    for node in ast.find_all(nodes.Name):
        if node.name == name and node.ctx == "load":
            return node.lineno
    return None


def _top_level_names(body: list[nodes.Node]) -> set[str]:
    """Names a template binds at top level (imports, sets, macros): Jinja exports them to its blocks.

    ``find_undeclared_variables`` analyses each ``{% block %}`` as its own function, so a block
    using a top-level ``{% import %}`` would otherwise be reported as undeclared.
    """
    names: set[str] = set()
    for node in body:
        if isinstance(node, nodes.Import):
            names.add(node.target)
        elif isinstance(node, nodes.FromImport):
            names.update(n if isinstance(n, str) else n[1] for n in node.names)
        elif isinstance(node, nodes.Assign | nodes.AssignBlock):
            names.update(n.name for n in node.target.find_all(nodes.Name))
            if isinstance(node.target, nodes.Name):
                names.add(node.target.name)
        elif isinstance(node, nodes.Macro):
            names.add(node.name)
        elif isinstance(node, nodes.If):
            names |= _top_level_names(node.body) | _top_level_names(node.else_)
            for elif_ in node.elif_:
                names |= _top_level_names(elif_.body)
    return names


def check_declared(ast: nodes.Template, template: str, declared: Collection[str], env_globals: Collection[str]) -> None:
    """Every variable the template reads must be a declared input, a top-level name or an environment global."""
    undeclared = meta.find_undeclared_variables(ast) - set(declared) - set(env_globals) - _top_level_names(ast.body)
    if not undeclared:
        return
    lines = {name: _first_use(ast, name) for name in undeclared}
    name = min(undeclared, key=lambda n: (lines[n] or 0, n))
    others = sorted(undeclared - {name})
    also = f" (also undeclared: {', '.join(others)})" if others else ""
    raise TemplateInputError(
        f"uses variable {name!r}, which its front matter does not declare{also}",
        template=template,
        variable=name,
        expected="a declared input",
        line=lines[name],
        hint=f"add it under inputs: in the {{#--- ---#}} header, e.g. {name}: {{type: str}}",
    )


def extends_name(ast: nodes.Template) -> str | None:
    """The parent of a literal ``{% extends "name" %}``; None when there is none or it is computed."""
    for node in ast.find_all(nodes.Extends):
        if isinstance(node.template, nodes.Const) and isinstance(node.template.value, str):
            return node.template.value
    return None


def referenced_templates(ast: nodes.Template) -> Iterator[str | None]:
    """Names this template includes / extends / imports; None for a name computed at render time."""
    return meta.find_referenced_templates(ast)
