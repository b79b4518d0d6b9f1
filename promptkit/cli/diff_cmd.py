"""``promptkit diff A B``: per predictor, how B's prompts differ from A's, as unified diffs.

A and B are programs (a compiled ``program.json`` or compile DIR, ``module:attr``, ``technique:ID`` ...)
or directories ``promptkit export`` wrote, in any mix. Exit codes as diff(1): 0 the prompts are the
same, 1 they differ, 2 trouble (a bad reference, an unreadable template).
"""

from __future__ import annotations

import json

import typer

from promptkit.cli._common import out

SIDE_HELP = "an exported templates DIR, program.json / compile DIR, module:attr, path.py:attr or technique:ID"


def diff_command(
    a: str = typer.Argument(..., help=SIDE_HELP),
    b: str = typer.Argument(..., help=SIDE_HELP),
    as_json: bool = typer.Option(False, "--json", help="one JSON object: predictor -> status and diffs"),
) -> None:
    """Show what changed per predictor (instructions, demos, template text) from A to B; exit 1 when anything did."""
    from promptkit.programs.diff import diff_prompts, format_diff

    results = diff_prompts(a, b)
    if as_json:
        typer.echo(json.dumps({r.name: {"status": r.status, "diffs": r.diffs} for r in results}, ensure_ascii=False))
    else:
        out.print(format_diff(results), markup=False, highlight=False, end="")
    if any(r.status != "same" for r in results):
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    app.command("diff")(diff_command)
