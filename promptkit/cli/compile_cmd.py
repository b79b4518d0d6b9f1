"""``promptkit compile``: optimize a program with a DSPy optimizer and write DIR (see promptkit.compile_run).

    promptkit compile PROGRAM --data TRAIN [--val VAL | --val-split 0.2] --metric M --optimizer O --out DIR
                      [--model M] [--teacher-model M] [--reflection-model M] [--option k=v]... [--seed N]

Exit codes: 0 ok; 1 runtime failure; 2 bad input (an unknown optimizer or option, a missing extra);
130 interrupted (DIR/before/ and DIR/compile.json say how far it got).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from promptkit.cli._common import ROUTER_HELP, err, out, parse_assignments
from promptkit.optimizers import OPTIMIZERS
from promptkit.tracking import MLFLOW_HELP, MLFLOW_URI_HELP, tracking


def parse_options(items: list[str]) -> dict[str, Any]:
    """``--option k=v``: v as a JSON value when it is one (2, 0.5, true, null, [1]), else the string."""
    options: dict[str, Any] = {}
    for key, text in parse_assignments(items, flag="--option").items():
        try:
            options[key] = json.loads(text)
        except json.JSONDecodeError:
            options[key] = text
    return options


def compile_command(
    program: str = typer.Argument(..., help="what `eval run` accepts: module:attr, path.py:attr, technique:ID"),
    data: Path = typer.Option(..., "--data", help="training set (jsonl, csv, parquet, ...)"),
    metric: list[str] = typer.Option(..., "--metric", help="metric name; the first is optimized, all are reported"),
    optimizer: str = typer.Option("bootstrap_fewshot", "--optimizer", help=f"one of: {', '.join(OPTIMIZERS)}"),
    out_dir: Path = typer.Option(..., "--out", help="writes program.json, compile.json, before/, after/, report.*"),
    val: Path | None = typer.Option(None, "--val", help="validation set (default: --val-split of --data)"),
    val_split: float = typer.Option(0.2, "--val-split", help="share of --data held out for val when no --val"),
    model: str | None = typer.Option(None, "--model", help="the LM the program runs on"),
    teacher_model: str | None = typer.Option(None, "--teacher-model", help="LM that bootstraps demos"),
    reflection_model: str | None = typer.Option(
        None, "--reflection-model", help="LM that proposes instructions (GEPA; COPRO, MIPROv2, SIMBA's prompt model)"
    ),
    option: list[str] = typer.Option([], "--option", help="optimizer option k=v (repeatable), e.g. auto=light"),
    seed: int = typer.Option(0, "--seed", help="seeds the val split and the optimizer"),
    threads: int = typer.Option(4, "--threads", help="rows evaluated in parallel"),
    embedder: str | None = typer.Option(None, "--embedder", help="knn_fewshot's embedder (default: promptkit's)"),
    data_format: str | None = typer.Option(None, "--format", help="dataset format when it cannot be inferred"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show progress bars"),
    resume: bool = typer.Option(False, "--resume", help="continue an interrupted compile in --out"),
    router: Path | None = typer.Option(None, "--router", help=ROUTER_HELP),
    mlflow: bool = typer.Option(False, "--mlflow", help=MLFLOW_HELP),
    mlflow_uri: str | None = typer.Option(None, "--mlflow-uri", help=MLFLOW_URI_HELP),
) -> None:
    """Compile PROGRAM on --data with --optimizer; evaluate it on val before and after; write --out."""
    import dspy

    from promptkit import datasets
    from promptkit.cli.eval_cmd import _dspy_overrides, _lm_for
    from promptkit.compile_run import compile_to_dir
    from promptkit.lm import choose_lm
    from promptkit.optimizers import preflight

    options = parse_options(option)
    preflight(optimizer, options, reflection_model)
    train = list(datasets.load(str(data), format=data_format))
    valset = list(datasets.load(str(val), format=data_format)) if val is not None else None
    lm = _lm_for(model, router)
    teacher = choose_lm(teacher_model, router=router) if teacher_model else None
    reflection = choose_lm(reflection_model, router=router) if reflection_model else None
    params = {
        "command": "compile",
        "program": program,
        "data": data,
        "val": val,
        "optimizer": optimizer,
        "metrics": ",".join(metric),
        "model": model,
        "seed": seed,
        **{f"option.{k}": v for k, v in options.items()},
    }
    with tracking(mlflow, mlflow_uri, f"compile {optimizer}", params) as tracker, dspy.context(**_dspy_overrides(lm)):
        result = compile_to_dir(
            program,
            train,
            metric,
            optimizer,
            out_dir,
            valset=valset,
            val_split=val_split,
            seed=seed,
            num_threads=threads,
            teacher_lm=teacher,
            reflection_lm=reflection,
            embedder=embedder,
            progress=progress,
            resume=resume,
            **options,
        )
        if tracker is not None:
            scores = result.record["scores"]
            tracker.metrics(
                {f"val_{side}_{result.record['metrics'][0]}": scores[side]["mean"] for side in ("before", "after")}
                | {"compile_seconds": result.record["compile_seconds"]}
            )
            tracker.artifacts(out_dir)
    record = result.record
    for side in ("before", "after"):
        score = record["scores"][side]
        ci = score.get("ci95")
        interval = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
        mean = "-" if score["mean"] is None else f"{score['mean']:.3f}"
        out.print(f"{side:6} {record['metrics'][0]} {mean}{interval} (n={score['n']})", highlight=False)
    comparison = record.get("comparison") or {}
    if comparison.get("p_value") is not None:
        out.print(
            f"paired {comparison['test']}: diff {comparison['diff']:+.3f}, p={comparison['p_value']:.4f}, "
            f"{comparison['improved']} improved / {comparison['regressed']} regressed",
            highlight=False,
        )
    out.print(f"program: {out_dir / 'program.json'}\nreport:  {out_dir / 'report.html'}", highlight=False)
    if record.get("caveat"):
        err.print(f"[yellow]note:[/] {record['caveat']}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("compile")(compile_command)
