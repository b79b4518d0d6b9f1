"""A predictor's own template: the hook behind ``promptkit.load(program, templates=DIR)``.

The adapter is shared by every predictor and is called without knowing which one calls it, so the
template travels with the call: :class:`UseTemplate` is a DSPy callback attached to one predictor
(``predictor.callbacks``); it sets :data:`PREDICTOR_TEMPLATE` while that predictor runs, and
``TemplateAdapter.format`` renders through it instead of its own. A call made under another adapter
(DSPy's ChatAdapter, say) runs under a default ``TemplateAdapter`` instead, so the file is what is
sent whatever the caller configured.

An exported template takes the signature's inputs by name (their prompt text, formatted as the
adapter formats them), ``output_mode`` and ``budgets``; its instructions and demos are its own text,
so the predictor's ``signature.instructions`` and ``demos`` are not used while it is attached.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dspy.utils.callback import BaseCallback

if TYPE_CHECKING:
    from promptkit.prompts import Template

PREDICTOR_TEMPLATE: contextvars.ContextVar[Template | None] = contextvars.ContextVar(
    "promptkit_predictor_template", default=None
)
# The values an exported template takes besides the signature's inputs (named so no input can shadow them).
CALL_VALUES = ("output_mode", "budgets")


def takes_inputs_by_name(template: Template) -> bool:
    """An exported template declares the inputs by name; the adapter's own templates take ``task``."""
    return "task" not in template.inputs


def values_by_name(values: Mapping[str, Any], budgets: Mapping[str, int], template: Template) -> dict[str, Any]:
    """What an exported template receives: each input's prompt text by name, the reply mode and budgets."""
    by_name: dict[str, Any] = {field["name"]: field["value"] for field in values["task"]}
    by_name.update(output_mode=values["output_mode"], budgets=dict(budgets))
    return {name: value for name, value in by_name.items() if name in template.inputs}


class UseTemplate(BaseCallback):
    """Attached to one predictor: its calls render through ``template``."""

    def __init__(self, template: Template, source: str) -> None:
        self.template = template
        self.source = source  # the file, for repr and errors
        self._open: dict[str, contextlib.ExitStack] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"UseTemplate({self.source!r})"

    def __deepcopy__(self, memo: dict[int, Any]) -> UseTemplate:
        # Optimizers and evaluators copy programs: the copy renders through the same (immutable) template.
        return UseTemplate(self.template, self.source)

    def on_module_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        import dspy

        from promptkit.adapter.core import TemplateAdapter

        stack = contextlib.ExitStack()
        token = PREDICTOR_TEMPLATE.set(self.template)
        stack.callback(PREDICTOR_TEMPLATE.reset, token)
        if not isinstance(dspy.settings.adapter, TemplateAdapter):
            stack.enter_context(dspy.context(adapter=TemplateAdapter()))
        with self._lock:
            self._open[call_id] = stack

    def on_module_end(self, call_id: str, outputs: Any | None, exception: Exception | None = None) -> None:
        with self._lock:
            stack = self._open.pop(call_id, None)
        if stack is not None:
            stack.close()


def attached_template(predictor: Any) -> UseTemplate | None:
    for callback in getattr(predictor, "callbacks", None) or ():
        if isinstance(callback, UseTemplate):
            return callback
    return None


def attach_template(predictor: Any, template: Template, source: str) -> None:
    """Make ``predictor`` render through ``template`` (replacing a template attached before)."""
    kept = [c for c in (getattr(predictor, "callbacks", None) or []) if not isinstance(c, UseTemplate)]
    predictor.callbacks = [*kept, UseTemplate(template, source)]
