"""Checking a chain before anything runs: templates, bindings, types, dependencies, cycles.

:func:`build_plans` turns steps into :class:`StepPlan` objects (template loaded, output spec
built, every template input bound to a reference) and :func:`execution_order` sorts them so each
step follows what it needs. Every problem raises :class:`ChainSpecError` located by ``key_path``
(``("steps", 2, "inputs", "issues")``), which the YAML loader turns into a file line.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

from jinja2 import Environment, TemplateSyntaxError, meta
from jinja2.defaults import DEFAULT_NAMESPACE

from promptkit.chains.errors import ChainSpecError, KeyPath
from promptkit.chains.output import OutputSpec, build_output_spec
from promptkit.chains.step import Reference, Step, parse_reference
from promptkit.chains.values import ChainInput, json_path_type
from promptkit.errors import TemplateError, TemplateSecurityError
from promptkit.prompts import Template, TemplateEnv
from promptkit.prompts.extension import PromptExtension
from promptkit.prompts.types import compatible

# The header lines put in front of an inline prompt that has none (its inputs, declared for it).
SYNTHETIC_HEADER_LINES = 2
# Names a prompt may not use (the sandbox refuses them); left undeclared so its check reports them.
_SANDBOX_NAMES = frozenset({"config", "request", "lipsum", "cycler", "joiner", "self"})


@dataclass
class StepPlan:
    """A checked step: what to render, how to parse, where each template input comes from."""

    step: Step
    index: int
    template: Template
    output: OutputSpec
    bindings: dict[str, Reference] = field(default_factory=dict)
    needs: dict[str, KeyPath] = field(default_factory=dict)  # step name -> where the need is stated

    @property
    def name(self) -> str:
        return self.step.name


def inline_variables(source: str) -> list[str]:
    """The variables an inline prompt reads (parsed only, never rendered)."""
    try:
        ast = Environment(extensions=[PromptExtension]).parse(source)  # the one {% message %} parser
    except TemplateSyntaxError as exc:
        raise ChainSpecError(
            f"the inline prompt is not valid Jinja: {exc.message}", key_path=("prompt",), template_line=exc.lineno
        ) from None
    names = meta.find_undeclared_variables(ast) - set(DEFAULT_NAMESPACE) - _SANDBOX_NAMES
    return sorted(names)


def _inline_source(prompt: str) -> tuple[str, int]:
    """The prompt with an input header when it has none, and how many lines that header adds."""
    if prompt.lstrip().startswith("{#---"):
        return prompt, 0
    names = inline_variables(prompt)
    if not names:
        return prompt, 0
    declared = ", ".join(f"{name}: {{type: any}}" for name in names)
    # The source starts on the header's last line (after ---#}), so exactly two lines are added.
    return f"{{#---\ninputs: {{{declared}}}\n---#}}{prompt}", SYNTHETIC_HEADER_LINES


def _strip_location(exc: TemplateError) -> str:
    prefix = f"template {exc.template!r}" + (f", line {exc.line}" if exc.line is not None else "") + ": "
    message = exc.message
    return message[len(prefix) :] if message.startswith(prefix) else message


def load_template(step: Step, env: TemplateEnv, chain: str) -> Template:
    """The step's template, with load errors located at its ``template`` / ``prompt`` key."""
    if step.template is not None:
        try:
            return env.get(step.template)
        except TemplateSecurityError:
            raise
        except TemplateError as exc:
            # exc.message starts "template 'x.j2'[, line N]: ", which locates problems inside the file.
            raise ChainSpecError(f"step {step.name!r}: {exc.message}", key_path=("template",), hint=exc.hint) from exc
    assert step.prompt is not None
    source, added = _inline_source(step.prompt)
    try:
        return env.from_string(source, name=f"{chain}.{step.name} (inline prompt)")
    except TemplateSecurityError:
        raise
    except TemplateError as exc:
        line = exc.line - added if exc.line is not None and exc.line > added else None
        where = f"line {line} of its prompt: " if line is not None else ""
        raise ChainSpecError(
            f"step {step.name!r}: {where}{_strip_location(exc)}",
            key_path=("prompt",),
            template_line=line,
            hint=exc.hint,
        ) from exc


def _source_type(ref: Reference, inputs: Mapping[str, ChainInput], specs: Mapping[str, OutputSpec]) -> str:
    if ref.kind == "raw":
        return "str"
    if ref.kind == "input":
        return "any" if ref.path else inputs[ref.source].type
    spec = specs[ref.source]
    if not ref.path:
        return spec.type_name
    return json_path_type(spec.json_schema, ref.path)


def _bind(plan: StepPlan, inputs: Mapping[str, ChainInput], specs: Mapping[str, OutputSpec]) -> None:
    step, template = plan.step, plan.template
    names, steps = list(inputs), list(specs)
    for variable in step.inputs:
        if variable not in template.inputs:
            declared = ", ".join(template.inputs) or "none"
            raise ChainSpecError(
                f"step {step.name!r} maps {variable!r}, which template {template.name!r} does not declare "
                f"(its inputs: {declared})",
                key_path=("inputs", variable),
                hint="map one of the template's inputs, or declare this one in its front matter",
            )
    for variable, spec in template.inputs.items():
        origin: KeyPath
        if variable in step.inputs:
            origin = ("inputs", variable)
            try:
                ref = parse_reference(step.inputs[variable], names, steps)
            except ValueError as exc:
                raise ChainSpecError(
                    f"step {step.name!r}, input {variable!r} = {step.inputs[variable]!r}: {exc}", key_path=origin
                ) from None
        elif variable in inputs or variable in specs:
            origin = ("template",) if step.template is not None else ("prompt",)
            ref = parse_reference(variable, names, steps)
        elif spec.required:
            raise ChainSpecError(
                f"step {step.name!r}: template {template.name!r} needs input {variable!r} ({spec.type_name}), "
                "but the chain has no input and no step of that name",
                key_path=("template",) if step.template is not None else ("prompt",),
                hint=f"declare {variable!r} under the chain's inputs, or map it: inputs: {{{variable}: SOURCE}}",
            )
        else:
            continue  # optional: the template's default applies
        source_type = _source_type(ref, inputs, specs)
        if not compatible(source_type, spec.type_name):
            what = f"chain input {ref.source!r}" if ref.kind == "input" else f"step {ref.source!r}"
            raise ChainSpecError(
                f"step {step.name!r}: template input {variable!r} expects {spec.type_name}, but {what} "
                f"({ref.text}) gives {source_type}",
                key_path=origin,
                hint="change the template input's type, the source's output kind/schema, or map another reference",
            )
        plan.bindings[variable] = ref
        if ref.kind != "input":
            plan.needs.setdefault(ref.source, origin)


def build_plans(
    steps: Sequence[Step],
    inputs: Mapping[str, ChainInput],
    env: TemplateEnv,
    *,
    chain: str,
    base_dir: Path | None,
) -> list[StepPlan]:
    """Load, bind and type-check every step (two passes: outputs first, so any order of steps works)."""
    seen: dict[str, int] = {}
    for index, step in enumerate(steps):
        if not isinstance(step, Step):
            raise ChainSpecError(f"steps[{index}] is a {type(step).__name__}, not a Step", key_path=("steps", index))
        if step.name in seen:
            raise ChainSpecError(f"step name {step.name!r} is used twice", key_path=("steps", index, "name"))
        if step.name in inputs:
            raise ChainSpecError(
                f"step {step.name!r} has the name of a chain input; references would be ambiguous",
                key_path=("steps", index, "name"),
            )
        seen[step.name] = index
    if not steps:
        raise ChainSpecError("a chain needs at least one step", key_path=("steps",))
    plans: list[StepPlan] = []
    specs: dict[str, OutputSpec] = {}
    for index, step in enumerate(steps):
        try:
            spec = build_output_spec(
                step.output, schema=step.schema, separator=step.separator, repair=step.repair, base_dir=base_dir
            )
            template = load_template(step, env, chain)
        except ChainSpecError as exc:
            raise exc.within("steps", index) from exc.__cause__
        specs[step.name] = spec
        plans.append(StepPlan(step, index, template, spec))
    for plan in plans:
        try:
            _bind(plan, inputs, specs)
            for position, dependency in enumerate(plan.step.depends):
                if dependency not in specs:
                    raise ChainSpecError(
                        f"step {plan.name!r} depends on unknown step {dependency!r} (steps: {', '.join(specs)})",
                        key_path=("depends", position),
                    )
                plan.needs.setdefault(dependency, ("depends", position))
        except ChainSpecError as exc:
            raise exc.within("steps", plan.index) from None
    return plans


def _cycle(plans: Mapping[str, StepPlan], predecessors_first: Sequence[str]) -> list[str]:
    """graphlib's cycle (each step before the step that needs it) as ``a -> b -> a`` where each step needs
    the next, starting at the step declared first."""
    steps = list(reversed(predecessors_first[:-1]))
    start = min(range(len(steps)), key=lambda i: plans[steps[i]].index)
    steps = steps[start:] + steps[:start]
    return [*steps, steps[0]]


def execution_order(plans: Sequence[StepPlan]) -> list[StepPlan]:
    """Steps sorted so each comes after what it needs; ties keep declaration order. Refuses cycles."""
    by_name = {plan.name: plan for plan in plans}
    sorter = TopologicalSorter({plan.name: list(plan.needs) for plan in plans})
    try:
        sorter.prepare()
    except CycleError as exc:
        cycle = _cycle(by_name, exc.args[1])
        first = by_name[cycle[0]]
        raise ChainSpecError(
            f"steps form a cycle: {' -> '.join(cycle)} (step {cycle[0]!r} needs {cycle[1]!r})",
            key_path=("steps", first.index, *first.needs[cycle[1]]),
            hint="a step can only use the outputs of steps that do not (indirectly) use its own output",
        ) from None
    # Of the steps whose needs are done, the one declared first runs next.
    ready = [(by_name[name].index, name) for name in sorter.get_ready()]
    heapq.heapify(ready)
    ordered: list[StepPlan] = []
    while ready:
        _, name = heapq.heappop(ready)
        ordered.append(by_name[name])
        sorter.done(name)
        for other in sorter.get_ready():
            heapq.heappush(ready, (by_name[other].index, other))
    return ordered


def final_steps(plans: Sequence[StepPlan], output: Any) -> tuple[list[str], bool]:
    """The steps whose outputs form the result, and whether the result is a single value.

    ``output`` None means the steps no other step needs (a single one gives a single value).
    """
    names = [plan.name for plan in plans]
    if output is None:
        needed = {need for plan in plans for need in plan.needs}
        sinks = [name for name in names if name not in needed]
        return sinks, len(sinks) == 1
    chosen = [output] if isinstance(output, str) else list(output)
    if not chosen:
        raise ChainSpecError("output must name at least one step", key_path=("output",))
    for position, name in enumerate(chosen):
        if not isinstance(name, str) or name not in names:
            where: KeyPath = ("output",) if isinstance(output, str) else ("output", position)
            raise ChainSpecError(
                f"output names unknown step {name!r} (steps: {', '.join(names)})",
                key_path=where,
            )
    return chosen, isinstance(output, str)


__all__ = ["StepPlan", "build_plans", "execution_order", "final_steps", "inline_variables", "load_template"]
