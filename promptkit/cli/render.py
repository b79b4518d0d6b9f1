"""``promptkit render`` and ``promptkit templates``: templates without any LM (and without importing DSPy)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from promptkit.cli._common import handle_errors, load_vars_file, out, parse_assignments
from promptkit.errors import InputError


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
        # An undeclared name stays a string: validation then reports it as unknown, naming the template.
        values[key] = spec.parse(raw, template=tpl.name) if spec else raw
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
        inputs = ", ".join(
            f"{spec.name}: {spec.type_name}{'' if spec.required else '?'}" for spec in info.inputs.values()
        )
        table.add_row(info.name, info.root, inputs, info.description or "")
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command("render")(render)
    app.command("templates")(templates)
