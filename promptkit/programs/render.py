"""A program's prompts without an LM: the messages each predictor would send, in order.

``render_program(program, question="...")`` asks the adapter to format every predictor's signature,
instructions and demos exactly as a call would (``TemplateAdapter.format``, the one rendering path),
and fills inputs it was not given with placeholders (``{context}``). An input is a placeholder when
no value was passed for it: typically what a retriever or an earlier predictor produces at run time.
A chain (a ``Chain``, or a chain YAML as :func:`resolve_program` returns it) renders each step's
template in run order, steps fed by earlier steps getting placeholders.

The reply shape is the one used without an LM (``[[ ## field ## ]]`` markers): an LM that enforces a
JSON schema gets the JSON variant of the same template at run time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from promptkit.chains import Chain
from promptkit.errors import InputError


@dataclass(frozen=True)
class RenderedPredictor:
    """One predictor's (or chain step's) prompt: its fields, the messages, and which inputs are placeholders."""

    name: str
    inputs: list[str]
    outputs: list[str]
    messages: list[dict[str, Any]]
    placeholders: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def placeholder(name: str) -> str:
    return "{" + name + "}"


def render_program(program: Any, /, *, adapter: Any = None, **inputs: Any) -> list[RenderedPredictor]:
    """The messages every predictor of ``program`` would send, in ``named_predictors()`` order.

    ``adapter`` defaults to DSPy's configured adapter when it is a ``TemplateAdapter``, else a default
    ``TemplateAdapter``. No LM is called or needed.
    """
    chain = program if isinstance(program, Chain) else getattr(program, "chain", None)
    if isinstance(chain, Chain):
        return _render_chain(chain, inputs)
    named = getattr(program, "named_predictors", None)
    if named is None:
        raise InputError(
            f"{type(program).__name__} has no predictors to render",
            hint="render a dspy.Module, a technique, a chain or a compiled program",
        )
    from promptkit.adapter.mode import CURRENT_BUDGETS, CURRENT_MODE

    adapter = adapter if adapter is not None else default_adapter()
    # The reply shape and budgets are per call (the adapter sets them from the LM); with no LM they are
    # the no-constraint defaults, whatever a caller's context holds.
    mode, budgets = CURRENT_MODE.set("markers"), CURRENT_BUDGETS.set({})
    try:
        rendered = [_render_predictor(name, predictor, adapter, inputs) for name, predictor in named()]
    finally:
        CURRENT_MODE.reset(mode)
        CURRENT_BUDGETS.reset(budgets)
    _check_known(inputs, {name for r in rendered for name in r.inputs})
    return rendered


def _check_known(inputs: Mapping[str, Any], known: set[str]) -> None:
    # A misspelt name would otherwise leave its input a placeholder without a word.
    unknown = sorted(set(inputs) - known)
    if unknown:
        raise InputError(
            f"no predictor takes input {unknown[0]!r} (inputs: {', '.join(sorted(known)) or 'none'})",
            hint="check the name; inputs not given are rendered as placeholders",
        )


def default_adapter() -> Any:
    import dspy

    from promptkit.adapter import TemplateAdapter

    configured = dspy.settings.adapter
    return configured if isinstance(configured, TemplateAdapter) else TemplateAdapter()


def _render_predictor(name: str, predictor: Any, adapter: Any, inputs: Mapping[str, Any]) -> RenderedPredictor:
    import dspy

    from promptkit.adapter.override import attached_template

    signature = predictor.signature
    values: dict[str, Any] = {}
    missing: list[str] = []
    for field_name, info in signature.input_fields.items():
        if field_name in inputs:
            values[field_name] = inputs[field_name]
        elif info.annotation is dspy.History:
            continue  # no conversation yet: an absent history renders no turns (a string would not be one)
        else:
            values[field_name] = placeholder(field_name)
            missing.append(field_name)
    attached = attached_template(predictor)  # loaded with templates=DIR: what it sends comes from its file
    with attached.active() if attached is not None else contextlib.nullcontext():
        messages = adapter.format(signature, list(getattr(predictor, "demos", None) or []), values)
    return RenderedPredictor(name, list(signature.input_fields), list(signature.output_fields), messages, missing)


def _render_chain(chain: Chain, inputs: Mapping[str, Any]) -> list[RenderedPredictor]:
    _check_known(inputs, set(chain.inputs))
    given = chain.coerce_inputs({k: v for k, v in inputs.items() if isinstance(v, str)})
    given.update({k: v for k, v in inputs.items() if not isinstance(v, str)})
    results = []
    for step in chain.order:
        plan = chain.plan(step)
        values: dict[str, Any] = {}
        missing: list[str] = []
        for variable, ref in plan.bindings.items():
            if ref.kind == "input" and ref.source in given:
                values[variable] = ref.resolve(given, {}, {})
            else:
                spec = plan.template.inputs.get(variable)
                values[variable] = _shaped(placeholder(variable), spec.type.name if spec else "str")
                missing.append(variable)
        messages = [dict(m) for m in plan.template.render_messages(values)]
        results.append(RenderedPredictor(step, list(plan.bindings), [step], messages, missing))
    return results


def _shaped(text: str, type_name: str) -> Any:
    # A typed template input refuses a bare string: the placeholder takes the declared container's shape.
    if type_name.startswith("list"):
        return [text]
    if type_name == "dict":
        return {"...": text}
    return text


__all__ = ["RenderedPredictor", "render_program"]
