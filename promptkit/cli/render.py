"""``promptkit render`` and ``promptkit templates``: templates without any LM (and without importing DSPy)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from promptkit.cli._common import handle_errors, load_vars_file, out, parse_assignments
from promptkit.errors import InputError, TemplateInputError

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def coerce(template: str, name: str, type_name: str, raw: str) -> Any:
    """Turn the string of ``--var name=raw`` into the type the template declares for ``name``."""
    try:
        if type_name == "str":
            return raw
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
        if type_name == "bool":
            lowered = raw.strip().lower()
            if lowered in _TRUE | _FALSE:
                return lowered in _TRUE
            raise ValueError(raw)
    except ValueError:
        raise TemplateInputError(
            f"--var {name}={raw!r} is not a valid {type_name}",
            template=template,
            variable=name,
            expected=type_name,
            hint=f"give a {type_name} value, or use --vars FILE.yaml for structured values",
        ) from None
    import yaml  # lists, dicts and models: accept YAML/JSON on the command line

    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def _env_for(template: str, template_dirs: list[Path]) -> tuple[Any, str]:
    """The template environment, and the name to load. A file path adds its folder as a root."""
    from promptkit.config import load_settings
    from promptkit.prompts import TemplateEnv

    settings = load_settings()
    roots = [str(d) for d in template_dirs] + list(settings.template_dirs)
    name = template
    path = Path(template)
    if path.suffix and path.is_file():
        roots.insert(0, str(path.resolve().parent))
        name = path.name
    env = TemplateEnv(roots, max_bytes=settings.render_max_bytes, timeout=settings.render_timeout)
    return env, name


@handle_errors
def render(
    template: Annotated[str, typer.Argument(help="bundled template name (e.g. structured.j2) or a file path")],
    var: Annotated[list[str] | None, typer.Option("--var", help="KEY=VALUE (VALUE=@file reads a file)")] = None,
    vars_file: Annotated[Path | None, typer.Option("--vars", help="YAML or JSON file of variables")] = None,
    fmt: Annotated[str, typer.Option("--format", help="messages | text | json")] = "messages",
    template_dir: Annotated[
        list[Path] | None, typer.Option("--template-dir", help="extra template directory (repeatable)")
    ] = None,
) -> None:
    """Render a template with its declared inputs and print the messages."""
    if fmt not in {"messages", "text", "json"}:
        raise InputError(f"--format {fmt!r} is not one of messages, text, json", hint="use --format text")
    env, name = _env_for(template, template_dir or [])
    tpl = env.get(name)
    values: dict[str, Any] = load_vars_file(vars_file) if vars_file else {}
    for key, raw in parse_assignments(var or [], flag="--var").items():
        spec = tpl.inputs.get(key)
        values[key] = coerce(tpl.name, key, spec.type if spec else "str", raw)
    messages = tpl.render_messages(values)
    if fmt == "json":
        out.print_json(json.dumps(messages, ensure_ascii=False))
    elif fmt == "text":
        out.print(tpl.render_text(values), markup=False, highlight=False)
    else:
        for message in messages:
            out.rule(f"[bold]{message['role']}[/]", align="left")
            out.print(message["content"], markup=False, highlight=False)


@handle_errors
def templates(
    template_dir: Annotated[
        list[Path] | None, typer.Option("--template-dir", help="extra template directory (repeatable)")
    ] = None,
) -> None:
    """List bundled and user templates with their declared inputs."""
    from rich.table import Table

    env, _ = _env_for("", template_dir or [])
    table = Table("template", "where", "inputs", "description", title="promptkit templates")
    for info in env.list_templates():
        inputs = ", ".join(f"{spec.name}: {spec.type}{'' if spec.required else '?'}" for spec in info.inputs.values())
        table.add_row(info.name, info.root, inputs, info.description or "")
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command("render")(render)
    app.command("templates")(templates)
