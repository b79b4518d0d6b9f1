"""Compile DSPy programs with DSPy's optimizers, and save / load them as JSON.

``compile`` wraps every DSPy optimizer in :data:`promptkit.optimizers.OPTIMIZERS` behind one call
with validated options and a progress bar (``compile_progress.py``). ``save_program`` writes one
JSON file (never a pickle: unpickling runs code) atomically, with metadata (versions, model,
template versions, metric, train size, score, date) and without any API key. ``load`` rebuilds
the program from its recorded ``module:QualName`` class (or fills a given instance) and warns
when the versions it was saved with differ from the running ones.
"""

from __future__ import annotations

import datetime
import importlib
import importlib.util
import inspect
import json
import logging
import random
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from promptkit.compile_progress import CandidateLog, CompileProgress
from promptkit.errors import DataError, InputError
from promptkit.evaluation.results import atomic_write_text, read_json, versions
from promptkit.redaction import redact

# /2: the predictors' states at the top level beside DSPy's metadata.dependency_versions, the layout
# DSPy's own Module.save writes, so plain ``MyProgram().load(path)`` reads a promptkit file too.
PROGRAM_FORMAT = "promptkit.program/2"
_READABLE_FORMATS = ("promptkit.program/1", PROGRAM_FORMAT)
_DOCUMENT_KEYS = ("format", "program_class", "metadata")
_SECRET_KEY = re.compile(
    r"^(api[_-]?key|apikey|.*secret.*|.*password.*|authorization|.*access[_-]?token|auth[_-]?token|bearer|"
    r"private[_-]?key|x-api-key)$",
    re.IGNORECASE,
)
logger = logging.getLogger(__name__)


class ProgramVersionWarning(UserWarning):
    """A saved program was written by other promptkit / DSPy / template versions than the running ones."""


def compile(
    program: Any | str | Path,
    trainset: Sequence[Any] | str | Path,
    metric: str | Callable[..., Any] | None,
    optimizer: str = "bootstrap_fewshot",
    *,
    valset: Sequence[Any] | str | Path | None = None,
    save: str | Path | None = None,
    progress: bool = True,
    template_versions: Mapping[str, str] | None = None,
    teacher_lm: Any = None,
    reflection_lm: Any = None,
    embedder: Any = None,
    seed: int | None = None,
    num_threads: int | None = None,
    score: bool = True,
    **options: Any,
) -> Any:
    """Optimize ``program`` on ``trainset`` with a DSPy optimizer and return the compiled program.

    ``program`` is a ``dspy.Module`` or a reference ``promptkit.resolve_program`` resolves.
    ``optimizer`` is one of :data:`promptkit.optimizers.OPTIMIZERS`. ``options`` go to the optimizer's
    constructor or its ``compile`` (e.g. ``max_bootstrapped_demos``, ``num_trials``, ``auto``); unknown
    ones are an error. ``teacher_lm`` bootstraps demos, ``reflection_lm`` proposes instructions (GEPA's
    reflection LM, the prompt model of COPRO / MIPROv2 / SIMBA), ``embedder`` serves knn_fewshot.
    With ``valset`` the compiled program is scored on it (recorded as ``score``; ``score=False`` skips
    that when the caller evaluates it itself); with ``save`` it is written with :func:`save_program`.
    """
    import dspy

    from promptkit import optimizers

    program_ref = None
    if isinstance(program, str | Path):
        from promptkit.programs.resolve import canonical_ref, resolve_program

        program_ref, program = canonical_ref(program), resolve_program(program)
    spec = optimizers.preflight(optimizer, options, reflection_lm)
    train = load_examples(trainset)
    val = load_examples(valset) if valset is not None else None
    if not train:
        raise InputError("trainset is empty", hint="give the optimizer at least a few labeled examples")
    if seed is not None:
        random.seed(seed)  # LabeledFewShot and BootstrapFewShot's labelled sampling draw from `random`
    resources = optimizers.Resources(
        teacher_lm=teacher_lm,
        reflection_lm=reflection_lm,
        embedder=embedder,
        seed=seed,
        num_threads=num_threads,
        trainset=train,
        valset=val,
    )
    total = len(train) * int(options.get("max_rounds", 1)) if optimizer == "bootstrap_fewshot" else None
    with CompileProgress(progress, f"compile {spec.name}", total) as bar:
        dspy_metric = _dspy_metric(metric, bar.record) if metric is not None else None
        teleprompter, compile_kwargs, recorded = optimizers.build(spec, dspy_metric, options, resources)
        with dspy.context(callbacks=[*(dspy.settings.callbacks or []), CandidateLog(bar.show_candidates)]):
            compiled = teleprompter.compile(program, **compile_kwargs)
    val_score = None
    if score and val is not None and metric is not None:
        from promptkit.evaluation.runner import evaluate

        val_score = evaluate(compiled, val, [metric], out=None, progress=False, report=False).score
    if save is not None:
        save_program(
            compiled,
            save,
            template_versions=template_versions,
            metadata={
                "optimizer": optimizer,
                "options": _plain_options(recorded),
                "metric": _metric_name(metric),
                "train_size": len(train),
                "val_size": len(val) if val else None,
                "score": val_score,
                "program_ref": program_ref,
                "seed": seed,
            },
        )
    return compiled


def load_examples(data: Sequence[Any] | str | Path) -> list[Any]:
    """Examples given as a list, or a dataset path loaded with ``promptkit.datasets.load``."""
    if isinstance(data, str | Path):
        from promptkit import datasets

        return list(datasets.load(str(data)))
    return list(data)


def _metric_name(metric: Any) -> str | None:
    if metric is None or isinstance(metric, str):
        return metric
    return str(getattr(metric, "name", None) or getattr(metric, "__name__", type(metric).__name__))


def _dspy_metric(metric: str | Callable[..., Any], record: Callable[[Any], None]) -> Callable[..., Any]:
    """A ``metric(example, prediction, trace=None)`` that DSPy optimizers can call; each value goes to ``record``."""
    if isinstance(metric, str):
        from promptkit.evaluation.rows import resolve_metrics

        fn: Callable[..., Any] = resolve_metrics(metric)[0].fn
    else:
        fn = metric
    try:
        positional = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
        ]
    except (TypeError, ValueError):
        positional = []
    takes_trace = len(positional) >= 3 or any(p.kind == p.VAR_POSITIONAL for p in positional)

    def counted(example: Any, prediction: Any, trace: Any = None) -> Any:
        value = None
        try:
            value = fn(example, prediction, trace) if takes_trace else fn(example, prediction)
            return value
        finally:
            record(value)

    counted.__name__ = _metric_name(metric) or "metric"
    return counted


def _plain_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Options worth recording: plain values only (an LM object in teacher_settings is not)."""
    return {k: v for k, v in options.items() if isinstance(v, str | int | float | bool) or v is None}


# ---------------------------------------------------------------------------------------------
# save / load


def class_path(program: Any) -> str:
    kind = type(program)
    return f"{kind.__module__}:{kind.__qualname__}"


def template_versions_of(program: Any) -> dict[str, str]:
    """Template versions the program's predictors (or the configured adapter) report, if any."""
    import dspy

    found: dict[str, str] = {}
    adapter = dspy.settings.adapter
    for source, prefix in ((adapter, "adapter"), *((p, n) for n, p in _named_predictors(program))):
        versions_map = getattr(source, "template_versions", None)
        if isinstance(versions_map, Mapping):
            found.update({str(k): str(v) for k, v in versions_map.items()})
        version = getattr(source, "template_version", None)
        if isinstance(version, str):
            found[prefix] = version
    return found


def _named_predictors(program: Any) -> list[tuple[str, Any]]:
    getter = getattr(program, "named_predictors", None)
    return list(getter()) if callable(getter) else []


def _scrub(value: Any) -> Any:
    """Drop secret-looking keys everywhere and credentials embedded in URLs (user:pass@host)."""
    if isinstance(value, Mapping):
        return {k: _scrub(v) for k, v in value.items() if not (isinstance(k, str) and _SECRET_KEY.match(k))}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if isinstance(value, str) and "://" in value and "@" in value:
        return re.sub(r"://[^/@\s]+@", "://", value)
    return value


def _configured_model(program: Any) -> str | None:
    import dspy

    for _, predictor in _named_predictors(program):
        lm = getattr(predictor, "lm", None)
        if lm is not None:
            return getattr(lm, "model", None)
    lm = dspy.settings.lm
    return getattr(lm, "model", None) if lm is not None else None


def save_program(
    program: Any,
    path: str | Path,
    *,
    metadata: Mapping[str, Any] | None = None,
    template_versions: Mapping[str, str] | None = None,
) -> Path:
    """Write ``program``'s state and metadata as JSON, atomically (temp file + rename)."""
    from promptkit.evaluation.results import to_jsonable

    path = Path(path)
    if path.suffix.lower() in {".pkl", ".pickle"}:
        raise InputError(f"{path}: promptkit saves programs as JSON only", hint="use a .json path")
    meta: dict[str, Any] = {
        **versions(),
        "model": _configured_model(program),
        "template_versions": {**template_versions_of(program), **dict(template_versions or {})},
        "metric": None,
        "train_size": None,
        "score": None,
        "saved_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    meta.update(metadata or {})
    from dspy.utils.saving import get_dependency_versions

    state = to_jsonable(program.dump_state(), max_text=None)
    clashing = sorted(set(state) & set(_DOCUMENT_KEYS))
    if clashing:
        raise InputError(
            f"{class_path(program)}: predictor names {clashing} clash with the saved file's own keys",
            hint="rename those attributes of the program",
        )
    meta["dependency_versions"] = get_dependency_versions()
    document = {
        "format": PROGRAM_FORMAT,
        "program_class": class_path(program),
        **state,
        "metadata": to_jsonable(meta, max_text=None),
    }
    text = json.dumps(_scrub(document), indent=2, ensure_ascii=False)
    atomic_write_text(path, redact(text) + "\n")
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    return dict(_read_document(Path(path))["metadata"])


def _read_document(path: Path) -> dict[str, Any]:
    document = read_json(path, "saved program")
    if not isinstance(document, dict) or document.get("format") not in _READABLE_FORMATS:
        raise DataError(
            "not a program saved by promptkit (format key missing or unknown)",
            path=str(path),
            hint="load DSPy's own files with program.load(path); save with promptkit.optimize.save_program",
        )
    return document


def saved_state(document: Mapping[str, Any]) -> dict[str, Any]:
    """The program state of a saved document (format /1 kept it under "state")."""
    if "state" in document and document.get("format") == "promptkit.program/1":
        return dict(document["state"])
    return {k: v for k, v in document.items() if k not in _DOCUMENT_KEYS}


def load(path: str | Path, program: Any = None) -> Any:
    """Load a program saved by :func:`save_program`.

    Without ``program`` the recorded class is imported and built with no arguments; pass an
    instance when the class needs arguments (e.g. ``load(path, program=RAG(retriever))``).
    """
    path = Path(path)
    document = _read_document(path)
    meta = document.get("metadata", {})
    recorded_class = str(document.get("program_class", ""))
    if program is None:
        program = _instantiate(recorded_class, path)
    elif class_path(program) != recorded_class:
        _warn(f"{path} was saved from {recorded_class}, loading it into {class_path(program)}")
    _check_versions(path, meta, program)
    try:
        program.load_state(saved_state(document))
    except (KeyError, AttributeError, TypeError, ValueError) as exc:
        raise DataError(
            f"the saved state does not fit {class_path(program)}: {type(exc).__name__}: {exc}",
            path=str(path),
            hint="load it into an instance of the class it was saved from",
        ) from None
    return program


def _instantiate(recorded: str, path: Path) -> Any:
    module_name, _, qualname = recorded.partition(":")
    hint = "pass the program to fill: promptkit.load(path, program=MyProgram(...))"
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError, ValueError):
        raise InputError(f"{path}: cannot import the program class {recorded!r}", hint=hint) from None
    try:
        return target()
    except TypeError as exc:
        raise InputError(f"{path}: {recorded} cannot be built without arguments ({exc})", hint=hint) from None


def _check_versions(path: Path, meta: Mapping[str, Any], program: Any) -> None:
    running = versions()
    for key, label in (("dspy_version", "DSPy"), ("promptkit_version", "promptkit")):
        saved = meta.get(key)
        if saved and saved != running[key]:
            _warn(f"{path} was saved with {label} {saved}; running {label} {running[key]}: check its predictions")
    saved_templates = meta.get("template_versions") or {}
    current = template_versions_of(program)
    changed = sorted(k for k, v in saved_templates.items() if k in current and current[k] != v)
    if changed:
        _warn(f"{path}: templates changed since the program was compiled: {', '.join(changed)}; recompile it")


def _warn(message: str) -> None:
    logger.warning(message)
    warnings.warn(message, ProgramVersionWarning, stacklevel=3)
