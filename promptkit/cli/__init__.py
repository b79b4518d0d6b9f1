"""The ``promptkit`` command. Each command lives in its own module and registers itself here.

Commands import DSPy, LiteLLM and the model libraries inside their bodies, so ``--help`` and
``render`` start fast.
"""

from __future__ import annotations

import importlib

import typer

from promptkit.cli._common import handle_errors

app = typer.Typer(
    name="promptkit",
    help="Prompt engineering with DSPy: readable Jinja prompts, techniques, RAG and evaluation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if not value:
        return
    import platform
    from importlib import metadata

    import promptkit

    try:
        dspy_version = metadata.version("dspy")  # the installed version, without importing DSPy
    except metadata.PackageNotFoundError:
        dspy_version = "not installed"
    typer.echo(f"promptkit {promptkit.__version__} (dspy {dspy_version}, python {platform.python_version()})")
    raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the versions and exit."
    ),
) -> None:
    """Prompt engineering with DSPy: readable Jinja prompts, techniques, RAG and evaluation."""


# Modules that define commands; each has register(app).
COMMAND_MODULES = (
    "promptkit.cli.render",
    "promptkit.cli.ask",
    "promptkit.cli.doctor",
    "promptkit.cli.quickstart",
    "promptkit.cli.retrieval_cmd",
    "promptkit.cli.eval_cmd",
    "promptkit.cli.eval_retrieval_cmd",
    "promptkit.cli.techniques_cmd",
    "promptkit.cli.chain_cmd",
    "promptkit.cli.compile_cmd",
    "promptkit.cli.run_cmd",
    "promptkit.cli.view_cmd",
    "promptkit.cli.export_cmd",
    "promptkit.cli.diff_cmd",
)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    _handle_errors_everywhere(app)


def _handle_errors_everywhere(group: typer.Typer) -> None:
    """Every command, including those of sub-groups, reports errors as one line with its exit code."""
    for command in group.registered_commands:
        if command.callback is not None:
            command.callback = handle_errors(command.callback)
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _handle_errors_everywhere(sub.typer_instance)


_register_all()


def main() -> None:
    app()
