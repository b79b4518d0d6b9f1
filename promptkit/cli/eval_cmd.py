"""``promptkit eval``: run an evaluation, compare two runs, run a matrix.

    promptkit eval run PROGRAM --data FILE --metric NAME [--metric NAME2] [--threads N] [--out DIR]
                       [--resume] [--retry-errors] [--limit N] [--max-errors N] [--fail-under SCORE]
                       [--model M] [--map new=source] [--format FMT]
    promptkit eval PROGRAM --data FILE ...      (same as `eval run`: a first word that is not a
                                                 subcommand is taken as the program)
    promptkit eval compare RUN_A RUN_B [--metric M] [--fail-on-regression]
    promptkit eval matrix SPEC.yaml [--out DIR] [--resume]

Exit codes: 0 ok; 1 runtime failure (or the run stopped early at --max-errors); 2 bad input or
usage; 3 the score is below --fail-under (or, for compare, a significant regression).

PROGRAM is resolved by :func:`promptkit.programs.resolve.resolve_program` (``module:attr``,
``path/to/file.py:attr``, ``technique:ID``, a chain YAML, a compiled ``program.json``); other kinds
plug in with ``promptkit.programs.resolve.register_program_resolver``. Other engineers' eval commands (``eval
retrieval``) attach to :data:`eval_app` from their own CLI module with ``@eval_app.command(...)``.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from promptkit.cli._common import ROUTER_HELP
from promptkit.cli.export_cmd import TEMPLATES_HELP
from promptkit.errors import InputError
from promptkit.tracking import MLFLOW_HELP, MLFLOW_URI_HELP

EXIT_BELOW_THRESHOLD = 3  # distinct from 1 (runtime failure) and 2 (bad input / usage)
EXIT_STOPPED_EARLY = 1


class _RunByDefault(TyperGroup):
    """Makes ``promptkit eval PROGRAM ...`` mean ``promptkit eval run PROGRAM ...``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


eval_app = typer.Typer(
    cls=_RunByDefault,
    no_args_is_help=True,
    help="Evaluate programs on datasets, compare runs, run matrices. `promptkit eval PROGRAM --data ...` is "
    "short for `eval run`. Exit codes: 1 runtime failure or stopped at --max-errors, 2 bad input, "
    "3 score below --fail-under.",
)


def register(app: typer.Typer) -> None:
    """Attach the ``eval`` command group to the main ``promptkit`` app."""
    app.add_typer(eval_app, name="eval")


def _parse_mapping(pairs: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        new, sep, source = pair.partition("=")
        if not sep or not new.strip() or not source.strip():
            raise InputError(f"--map {pair!r} is not new=source", hint="e.g. --map question=query")
        mapping[new.strip()] = source.strip()
    return mapping


def _lm_for(model: str | None, router: Path | None = None) -> Any:
    """The LM to evaluate with: --model (a group of --router), else the one the program module configured,
    else settings (promptkit.lm.choose_lm)."""
    from promptkit.lm import choose_lm

    return choose_lm(model, router=router)


def _dspy_overrides(lm: Any) -> dict[str, Any]:
    """The ``dspy.context`` for a CLI evaluation: ``lm`` when given, and promptkit's TemplateAdapter
    unless the program module configured an adapter. DSPy's default ChatAdapter sends no output
    schema, so a small model runs to max_tokens, fails to parse and pays a JSONAdapter retry per row."""
    import dspy

    overrides: dict[str, Any] = {} if lm is None else {"lm": lm}
    if dspy.settings.adapter is None:
        from promptkit.adapter import TemplateAdapter

        overrides["adapter"] = TemplateAdapter()
    return overrides


# ---------------------------------------------------------------------------------------------
# commands


@eval_app.command("run")
def run_command(
    program: str = typer.Argument(
        ...,
        help="module:attr or path/to/file.py:attr (a dspy.Module or a factory), technique:ID, a chain spec .yaml, "
        "or a compiled program.json",
    ),
    data: Path = typer.Option(..., "--data", help="dataset file (jsonl, csv, parquet, BEIR folder, ...)"),
    metric: list[str] = typer.Option(..., "--metric", help="metric name; repeat for several, the first is primary"),
    threads: int = typer.Option(4, "--threads", help="rows evaluated in parallel"),
    out: Path | None = typer.Option(None, "--out", help="run directory (default runs/eval-<time>)"),
    resume: bool = typer.Option(False, "--resume", help="skip rows already in --out"),
    retry_errors: bool = typer.Option(False, "--retry-errors", help="rerun only the failed rows of --out"),
    limit: int | None = typer.Option(None, "--limit", help="evaluate the first N rows"),
    max_errors: int | None = typer.Option(None, "--max-errors", help="stop after N failed rows (keeps them)"),
    fail_under: float | None = typer.Option(None, "--fail-under", help="exit 3 when the primary score < this (0-1)"),
    model: str | None = typer.Option(None, "--model", help="LM route, e.g. openai/gpt-4o-mini, ollama_chat/qwen2.5"),
    map_fields: list[str] = typer.Option([], "--map", help="rename a dataset field: new=source (repeatable)"),
    data_format: str | None = typer.Option(None, "--format", help="dataset format when it cannot be inferred"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show the progress bar"),
    router: Path | None = typer.Option(None, "--router", help=ROUTER_HELP),
    mlflow: bool = typer.Option(False, "--mlflow", help=MLFLOW_HELP),
    mlflow_uri: str | None = typer.Option(None, "--mlflow-uri", help=MLFLOW_URI_HELP),
    templates: Path | None = typer.Option(None, "--templates", help=TEMPLATES_HELP),
) -> None:
    """Evaluate PROGRAM on --data; write results.jsonl, summary.json and reports to --out."""
    import dspy
    from rich.console import Console

    from promptkit import datasets
    from promptkit.evaluation.report import REPORT_HTML, summary_table
    from promptkit.evaluation.runner import evaluate
    from promptkit.programs.resolve import resolve_program
    from promptkit.tracking import scores, tracking

    mapping = _parse_mapping(map_fields)
    dataset = datasets.load(str(data), format=data_format, mapping=mapping or None)
    prog = resolve_program(program)
    if templates is not None:
        from promptkit.programs.templates_dir import apply_templates

        prog = apply_templates(prog, templates)
    lm = _lm_for(model, router)
    out = out or Path("runs") / f"eval-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    params = {
        "command": "eval run",
        "program": program,
        "data": data,
        "metrics": ",".join(metric),
        "model": model,
        "templates": templates,
    }
    with tracking(mlflow, mlflow_uri, f"eval {program}", params) as tracker, dspy.context(**_dspy_overrides(lm)):
        result = evaluate(
            prog,
            dataset,
            metric,
            num_threads=threads,
            out=out,
            resume=resume,
            retry_errors=retry_errors,
            limit=limit,
            max_errors=max_errors,
            fail_under=fail_under,
            progress=progress,
        )
        if tracker is not None:
            tracker.metrics(scores(result.summary))
            tracker.artifacts(out)
    console = Console()
    console.print(summary_table(result.summary))
    console.print(f"results: {out / 'results.jsonl'}\nreport:  {out / REPORT_HTML}")
    if result.stopped_early:
        console.print(f"[yellow]{result.stopped_early}[/yellow]")
        raise typer.Exit(code=EXIT_STOPPED_EARLY)
    if result.passed is False:
        console.print(f"[red]score {result.score} is below --fail-under {fail_under}[/red]")
        raise typer.Exit(code=EXIT_BELOW_THRESHOLD)


@eval_app.command("compare")
def compare_command(
    run_a: Path = typer.Argument(..., help="baseline run directory"),
    run_b: Path = typer.Argument(..., help="candidate run directory"),
    metric: str | None = typer.Option(None, "--metric", help="metric to compare (default: the primary)"),
    threshold: float = typer.Option(0.5, "--threshold", help="a row passes when its score >= this"),
    alpha: float = typer.Option(0.05, "--alpha", help="significance level"),
    show: int = typer.Option(10, "--show", help="flipped rows to list"),
    fail_on_regression: bool = typer.Option(False, "--fail-on-regression", help="exit 3 on a significant drop"),
) -> None:
    """Paired comparison of RUN_B against RUN_A on their common rows."""
    from rich.console import Console
    from rich.table import Table

    from promptkit.evaluation.compare import compare

    result = compare(run_a, run_b, metric, threshold=threshold)
    table = Table(title=f"{result.metric}: B vs A on {result.n_paired} paired rows")
    for column in ("mean A", "mean B", "B - A", "95% CI", "test", "p-value", "verdict"):
        table.add_column(column, justify="right")

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    verdict = "no significant difference"
    if result.significant(alpha) and result.diff is not None:
        verdict = "B better" if result.diff > 0 else "B worse"
    ci = "-" if result.ci95 is None else f"[{result.ci95[0]:.4f}, {result.ci95[1]:.4f}]"
    table.add_row(
        fmt(result.mean_a), fmt(result.mean_b), fmt(result.diff), ci, result.test or "-", fmt(result.p_value), verdict
    )
    console = Console()
    console.print(table)
    console.print(
        f"common rows {result.n_common} · only in A {result.only_a} · only in B {result.only_b} · "
        f"improved {len(result.improved)} · regressed {len(result.regressed)} · "
        f"ok/error changed {len(result.status_changed)}"
    )
    for label, rows in (("regressed", result.regressed), ("improved", result.improved)):
        for row in rows[:show]:
            console.print(f"  {label} #{row['index']}: {row['a']} -> {row['b']}  {str(row['inputs'])[:100]}")
    if fail_on_regression and verdict == "B worse":
        raise typer.Exit(code=EXIT_BELOW_THRESHOLD)


_MATRIX_KEYS = {"programs", "models", "datasets", "metrics", "threads", "limit", "out", "max_errors"}


@eval_app.command("matrix")
def matrix_command(
    spec: Path = typer.Argument(..., help="YAML: programs, models, datasets, metrics[, threads, limit, out]"),
    out: Path | None = typer.Option(None, "--out", help="matrix directory (overrides the spec's out)"),
    resume: bool = typer.Option(False, "--resume", help="continue the cells already started"),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Evaluate every program × model × dataset of SPEC, one run directory per cell."""
    import dspy
    from rich.console import Console
    from rich.table import Table

    from promptkit.evaluation.compare import matrix
    from promptkit.programs.resolve import resolve_program

    config = _read_spec(spec)
    programs = config["programs"]
    refs = programs if isinstance(programs, dict) else {str(p): p for p in programs}
    resolved = {name: resolve_program(str(ref)) for name, ref in refs.items()}
    out_dir = out or Path(config.get("out") or Path("runs") / f"matrix-{datetime.datetime.now():%Y%m%d-%H%M%S}")
    with dspy.context(**_dspy_overrides(None)):
        result = matrix(
            resolved,
            config.get("models"),
            config["datasets"],
            config["metrics"],
            out=out_dir,
            resume=resume,
            num_threads=int(config.get("threads", 4)),
            limit=config.get("limit"),
            max_errors=config.get("max_errors"),
            progress=progress,
        )
    table = Table(title=f"matrix ({out_dir})")
    rows = result.table()
    columns = ["program", "model", "dataset", *result.metrics, "failed_rows", "tokens", "latency_p50_s", "error"]
    for column in columns:
        table.add_column(column, overflow="fold")  # names wrap instead of ending in "…"
    for row in rows:
        table.add_row(
            *(
                "-" if row.get(c) is None else f"{row[c]:.3f}" if isinstance(row.get(c), float) else str(row[c])
                for c in columns
            )
        )
    Console().print(table)


def _read_spec(path: Path) -> dict[str, Any]:
    from promptkit.yaml_files import load_yaml_file

    config = load_yaml_file(path, what="matrix spec")
    if not isinstance(config, dict):
        raise InputError(f"{path}: a matrix spec is a mapping with programs, models, datasets, metrics")
    unknown = sorted(set(config) - _MATRIX_KEYS)
    missing = sorted({"programs", "datasets", "metrics"} - set(config))
    if unknown or missing:
        raise InputError(
            f"{path}: "
            + "; ".join(
                filter(
                    None, [f"unknown keys {unknown}" if unknown else "", f"missing keys {missing}" if missing else ""]
                )
            ),
            hint=f"known keys: {', '.join(sorted(_MATRIX_KEYS))}",
        )
    return config
