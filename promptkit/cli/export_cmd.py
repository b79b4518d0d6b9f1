"""``promptkit export PROGRAM --out DIR``: every predictor's prompt as an editable Jinja template.

PROGRAM is what ``eval run`` takes, a compiled ``program.json`` (or compile DIR) included. DIR gets one
``<predictor>.j2`` per predictor and ``manifest.json``; ``promptkit run PROGRAM --templates DIR`` (or
``promptkit.load(program, templates=DIR)``) sends the prompts from those files. No LM is called.
"""

from __future__ import annotations

from pathlib import Path

import typer

from promptkit.cli._common import out

PROGRAM_HELP = "program.json / compile DIR, module:attr, path.py:attr, technique:ID"
TEMPLATES_HELP = "take the prompts from this `promptkit export` directory (edited templates included)"


def export_command(
    program: str = typer.Argument(..., help=PROGRAM_HELP),
    out_dir: Path = typer.Option(..., "--out", help="directory for the .j2 templates and manifest.json"),
) -> None:
    """Write PROGRAM's prompts as one Jinja template per predictor (plus manifest.json) into --out."""
    from promptkit.programs.export import export_program
    from promptkit.programs.resolve import resolve_program

    # The reference as given (not made absolute): the files are reviewed and committed, paths of this machine are noise.
    manifest = export_program(resolve_program(program), out_dir, ref=program)
    out.print(f"exported to {out_dir} (manifest: {manifest})", markup=False, highlight=False)
    out.print(
        f"review or edit the .j2 files, then: promptkit run {program} --templates {out_dir} --input ...",
        markup=False,
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command("export")(export_command)
