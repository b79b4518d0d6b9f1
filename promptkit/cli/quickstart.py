"""``promptkit quickstart``: RAG over the bundled solar-system corpus, answered by the embedded model.

Offline end to end: MiniLM embeds 30 passages into an in-memory Qdrant collection (the embeddings
are cached on disk, so a rerun skips the encoding), the embedded SmolLM2 answers through the
TemplateAdapter with its output schema enforced by llama.cpp's grammar.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from promptkit.cli._common import ROUTER_HELP, err, handle_errors

DEFAULT_QUESTION = "When will Halley's Comet next appear?"
CORPUS = "quickstart/solar_system.jsonl"


@handle_errors
def quickstart(
    question: Annotated[str, typer.Argument(help="a question about the Solar System")] = DEFAULT_QUESTION,
    model: Annotated[str | None, typer.Option("--model", "-m", help="LM route (default: the embedded model)")] = None,
    k: Annotated[int, typer.Option("--k", help="passages to retrieve")] = 3,
    cot: Annotated[bool, typer.Option("--cot", help="reason before answering")] = False,
    show_prompt: Annotated[bool, typer.Option("--show-prompt", help="print the rendered structured prompt")] = False,
    router: Annotated[Path | None, typer.Option("--router", help=ROUTER_HELP)] = None,
) -> None:
    """Answer a question from the bundled corpus with the embedded model (no server, no key, no network)."""
    from rich.markup import escape

    from promptkit.cli.retrieval_cmd import answer_question
    from promptkit.prompts import bundled_pipelines_dir
    from promptkit.retrieval import Retriever, build_index, open_store

    corpus = bundled_pipelines_dir() / CORPUS
    store = open_store("memory:quickstart")
    with err.status("indexing the bundled Solar System corpus with all-MiniLM-L6-v2 …"):
        report = build_index(corpus, "solar_system", store=store)
    err.print(
        f"[dim]indexed {report.total} passages ({report.encoded} encoded, the rest from the cache) "
        f"in {report.seconds:.1f} s[/]"
    )
    retriever = Retriever(store, collection="solar_system", k=k)
    err.print(f"[dim]question:[/] {escape(question)}", highlight=False)
    answer_question(question, retriever, k=k, hops=1, model=model, cot=cot, show_prompt=show_prompt, router=router)


def register(app: typer.Typer) -> None:
    app.command("quickstart")(quickstart)
