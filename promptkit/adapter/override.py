"""A predictor's own template: the hook behind ``promptkit.load(program, templates=DIR)``.

The adapter is shared by every predictor and is called without knowing which one calls it, so the
template travels with the call: a predictor given a template becomes a :class:`TemplatedPredict`
(its class swapped for a subclass that adds only this), whose ``forward`` / ``aforward`` set
:data:`PREDICTOR_TEMPLATE` for the call; ``TemplateAdapter.format`` then renders through that
template instead of its own. A call made under another adapter (DSPy's ChatAdapter, say) runs under
a default ``TemplateAdapter``, so the file is what is sent whatever the caller configured.

The template lives in the predictor's ``__dict__`` and its class is a real subclass, so copies
(``deepcopy``, DSPy's ``reset_copy``, the optimizers' copies) keep it; DSPy drops a module's
``callbacks`` when it copies one, which is why this is not a callback. The template is fetched from
its environment on every call, which notices an edited file: the next call sends the edit.

An exported template takes the signature's inputs by name (their prompt text, formatted as the
adapter formats them), ``output_mode``, ``budgets`` and, for a predictor with a ``dspy.History``
input, ``history`` (``[{<input>: text, reply: text}]``); its instructions and demos are its own text,
so the predictor's ``signature.instructions`` and ``demos`` are not used while it has one.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import dspy

if TYPE_CHECKING:
    from promptkit.prompts import Template, TemplateEnv

PREDICTOR_TEMPLATE: contextvars.ContextVar[Template | None] = contextvars.ContextVar(
    "promptkit_predictor_template", default=None
)
_ATTRIBUTE = "promptkit_template"


def takes_inputs_by_name(template: Template) -> bool:
    """An exported template declares the inputs by name; the adapter's own templates take ``task``."""
    return "task" not in template.inputs


def values_by_name(values: Mapping[str, Any], budgets: Mapping[str, int], template: Template) -> dict[str, Any]:
    """What an exported template receives: each input's prompt text by name, the reply mode and budgets."""
    # A dspy.History's turns by name too; an input named history (a string) wins over them.
    by_name: dict[str, Any] = {
        "history": [
            {**{f["name"]: f["value"] for f in turn["inputs"]}, "reply": turn["reply"]}
            for turn in values.get("history", ())
        ]
    }
    by_name.update({field["name"]: field["value"] for field in values["task"]})
    by_name.update(output_mode=values["output_mode"], budgets=dict(budgets))
    return {name: value for name, value in by_name.items() if name in template.inputs}


class PredictorTemplate:
    """Which template a predictor renders through: ``name`` in ``env`` (``source``: the file, for messages)."""

    def __init__(self, env: TemplateEnv, name: str, source: str) -> None:
        self.env = env
        self.name = name
        self.source = source

    def __repr__(self) -> str:
        return f"PredictorTemplate({self.source!r})"

    def __deepcopy__(self, memo: dict[int, Any]) -> PredictorTemplate:
        return self  # immutable, and the environment (locks, caches) is shared on purpose

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        from promptkit.adapter.core import TemplateAdapter

        token = PREDICTOR_TEMPLATE.set(self.env.get(self.name))
        try:
            if isinstance(dspy.settings.adapter, TemplateAdapter):
                yield
            else:
                with dspy.context(adapter=TemplateAdapter()):
                    yield
        finally:
            PREDICTOR_TEMPLATE.reset(token)


class TemplatedPredict(dspy.Predict):
    """A ``dspy.Predict`` whose calls render through its :class:`PredictorTemplate`."""

    def forward(self, **kwargs: Any) -> Any:
        with self.__dict__[_ATTRIBUTE].active():
            return super().forward(**kwargs)

    async def aforward(self, **kwargs: Any) -> Any:
        with self.__dict__[_ATTRIBUTE].active():
            return await super().aforward(**kwargs)


_SUBCLASSES: dict[type, type] = {dspy.Predict: TemplatedPredict}


def _templated_class(base: type) -> type:
    if issubclass(base, TemplatedPredict):
        return base
    if base not in _SUBCLASSES:
        # A user's Predict subclass: the same two methods over it (TemplatedPredict first in the MRO).
        _SUBCLASSES[base] = type(f"Templated{base.__name__}", (TemplatedPredict, base), {"__module__": __name__})
    return _SUBCLASSES[base]


def attached_template(predictor: Any) -> PredictorTemplate | None:
    found = getattr(predictor, "__dict__", {}).get(_ATTRIBUTE)
    return found if isinstance(found, PredictorTemplate) else None


def attach_template(predictor: Any, env: TemplateEnv, name: str, source: str) -> None:
    """Make ``predictor`` render through the template ``name`` of ``env`` (replacing one attached before)."""
    predictor.__dict__[_ATTRIBUTE] = PredictorTemplate(env, name, source)
    predictor.__class__ = _templated_class(type(predictor))
