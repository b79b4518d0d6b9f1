"""``promptkit run PROGRAM --input k=v [--input k=@file] [--json]``: one prediction from any program.

PROGRAM is what ``eval run`` accepts, a compiled ``program.json`` (or the ``--out`` DIR of ``promptkit
compile``) included. The inputs are checked against the program's ``forward`` before any LM call.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import typer

from promptkit.cli._common import ROUTER_HELP, out, parse_assignments
from promptkit.cli.export_cmd import TEMPLATES_HELP
from promptkit.errors import InputError


def check_inputs(program: Any, inputs: dict[str, Any], ref: str) -> None:
    """Missing or unknown ``--input`` names are an error naming them (when the program's signature says)."""
    # The class's forward, not the instance's: DSPy warns whenever module.forward is looked up on an instance.
    forward = getattr(type(program), "forward", None)
    try:
        params = list(inspect.signature(forward if forward is not None else program).parameters.values())
    except (TypeError, ValueError):
        return
    if forward is not None:
        params = params[1:]  # self
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return
    names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    required = [p.name for p in params if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    missing = [n for n in required if n not in inputs]
    unknown = [n for n in inputs if n not in names]
    if missing or unknown:
        problems = "; ".join(
            filter(None, [f"missing {missing}" if missing else "", f"unknown {unknown}" if unknown else ""])
        )
        raise InputError(
            f"program {ref!r} takes inputs {names}: {problems}",
            hint=" ".join(f"--input {n}=..." for n in (missing or names)),
        )


def run_command(
    program: str = typer.Argument(..., help="program.json / compile DIR, module:attr, path.py:attr, technique:ID"),
    input_values: list[str] = typer.Option([], "--input", "-i", help="an input: name=value or name=@file"),
    as_json: bool = typer.Option(False, "--json", help="print the prediction as one JSON object"),
    model: str | None = typer.Option(None, "--model", help="LM route (default: configured / embedded model)"),
    router: Path | None = typer.Option(None, "--router", help=ROUTER_HELP),
    templates: Path | None = typer.Option(None, "--templates", help=TEMPLATES_HELP),
) -> None:
    """Run PROGRAM once on --input values and print its prediction."""
    import dspy

    from promptkit.cli.eval_cmd import _dspy_overrides, _lm_for
    from promptkit.evaluation.results import to_jsonable
    from promptkit.programs.resolve import resolve_program
    from promptkit.programs.templates_dir import apply_templates
    from promptkit.redaction import redact

    inputs = parse_assignments(input_values, flag="--input")
    resolved = resolve_program(program)
    if templates is not None:
        resolved = apply_templates(resolved, templates)
    check_inputs(resolved, inputs, program)
    lm = _lm_for(model, router)
    with dspy.context(**_dspy_overrides(lm)):
        prediction = resolved(**inputs)
    fields = prediction.toDict() if hasattr(prediction, "toDict") else {"output": prediction}
    if as_json:
        typer.echo(redact(json.dumps(to_jsonable(fields), ensure_ascii=False)))
        return
    for name, value in fields.items():
        out.print(f"[bold]{name}:[/] ", end="", highlight=False)
        out.print(redact(str(value)), markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
