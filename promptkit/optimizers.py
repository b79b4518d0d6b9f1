"""The DSPy 3.4 optimizers promptkit offers: one table, and how each is built and compiled.

Each optimizer's options are validated against its own constructor / ``compile`` signature, so a
new DSPy option works without a change here and a misspelt one is an error naming the known ones.
What differs between optimizers (which LM reflects, which embedder KNN uses, the budgets that fit
a small set) is in :func:`build`; everything else is DSPy's.
"""

from __future__ import annotations

import importlib.util
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptkit.errors import InputError, MissingDependencyError

EXTRA = "promptkit[optimize]"


@dataclass(frozen=True)
class OptimizerSpec:
    name: str
    dspy_class: str
    tunes: str  # what the optimizer changes in the program
    summary: str
    needs: tuple[str, ...] = ()  # importable modules from promptkit[optimize]
    metric: bool = True
    valset: bool = False  # scores candidates on a validation set
    caveat: str | None = None  # what a user of the saved program must know
    # Where the optimizer keeps its own state when given ``log_dir``: what an interrupted run leaves behind.
    log_dir_keeps: str | None = None


OPTIMIZERS: dict[str, OptimizerSpec] = {
    spec.name: spec
    for spec in (
        OptimizerSpec(
            "labeled_fewshot", "LabeledFewShot", "demos", "k random labelled examples as demos", metric=False
        ),
        OptimizerSpec(
            "bootstrap_fewshot",
            "BootstrapFewShot",
            "demos",
            "runs the program on train, keeps the traces the metric passes as demos",
        ),
        OptimizerSpec(
            "bootstrap_random_search",
            "BootstrapFewShotWithRandomSearch",
            "demos",
            "several bootstrapped demo sets, the best on val",
            valset=True,
        ),
        OptimizerSpec(
            "knn_fewshot",
            "KNNFewShot",
            "demos (per input)",
            "bootstraps demos from the k train examples nearest each input (promptkit's embedder)",
            caveat="knn_fewshot picks demos per input at run time from the train set; program.json holds "
            "the program without them (a loaded program predicts zero-shot) — use the compiled "
            "program in-process (promptkit.compile) or bootstrap_fewshot for a saved one",
        ),
        OptimizerSpec("copro", "COPRO", "instructions", "coordinate ascent over LM-proposed instructions"),
        OptimizerSpec(
            "miprov2",
            "MIPROv2",
            "instructions + demos",
            "proposes instructions and demo sets, Bayesian search (optuna) on val; auto=light|medium|heavy",
            needs=("optuna",),
            valset=True,
            log_dir_keeps="every evaluated candidate program (evaluated_programs/), kept if interrupted",
        ),
        OptimizerSpec(
            "simba",
            "SIMBA",
            "instructions + demos",
            "stochastic mini-batch ascent: self-reflective rules and demos from hard examples",
        ),
        OptimizerSpec(
            "gepa",
            "GEPA",
            "instructions",
            "reflective prompt evolution with a reflection LM (--reflection-model), Pareto selection on val",
            needs=("gepa",),
            valset=True,
            log_dir_keeps="GEPA's checkpoints: rerunning the same command resumes an interrupted run",
        ),
    )
}


@dataclass
class Resources:
    """What the caller supplies besides options: LMs for the optimizer's own roles, KNN's embedder."""

    teacher_lm: Any = None
    reflection_lm: Any = None  # GEPA's reflection LM; COPRO / MIPROv2 / SIMBA's prompt model
    embedder: Any = None  # a texts -> vectors callable for knn_fewshot (default: promptkit's Embedder)
    seed: int | None = None
    num_threads: int | None = None
    trainset: Sequence[Any] = field(default_factory=list)
    valset: Sequence[Any] | None = None


def spec_for(name: str) -> OptimizerSpec:
    spec = OPTIMIZERS.get(name)
    if spec is None:
        raise InputError(f"unknown optimizer {name!r}", hint=f"choose one of: {', '.join(OPTIMIZERS)}")
    missing = [module for module in spec.needs if importlib.util.find_spec(module) is None]
    if missing:
        raise MissingDependencyError(
            f"the {name} optimizer needs {', '.join(missing)}, which is not installed", hint=f"pip install '{EXTRA}'"
        )
    return spec


def preflight(name: str, options: Mapping[str, Any], reflection_lm: Any = None) -> OptimizerSpec:
    """Everything checkable before any LM call: the optimizer exists, its extra is installed, the LMs it
    needs are given."""
    spec = spec_for(name)
    if name == "gepa" and reflection_lm is None and options.get("reflection_lm") is None:
        raise InputError(
            "the gepa optimizer needs a reflection LM",
            hint="pass --reflection-model MODEL (reflection_lm=...): a strong model reads the "
            "failures and rewrites the instructions",
        )
    _route(spec, options)
    return spec


def _route(spec: OptimizerSpec, options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    import dspy

    if spec.name == "knn_fewshot":
        # KNNFewShot forwards unknown constructor kwargs to BootstrapFewShot: validate them against it.
        ctor, comp = split_options(dspy.BootstrapFewShot, {k: v for k, v in options.items() if k != "k"})
        ctor["k"] = options.get("k", 3)
        return ctor, comp
    return split_options(getattr(dspy, spec.dspy_class), options)


def split_options(optimizer_cls: Any, options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Route each option to the optimizer's constructor or its compile(); reject unknown names."""
    reserved = {"self", "metric", "student", "trainset", "valset"}
    ctor = {
        name
        for name, p in inspect.signature(optimizer_cls.__init__).parameters.items()
        if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    } - reserved
    comp = set(inspect.signature(optimizer_cls.compile).parameters) - reserved
    ctor_kwargs: dict[str, Any] = {}
    compile_kwargs: dict[str, Any] = {}
    for name, value in options.items():
        if name in ctor:
            ctor_kwargs[name] = value
        elif name in comp:
            compile_kwargs[name] = value
        else:
            raise InputError(
                f"{optimizer_cls.__name__} has no option {name!r}",
                hint=f"known options: {', '.join(sorted(ctor | comp))}",
            )
    return ctor_kwargs, compile_kwargs


def build(
    spec: OptimizerSpec, metric: Callable[..., Any] | None, options: Mapping[str, Any], resources: Resources
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """(the DSPy optimizer, the kwargs for its compile(), the options as recorded)."""
    import dspy

    optimizer_cls = getattr(dspy, spec.dspy_class)
    extra: dict[str, Any] = {}
    ctor, comp = _route(spec, options)
    if spec.metric:
        if metric is None:
            raise InputError(
                f"the {spec.name} optimizer needs a metric", hint="pass metric='exact_match' or a callable"
            )
        ctor["metric"] = _gepa_metric(metric) if spec.name == "gepa" else metric
    _defaults(spec, ctor, comp, resources, extra)
    recorded = {**ctor, **comp}
    try:
        teleprompter = optimizer_cls(**ctor, **extra)
    except (TypeError, ValueError, AssertionError) as exc:
        raise InputError(f"invalid options for {spec.name}: {exc}") from None
    if spec.valset and resources.valset is not None:
        comp["valset"] = list(resources.valset)
    if spec.name != "knn_fewshot":
        comp["trainset"] = list(resources.trainset)
    return teleprompter, comp, recorded


def _defaults(
    spec: OptimizerSpec, ctor: dict[str, Any], comp: dict[str, Any], res: Resources, extra: dict[str, Any]
) -> None:
    """The per-optimizer wiring: LMs, seeds and budgets that fit the sets given (DSPy's defaults assume
    hundreds of examples: SIMBA's batch of 32 and MIPROv2's minibatch of 35 fail on a small set)."""
    n_train, n_val = len(res.trainset), len(res.valset or res.trainset)
    if res.teacher_lm is not None and spec.name in {
        "bootstrap_fewshot",
        "bootstrap_random_search",
        "miprov2",
        "simba",
        "knn_fewshot",
    }:
        ctor.setdefault("teacher_settings", {"lm": res.teacher_lm})
    if res.num_threads is not None and spec.name in {"bootstrap_random_search", "miprov2", "simba", "gepa"}:
        ctor.setdefault("num_threads", res.num_threads)
    if spec.name == "knn_fewshot":
        extra["trainset"] = list(res.trainset)
        extra["vectorizer"] = _vectorizer(res.embedder)
    elif spec.name == "copro":
        ctor.setdefault("prompt_model", res.reflection_lm)
        comp.setdefault("eval_kwargs", {"num_threads": res.num_threads or 1, "display_progress": False})
    elif spec.name == "miprov2":
        _miprov2_budget(ctor, comp, n_val)
        if res.reflection_lm is not None:
            ctor.setdefault("prompt_model", res.reflection_lm)
        if res.seed is not None:
            ctor.setdefault("seed", res.seed)
    elif spec.name == "simba":
        ctor.setdefault("bsize", min(32, n_train))
        if res.reflection_lm is not None:
            ctor.setdefault("prompt_model", res.reflection_lm)
        if res.seed is not None:
            comp.setdefault("seed", res.seed)
    elif spec.name == "gepa":
        ctor.setdefault("reflection_lm", res.reflection_lm)
        if not {"auto", "max_full_evals", "max_metric_calls"} & ctor.keys():
            ctor["auto"] = "light"
        if res.seed is not None:
            ctor.setdefault("seed", res.seed)


def _miprov2_budget(ctor: dict[str, Any], comp: dict[str, Any], n_val: int) -> None:
    """auto presets the candidate count; with num_trials given too, the search is capped at that many
    trials (DSPy itself refuses auto together with num_trials)."""
    from dspy.teleprompt.mipro_optimizer_v2 import AUTO_RUN_SETTINGS

    auto = ctor.get("auto", "light")
    if auto is not None and auto not in AUTO_RUN_SETTINGS:
        raise InputError(
            f"miprov2: auto={auto!r} is not one of {', '.join(AUTO_RUN_SETTINGS)}",
            hint="pass --option auto=light (or medium, heavy)",
        )
    if auto is not None and comp.get("num_trials") is not None:
        ctor["auto"] = None
        ctor.setdefault("num_candidates", AUTO_RUN_SETTINGS[auto]["n"])
    elif auto is None and comp.get("num_trials") is None:
        raise InputError(
            "miprov2: with auto=None give num_trials (and num_candidates)",
            hint="pass --option auto=light, or --option num_candidates=4 --option num_trials=8",
        )
    comp.setdefault("minibatch_size", max(1, min(35, n_val)))


def _vectorizer(embedder: Any) -> Any:
    import dspy

    if embedder is None:
        from promptkit.retrieval import Embedder

        embedder = Embedder()
    elif isinstance(embedder, str):
        from promptkit.retrieval import Embedder

        embedder = Embedder(embedder)
    # caching=False: dspy.Embedder keys its cache on the callable's source, which every Embedder shares.
    return dspy.Embedder(embedder, caching=False)


def _gepa_metric(metric: Callable[..., Any]) -> Callable[..., Any]:
    """GEPA calls ``metric(gold, pred, trace, pred_name, pred_trace)``; ours take (example, pred[, trace])."""

    def scored(gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None) -> float:
        value = metric(gold, pred, trace)
        return float(value) if isinstance(value, int | float | bool) and not math.isnan(float(value)) else 0.0

    scored.__name__ = getattr(metric, "__name__", "metric")
    return scored


__all__ = ["EXTRA", "OPTIMIZERS", "OptimizerSpec", "Resources", "build", "preflight", "spec_for", "split_options"]
