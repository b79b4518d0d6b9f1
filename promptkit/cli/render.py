"""``promptkit render`` and ``promptkit templates``: templates without any LM (and without importing DSPy)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from promptkit.cli._common import handle_errors, load_vars_file, out, parse_assignments
from promptkit.cli.export_cmd import TEMPLATES_HELP
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
    template: Annotated[
        str | None, typer.Argument(help="bundled template name (e.g. structured.j2) or a file path")
    ] = None,
    program: Annotated[
        str | None,
        typer.Option(
            "--program",
            help="render a program's predictors instead: module:attr, path.py:attr, "
            "technique:ID, chain .yaml or compiled program.json",
        ),
    ] = None,
    var: Annotated[list[str] | None, typer.Option("--var", help="KEY=VALUE (VALUE=@file reads a file)")] = None,
    vars_file: Annotated[Path | None, typer.Option("--vars", help="YAML or JSON file of variables")] = None,
    fmt: Annotated[str, typer.Option("--format", help="messages | text | json")] = "messages",
    template_dir: Annotated[
        list[Path] | None, typer.Option("--template-dir", help="extra template directory (repeatable)")
    ] = None,
    templates: Annotated[Path | None, typer.Option("--templates", help="with --program: " + TEMPLATES_HELP)] = None,
) -> None:
    """Render a template (or, with --program, every predictor of a program) and print the messages. No LM is called."""
    if fmt not in {"messages", "text", "json"}:
        raise InputError(f"--format {fmt!r} is not one of messages, text, json", hint="use --format text")
    if (template is None) == (program is None):
        raise InputError(
            "give either a TEMPLATE or --program PROGRAM, not both or neither",
            hint="promptkit render structured.j2, or promptkit render --program technique:cot_zeroshot",
        )
    if templates is not None and program is None:
        raise InputError(
            "--templates takes a program's exported templates: give --program PROGRAM too",
            hint="promptkit render --program runs/compiled --templates exported/",
        )
    if program is not None:
        given = load_vars_file(vars_file) if vars_file else {}
        _render_program(program, {**given, **parse_assignments(var or [], flag="--var")}, fmt, templates)
        return
    assert template is not None  # checked above: exactly one of the two
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


def _render_program(ref: str, values: dict[str, Any], fmt: str, templates: Path | None) -> None:
    from promptkit.programs.render import render_program
    from promptkit.programs.resolve import resolve_program
    from promptkit.programs.templates_dir import apply_templates
    from promptkit.prompts.rendering import messages_to_text

    resolved = resolve_program(ref)
    if templates is not None:
        resolved = apply_templates(resolved, templates)
    rendered = render_program(resolved, **values)
    if fmt == "json":
        out.print_json(json.dumps([r.to_dict() for r in rendered], ensure_ascii=False))
        return
    for r in rendered:
        about = f"inputs: {', '.join(r.inputs)} -> outputs: {', '.join(r.outputs)}"
        if r.placeholders:
            about += f"; placeholders: {', '.join(r.placeholders)}"
        if fmt == "text":
            out.print(f"### {r.name} ({about})\n", markup=False, highlight=False)
            out.print(messages_to_text(r.messages) + "\n", markup=False, highlight=False)
            continue
        out.rule(f"[bold]predictor {escape(r.name)}[/] ({escape(about)})", align="left")
        for message in r.messages:
            out.rule(f"[bold]{message['role']}[/]", align="left", characters="-")
            out.print(message["content"], markup=False, highlight=False)


@handle_errors
def templates(
    template_dir: Annotated[
        list[Path] | None, typer.Option("--template-dir", help="extra template directory (repeatable)")
    ] = None,
    templates: Annotated[Path | None, typer.Option("--templates", help="with --program: " + TEMPLATES_HELP)] = None,
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
