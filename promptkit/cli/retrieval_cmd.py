"""``promptkit index build|info|drop`` and ``promptkit rag``: indexes on disk, questions answered from them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from promptkit.cli._common import ROUTER_HELP, err, handle_errors, out
from promptkit.retrieval.modes import DEFAULT_FUSION

DEFAULT_STORE = ".promptkit/index"
StoreOption = Annotated[
    str, typer.Option("--store", help="'memory', an index folder (Qdrant engine in-process) or http(s)://qdrant:6333")
]
CollectionOption = Annotated[str, typer.Option("--collection", "-c", help="collection name")]
ModeOption = Annotated[
    str | None,
    typer.Option(
        "--mode", help="dense, sparse (BM25) or hybrid (both, fused by Qdrant); default: the best the collection holds"
    ),
]
FusionOption = Annotated[str, typer.Option("--fusion", help="how hybrid mode fuses: rrf (rank) or dbsf (score)")]
QueryEmbedderOption = Annotated[
    str | None, typer.Option("--embedder", help="query embedder (default: the one the index was built with)")
]
EmbedderBackendOption = Annotated[
    str | None,
    typer.Option(
        "--embedder-backend",
        help="how a sentence-transformers embedder runs: torch, onnx or "
        "onnx-int8 (exported on first use; default $PROMPTKIT_EMBEDDER_BACKEND, else torch)",
    ),
]
EmbedderApiBaseOption = Annotated[
    str | None,
    typer.Option(
        "--api-base",
        help="the embedding server of a served --embedder (e.g. "
        "http://127.0.0.1:8000/v1 with --embedder openai/NAME); its key: the provider's variable",
    ),
]


def make_embedder(
    name: str | None, backend: str | None, api_base: str | None, *, searching: tuple[str, str] | None = None
) -> Any:
    """The ``Embedder`` the options ask for, or None when they ask for nothing (the default embedder).

    ``searching``: (store, collection) a search runs on; with no model named, it is the model the
    collection was built with (run with the backend, or at the server, the options name).
    """
    from promptkit.retrieval import Embedder, index_info

    if name is None and backend is None and api_base is None:
        return None
    if name is None and searching is not None:
        name = (index_info(searching[1], store=searching[0]).embedder or "").rpartition("@")[0] or None
    return Embedder(name, backend=backend, api_base=api_base)


index_app = typer.Typer(help="Build, inspect and drop vector indexes.", no_args_is_help=True)


@index_app.command("build")
@handle_errors
def build(
    source: Annotated[Path, typer.Argument(help="JSONL, CSV, Parquet, text file/folder, or a BEIR corpus")],
    collection: CollectionOption,
    store: StoreOption = DEFAULT_STORE,
    min_words: Annotated[int, typer.Option("--min-words", help="keep passages with more words than this")] = 0,
    chunk_size: Annotated[int | None, typer.Option("--chunk-size", help="split long passages (words)")] = None,
    chunk_overlap: Annotated[int, typer.Option("--chunk-overlap", help="units shared by neighbouring chunks")] = 0,
    chunk_unit: Annotated[
        str, typer.Option("--chunk-unit", help="what --chunk-size counts: words, or tokens of the embedder")
    ] = "words",
    source_format: Annotated[
        str | None, typer.Option("--format", help="jsonl, csv, parquet, text, folder or beir (default: from the name)")
    ] = None,
    text_field: Annotated[str, typer.Option("--text-field", help="the record field holding the passage")] = "text",
    title_field: Annotated[str, typer.Option("--title-field", help="the record field holding its title")] = "title",
    id_field: Annotated[str, typer.Option("--id-field", help="the record field holding its source id")] = "id",
    embedder: Annotated[
        str | None,
        typer.Option(
            "--embedder",
            help="a sentence-transformers model (default all-MiniLM-L6-v2), or a "
            "served LiteLLM embedding model: openai/NAME, ollama/NAME, hosted_vllm/NAME ...",
        ),
    ] = None,
    embedder_backend: EmbedderBackendOption = None,
    api_base: EmbedderApiBaseOption = None,
    mode: Annotated[
        str | None,
        typer.Option("--mode", help="what a new collection holds: dense, sparse (BM25) or hybrid (both; default)"),
    ] = None,
    embed_template: Annotated[
        str | None,
        typer.Option(
            "--embed-template",
            help="what is embedded and BM25-indexed per passage, a format string "
            "over {title}, {text}, {source_id} (default '{title} {text}')",
        ),
    ] = None,
) -> None:
    """Embed SOURCE and write it into COLLECTION (re-indexing the same passages adds nothing)."""
    from promptkit.errors import InputError
    from promptkit.retrieval import ColumnMap, build_index
    from promptkit.retrieval.modes import check_mode

    if chunk_unit not in ("words", "tokens"):
        raise InputError(f"--chunk-unit {chunk_unit!r} is not a chunk unit", hint="use words or tokens")
    fields = (text_field, title_field, id_field)
    report = build_index(
        source,
        collection,
        store=store,
        embedder=make_embedder(embedder, embedder_backend, api_base),
        mode=check_mode(mode) if mode else None,
        embed_template=embed_template,
        min_words=min_words,
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        chunk_unit="tokens" if chunk_unit == "tokens" else "words",
        format=source_format,
        # BEIR keeps its own column names unless the user renamed one.
        columns=None if fields == ("text", "title", "id") else ColumnMap(*fields),
    )
    out.print(
        f"{report.collection}: {report.added} added, {report.total} passages in total "
        f"({report.loaded} read, {report.kept} kept, {report.chunks} chunks, {report.encoded} encoded) "
        f"in {report.seconds:.1f} s — {report.engine} at {report.store}; vectors: {' + '.join(report.vectors)}",
        highlight=False,
    )


@index_app.command("info")
@handle_errors
def info(collection: CollectionOption, store: StoreOption = DEFAULT_STORE) -> None:
    """Print the passages, vectors, search modes, embedder and engine of COLLECTION."""
    from promptkit.retrieval import index_info
    from promptkit.retrieval.passages import LEGACY_EMBED_TEMPLATE

    details = index_info(collection, store=store)
    bm25 = details.metadata.get("bm25")
    out.print(f"collection: {details.name}", highlight=False)
    out.print(f"passages:   {details.count}", highlight=False)
    out.print(f"vectors:    {' + '.join(details.vectors)}", highlight=False)
    out.print(f"modes:      {', '.join(details.modes)}", highlight=False)
    if details.dim:
        out.print(f"dimension:  {details.dim}", highlight=False)
        out.print(f"embedder:   {details.embedder or 'unknown'}", highlight=False)
    out.print(f"embeds:     {details.metadata.get('embed_template') or LEGACY_EMBED_TEMPLATE!r}", highlight=False)
    if isinstance(bm25, dict):
        out.print(
            "bm25:       "
            + ", ".join(
                f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}" for key, value in bm25.items()
            ),
            highlight=False,
        )
    out.print(f"engine:     {details.engine} at {details.location}", highlight=False)


@index_app.command("drop")
@handle_errors
def drop(collection: CollectionOption, store: StoreOption = DEFAULT_STORE) -> None:
    """Delete COLLECTION."""
    from promptkit.errors import InputError
    from promptkit.retrieval import drop_index

    if not drop_index(collection, store=store):
        raise InputError(f"no collection {collection!r} in {store}", hint="promptkit index info lists what exists")
    out.print(f"dropped {collection}")


def show_passages(passages: list[Any]) -> None:
    for rank, passage in enumerate(passages, 1):
        source = passage.title or passage.source_id or passage.id
        out.print(f"[{rank}] {passage.score:.3f}  {source}", style="bold", markup=False, highlight=False)
        out.print(f"    {passage.text}", markup=False, highlight=False)


@handle_errors
def rag(
    question: Annotated[str, typer.Argument(help="the question")],
    collection: CollectionOption,
    store: StoreOption = DEFAULT_STORE,
    k: Annotated[int, typer.Option("--k", help="passages per retrieval")] = 3,
    hops: Annotated[int, typer.Option("--hops", help="1: single-hop RAG; more: multi-hop query generation")] = 1,
    model: Annotated[str | None, typer.Option("--model", "-m", help="LM route (default: the embedded model)")] = None,
    cot: Annotated[bool, typer.Option("--cot", help="reason before answering")] = False,
    show_prompt: Annotated[bool, typer.Option("--show-prompt", help="print the rendered messages")] = False,
    mode: ModeOption = None,
    fusion: FusionOption = DEFAULT_FUSION,
    embedder: QueryEmbedderOption = None,
    embedder_backend: EmbedderBackendOption = None,
    embedder_api_base: Annotated[
        str | None, typer.Option("--embedder-api-base", help="the embedding server of a served embedder")
    ] = None,
    compiled: Annotated[
        Path | None, typer.Option("--program", help="a compiled RAG program.json (promptkit compile) to answer with")
    ] = None,
    router: Annotated[Path | None, typer.Option("--router", help=ROUTER_HELP)] = None,
) -> None:
    """Answer QUESTION from COLLECTION: the answer, then the passages with scores and sources."""
    retriever = open_retriever(
        store,
        collection,
        k=k,
        mode=mode,
        fusion=fusion,
        embedder=embedder,
        embedder_backend=embedder_backend,
        embedder_api_base=embedder_api_base,
    )
    answer_question(
        question,
        retriever,
        k=k,
        hops=hops,
        model=model,
        cot=cot,
        show_prompt=show_prompt,
        compiled=compiled,
        router=router,
    )


def open_retriever(
    store: str,
    collection: str,
    *,
    k: int,
    mode: str | None = None,
    fusion: str = DEFAULT_FUSION,
    embedder: str | None = None,
    embedder_backend: str | None = None,
    embedder_api_base: str | None = None,
) -> Any:
    """The ``Retriever`` over COLLECTION in STORE that the search options ask for (``rag``, ``ask --collection``)."""
    from promptkit.retrieval import Retriever
    from promptkit.retrieval.modes import check_fusion, check_mode

    query_embedder = make_embedder(embedder, embedder_backend, embedder_api_base, searching=(store, collection))
    return Retriever(
        store,
        query_embedder,
        collection=collection,
        k=k,
        mode=check_mode(mode) if mode else None,
        fusion=check_fusion(fusion),
    )


def answer_question(
    question: str,
    retriever: Any,
    *,
    k: int,
    hops: int,
    model: str | None,
    cot: bool,
    show_prompt: bool,
    compiled: Path | None = None,
    router: Path | None = None,
) -> None:
    """Run RAG (or MultiHopRAG) through the TemplateAdapter and print what a user wants to see."""
    import dspy
    from rich.markup import escape

    from promptkit.adapter import TemplateAdapter
    from promptkit.cli.ask import show_messages
    from promptkit.errors import InputError
    from promptkit.lm import choose_lm
    from promptkit.programs import RAG, MultiHopRAG

    if hops < 1:
        raise InputError(f"--hops must be at least 1, got {hops}")
    program: Any = (
        RAG(retriever, k=k, chain_of_thought=cot)
        if hops == 1
        else MultiHopRAG(retriever, passages_per_hop=k, max_hops=hops)
    )
    if compiled is not None:  # the compiled demos and instructions, on this retriever
        from promptkit.optimize import load
        from promptkit.programs.resolve import compiled_program_path

        program = load(compiled_program_path(compiled) or compiled, program=program)
    lm = choose_lm(model, router=router)
    adapter = TemplateAdapter()
    with dspy.context(lm=lm, adapter=adapter):
        prediction = program(question=question)
    if show_prompt and lm.history:
        show_messages(lm.history[-1]["messages"])
    for number, hop in enumerate(getattr(prediction, "hops", None) or [], 1):
        err.print(f"[dim]hop {number} query:[/] {escape(str(hop['query']))}", highlight=False)
    for note in getattr(prediction, "degraded", None) or []:  # a step whose reply did not parse
        err.print(f"[yellow]{note['step']}: {note['action']}[/] ({escape(note['error'][:160])})", highlight=False)
    out.print(f"[bold]answer:[/] {escape(str(prediction.answer))}", highlight=False)
    show_passages(list(prediction.passages))


def register(app: typer.Typer) -> None:
    app.add_typer(index_app, name="index")
    app.command("rag")(rag)
