"""The ``promptkit`` command. Each command lives in its own module and registers itself here.

Commands import DSPy, LiteLLM and the model libraries inside their bodies, so ``--help`` and
``render`` start fast.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="promptkit",
    help="Prompt engineering with DSPy: readable Jinja prompts, techniques, RAG and evaluation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

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
)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)


_register_all()


def main() -> None:
    app()
