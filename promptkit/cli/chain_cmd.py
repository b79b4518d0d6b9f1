"""``promptkit chain SPEC.yaml --input key=value --input key=@file.txt [--model M] [--output FILE]``.

Runs a YAML chain spec and prints the :class:`~promptkit.chains.ChainResult` as JSON on stdout (or
writes it to ``--output``). A bad spec or bad input exits 2, a step whose output stays unusable
(``ChainStepError``) or a backend failure exits 1 -- through the shared ``handle_errors``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from promptkit.cli._common import ROUTER_HELP, err, handle_errors, parse_assignments


def _write_atomically(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder, so an interrupted run never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@handle_errors
def chain(
    spec: Annotated[Path, typer.Argument(help="the chain spec, e.g. pipelines/telecom_feedback.yaml")],
    input_items: Annotated[
        list[str] | None,
        typer.Option("--input", "-i", help="KEY=VALUE, or KEY=@file.txt to read the value from a file (repeatable)"),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="LM route (default: PROMPTKIT_MODEL, else the embedded model)")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write the result JSON to this file")] = None,
    max_workers: Annotated[
        int | None, typer.Option("--max-workers", min=1, help="independent steps run at once (default: the spec's)")
    ] = None,
    router: Annotated[Path | None, typer.Option("--router", help=ROUTER_HELP)] = None,
) -> None:
    """Run a prompt chain and print its result (every step's prompt, reply and parsed output) as JSON."""
    from promptkit.chains import load_chain

    loaded = load_chain(spec, max_workers=max_workers)
    values = loaded.coerce_inputs(parse_assignments(input_items or [], flag="--input"))
    loaded.check_inputs(values)  # report a missing input before an LM is even built
    from promptkit.lm import choose_lm

    result = loaded.run(choose_lm(model, router=router), values=values)
    text = json.dumps(result.to_dict(), ensure_ascii=False, indent=2)
    if output is None:
        typer.echo(text)
        return
    _write_atomically(output, text + "\n")
    err.print(f"wrote {output} ({len(result.steps)} steps, {result.tokens['total']} tokens)", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("chain")(chain)


__all__ = ["chain", "register"]
