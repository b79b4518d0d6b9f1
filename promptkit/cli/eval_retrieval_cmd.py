"""``promptkit eval retrieval``: nDCG@k, recall@k and MRR@k of an index on a BEIR-format query set.

    promptkit index build data/scifact/corpus.jsonl --collection scifact
    promptkit eval retrieval --collection scifact --queries data/scifact/queries.jsonl \\
        --qrels data/scifact/qrels/test.tsv [--k 10] [--store DIR] [--out DIR] [--mode M] [--fusion F]

Prints the scores as a table and saves ``retrieval.json`` (summary + one row per query) in --out.
Exit codes: 0 ok, 2 bad input (missing file, wrong qrels columns, unknown collection, ids that match
nothing in the index), 1 runtime failure.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from promptkit.cli._common import handle_errors, out
from promptkit.cli.eval_cmd import eval_app
from promptkit.cli.retrieval_cmd import (
    DEFAULT_FUSION,
    DEFAULT_STORE,
    CollectionOption,
    EmbedderApiBaseOption,
    EmbedderBackendOption,
    FusionOption,
    ModeOption,
    QueryEmbedderOption,
    StoreOption,
    make_embedder,
)


@eval_app.command("retrieval")
@handle_errors
def retrieval_command(
    collection: CollectionOption,
    queries: Annotated[Path, typer.Option("--queries", help="BEIR queries.jsonl (_id, text) or a BEIR folder")],
    qrels: Annotated[Path, typer.Option("--qrels", help="BEIR qrels .tsv (query-id, corpus-id, score) or folder")],
    k: Annotated[int, typer.Option("--k", help="rank cut-off for nDCG, recall and MRR")] = 10,
    store: StoreOption = DEFAULT_STORE,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="folder for retrieval.json (default runs/retrieval-<time>)")
    ] = None,
    embedder: QueryEmbedderOption = None,
    mode: ModeOption = None,
    fusion: FusionOption = DEFAULT_FUSION,
    embedder_backend: EmbedderBackendOption = None,
    api_base: EmbedderApiBaseOption = None,
) -> None:
    """Score COLLECTION's top-k for every judged query: nDCG@k, recall@k, MRR@k; save retrieval.json."""
    from promptkit.evaluation.retrieval import evaluate_retrieval
    from promptkit.retrieval.modes import check_fusion, check_mode

    target = out_dir or Path("runs") / f"retrieval-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    result = evaluate_retrieval(
        store,
        collection,
        queries=queries,
        qrels=qrels,
        k=k,
        out=target,
        embedder=make_embedder(embedder, embedder_backend, api_base, searching=(store, collection)),
        mode=check_mode(mode) if mode else None,
        fusion=check_fusion(fusion),
    )
    out.print(_table(result.summary()))
    out.print(f"saved: {result.path}", highlight=False)


def _table(summary: Mapping[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title=f"retrieval · {summary['collection']} · k={summary['k']}")
    table.add_column("metric")
    table.add_column("mean", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_column("queries", justify="right")
    for name, value in summary["scores"].items():
        low, high = summary["ci95"][name]
        table.add_row(name, f"{value:.4f}", f"[{low:.4f}, {high:.4f}]", str(summary["queries"]))
    table.caption = (
        f"{summary['queries']} queries scored · {summary['skipped']} without a relevant judgement (skipped) · "
        f"{summary['missing']} judged but not in the queries file · {summary['engine']} · {summary['mode']} · "
        f"{summary['embedder']}"
    )
    return table


def register(app: typer.Typer) -> None:
    """Nothing to attach: importing this module adds ``retrieval`` to the ``eval`` group."""
