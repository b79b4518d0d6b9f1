"""``Chain``: steps whose outputs feed later steps, checked when built and run against any DSPy LM.

::

    from promptkit import Chain, Step

    chain = Chain(
        steps=[
            Step(name="extract", template="telecom_feedback/extract.j2", output="list", separator=";"),
            Step(name="classify", template="telecom_feedback/classify.j2", output="json",
                 schema={"type": "object", "additionalProperties": {"type": "string"}},
                 inputs={"issues": "extract"}),
        ],
        inputs=["feedback"],
    )
    result = chain.run(lm, feedback="The network dropped twice today.")
    result.output                 # classify's parsed JSON
    result["extract"].messages    # what extract sent

Building the chain loads every template and checks every reference, type and dependency, so an
unknown step, a cycle or a missing input fails before any LM call (see :mod:`promptkit.chains.plan`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from promptkit.chains.errors import ChainSpecError, ChainStepError
from promptkit.chains.plan import StepPlan, build_plans, execution_order, final_steps
from promptkit.chains.result import ChainResult, StepResult
from promptkit.chains.run import run_plans
from promptkit.chains.step import Step
from promptkit.chains.values import ChainInput, parse_inputs
from promptkit.errors import InputError
from promptkit.prompts import TemplateEnv

DEFAULT_MAX_WORKERS = 4


def _template_env(base_dir: Path | None) -> TemplateEnv:
    """The configured environment, with ``base_dir`` (a spec's folder) searched first."""
    from promptkit.config import load_settings
    from promptkit.prompts import default_env

    settings = load_settings()
    if base_dir is None:
        return default_env(settings)
    roots: list[str | Path] = [base_dir, *settings.template_dirs]
    return TemplateEnv(roots, max_bytes=settings.render_max_bytes, timeout=settings.render_timeout)


class Chain:
    """A checked multi-step prompt chain.

    Args:
        steps: the :class:`Step` objects (any order; each runs after the steps it needs).
        inputs: the chain's inputs: names, :class:`ChainInput` objects, or a mapping
            ``name -> type name | {type, description, required, default}``.
        output: the step (a name: the result is its output) or steps (a list: ``{step: output}``)
            that form the result; default the steps no other step uses.
        name, description: shown in results and errors.
        env: the template environment (default: configured user dirs + bundled templates, with
            ``base_dir`` first when given).
        base_dir: folder for relative template names and schema files (a YAML spec's folder).
        max_workers: how many independent steps may run at once (1 = strictly one after another).
    """

    DEFAULT_MAX_WORKERS = DEFAULT_MAX_WORKERS

    def __init__(
        self,
        steps: Sequence[Step],
        inputs: Any = (),
        *,
        output: str | Sequence[str] | None = None,
        name: str = "chain",
        description: str = "",
        env: TemplateEnv | None = None,
        base_dir: str | Path | None = None,
        max_workers: int = DEFAULT_MAX_WORKERS,
    ) -> None:
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ChainSpecError(
                f"max_workers must be a positive integer, got {max_workers!r}", key_path=("max_workers",)
            )
        self.name = name
        self.description = description
        self.max_workers = max_workers
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self.inputs: dict[str, ChainInput] = parse_inputs(inputs)
        self.steps: tuple[Step, ...] = tuple(steps)
        self.env = env if env is not None else _template_env(self.base_dir)
        self._plans: list[StepPlan] = build_plans(self.steps, self.inputs, self.env, chain=name, base_dir=self.base_dir)
        self._order = execution_order(self._plans)
        self.output_steps, self._single_output = final_steps(self._plans, output)

    # -- inspection -----------------------------------------------------------------------------
    @property
    def order(self) -> list[str]:
        """Step names in the order they are started (dependencies first, then declaration order)."""
        return [plan.name for plan in self._order]

    def needs(self, step: str) -> list[str]:
        """The steps ``step`` waits for."""
        return list(self.plan(step).needs)

    def bindings(self, step: str) -> dict[str, str]:
        """Template input -> reference text, for ``step``."""
        return {variable: ref.text for variable, ref in self.plan(step).bindings.items()}

    def plan(self, step: str) -> StepPlan:
        """The checked step: its template, output spec and where each template input comes from."""
        for plan in self._plans:
            if plan.name == step:
                return plan
        raise KeyError(f"chain {self.name!r} has no step {step!r}")

    def __repr__(self) -> str:
        return f"Chain({self.name!r}, steps={self.order}, inputs={list(self.inputs)})"

    # -- inputs ---------------------------------------------------------------------------------
    def check_inputs(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Values for every chain input (defaults filled in); InputError for missing/unknown/mistyped ones."""
        unknown = sorted(set(values) - set(self.inputs))
        if unknown:
            declared = ", ".join(self.inputs) or "none"
            raise InputError(
                f"chain {self.name!r} has no input {unknown[0]!r} (its inputs: {declared})",
                hint="remove it, or declare it in the chain's inputs",
            )
        checked: dict[str, Any] = {}
        for name, spec in self.inputs.items():
            if name in values:
                checked[name] = spec.check(values[name], self.name)
            elif spec.required:
                about = f" ({spec.description})" if spec.description else ""
                raise InputError(
                    f"chain {self.name!r} needs input {name!r}{about}",
                    hint=f"pass {name}=... (CLI: --input {name}=VALUE or --input {name}=@file.txt)",
                )
            else:
                checked[name] = spec.default
        return checked

    def coerce_inputs(self, texts: Mapping[str, str]) -> dict[str, Any]:
        """Command-line strings converted to each input's declared type (unknown names are kept for
        :meth:`check_inputs` to report)."""
        return {
            name: self.inputs[name].coerce(text, self.name) if name in self.inputs else text
            for name, text in texts.items()
        }

    # -- running --------------------------------------------------------------------------------
    def run(
        self,
        lm: Any = None,
        *,
        max_workers: int | None = None,
        values: Mapping[str, Any] | None = None,
        **inputs: Any,
    ) -> ChainResult:
        """Run the chain. ``lm`` None means ``dspy.settings.lm``, else ``promptkit.lm()``.

        Inputs come as keyword arguments and/or the ``values`` mapping.
        """
        from promptkit.lm import choose_lm

        checked = self.check_inputs({**(values or {}), **inputs})
        model = choose_lm(lm)
        workers = self.max_workers if max_workers is None else max_workers
        started = time.perf_counter()

        def attach_partial(error: BaseException, done: dict[str, StepResult]) -> None:
            if isinstance(error, ChainStepError):
                error.partial = self._result(model, checked, done, time.perf_counter() - started)
            elif hasattr(error, "add_note"):
                failed = [p.name for p in self._order if p.name not in done]
                error.add_note(f"while running chain {self.name!r} (steps not completed: {', '.join(failed)})")

        results = run_plans(self._order, model, checked, max_workers=workers, on_failure=attach_partial)
        return self._result(model, checked, results, time.perf_counter() - started)

    def __call__(self, **inputs: Any) -> ChainResult:
        return self.run(**inputs)

    def _result(self, lm: Any, inputs: dict[str, Any], done: Mapping[str, StepResult], latency: float) -> ChainResult:
        ordered = {plan.name: done[plan.name] for plan in self._plans if plan.name in done}
        present = [name for name in self.output_steps if name in ordered]
        if self._single_output:
            output = ordered[present[0]].output if present else None
        else:
            output = {name: ordered[name].output for name in present}
        return ChainResult(
            chain=self.name,
            model=getattr(lm, "model", None),
            inputs=inputs,
            output=output,
            output_steps=list(self.output_steps),
            steps=ordered,
            latency=latency,
        )

    @classmethod
    def from_yaml(cls, path: str | Path) -> Chain:
        """Load a YAML chain spec (see :func:`promptkit.chains.spec.load_chain`)."""
        from promptkit.chains.spec import load_chain

        return load_chain(path)


__all__ = ["DEFAULT_MAX_WORKERS", "Chain"]
