"""``promptkit techniques list`` and ``promptkit techniques show ID``: the technique registry on the CLI.

``list`` reads only the registry (no DSPy import); ``show`` builds the technique over its example
signature and prints every step's rendered instructions — the text its templates produce.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from promptkit.cli._common import handle_errors, out

techniques_app = typer.Typer(
    name="techniques",
    help="Prompting techniques: list them with their papers, show one with its rendered prompts.",
    no_args_is_help=True,
)


@techniques_app.command("list")
@handle_errors
def list_command(
    family: Annotated[str | None, typer.Option("--family", "-f", help="only this family, e.g. 'ensembling'")] = None,
) -> None:
    """Every technique: id, family, LM calls, needs, and the paper it comes from."""
    from rich.markup import escape
    from rich.table import Table

    from promptkit.techniques import list_techniques

    rows = list_techniques(family)
    table = Table(title=f"promptkit techniques ({len(rows)})", show_lines=False, expand=False)
    for column in ("id", "family", "LM calls", "needs", "paper"):
        table.add_column(column, overflow="fold")
    for info in rows:
        needs = escape(", ".join(info.needs) or "-")
        if info.requires:
            needs += f" [dim](option: {escape(', '.join(info.requires))})[/]"
        paper = f"{escape(info.paper)}\n[dim]{escape(info.authors)} {info.year}, arXiv {info.arxiv}[/]"
        table.add_row(f"[bold]{info.id}[/]", escape(info.family), escape(info.calls), needs, paper)
    out.print(table)
    out.print("[dim]promptkit techniques show ID prints a technique's prompts.[/]")


@techniques_app.command("show")
@handle_errors
def show_command(
    technique_id: Annotated[str, typer.Argument(metavar="ID", help="technique id, e.g. cot_zeroshot")],
    signature: Annotated[str | None, typer.Option("--signature", "-s", help="build over this signature")] = None,
) -> None:
    """A technique's metadata and the instructions each of its steps renders from its templates."""
    from promptkit.techniques import get

    info = get(technique_id)
    _print_metadata(info)
    _print_steps(info, signature or info.example_signature)


def _print_metadata(info: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    from promptkit.prompts import bundled_templates_dir

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    rows = [
        ("id", info.id + (f"  (aliases: {', '.join(info.aliases)})" if info.aliases else "")),
        ("name", info.name),
        ("family", info.family),
        ("paper", f'{info.authors} ({info.year}), "{info.paper}"'),
        ("arXiv", f"{info.arxiv}  {info.url}"),
        ("LM calls", info.calls),
        ("needs", ", ".join(info.needs) or "nothing beyond an LM"),
        ("question -> answer", "yes" if info.fits_question_answer else f"needs option(s): {', '.join(info.requires)}"),
        ("about", info.description),
        ("templates", "\n".join(str(bundled_templates_dir() / t) for t in info.templates) or "-"),
    ]
    for key, value in rows:
        table.add_row(key, escape(value))
    out.print(table)


def _print_steps(info: Any, signature: str) -> None:
    from rich.markup import escape

    from promptkit.techniques.registry import example_options

    module = info.build(signature, **example_options(info))
    options = info.option_names()
    out.print(f"[bold]options:[/] {', '.join(options) or 'none'}", highlight=False)
    predictors = list(module.named_predictors())
    chain = getattr(module, "chain", None)
    if not predictors and chain is not None:
        out.print(f"[bold]chain {escape(chain.name)}[/]: {escape(chain.description)}", highlight=False)
        for step in chain.steps:
            source = step.template or "(inline prompt)"
            out.print(f"  {escape(step.name)}: {escape(source)} -> {escape(step.output)}", highlight=False)
    for name, predictor in predictors:
        out.rule(f"[bold]{escape(name)}[/]  {escape(predictor.signature.signature)}", align="left")
        out.print(predictor.signature.instructions, markup=False, highlight=False)
    out.rule()


def register(app: typer.Typer) -> None:
    app.add_typer(techniques_app, name="techniques")
