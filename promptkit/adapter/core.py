"""`TemplateAdapter`: a DSPy adapter whose prompts are a Jinja template a person can read.

``format()`` renders the signature through ``templates/dspy/chat.j2`` (or the user's own
template) using the structured sections: the signature instructions become
OBJECTIVE_AND_PERSONA, the output fields OUTPUT_FORMAT, the demos FEW_SHOT_EXAMPLES given as
earlier user/assistant turns, a ``dspy.History`` the turns after them, the inputs the TASK.
Optimizers keep working: they rewrite ``signature.instructions`` and ``predictor.demos``, which
is exactly what the template renders.

It is a drop-in for DSPy's ChatAdapter: images, files and audio become message content parts,
tools go to the LM natively when asked (``use_native_function_calling=True``), native reasoning
and citations are DSPy's own handling, and ``dspy.streamify`` works through
:mod:`promptkit.streaming`. Where a user's template cannot express a piece (a history it does not
declare, tool-call turns), that piece is formatted as ChatAdapter formats it.

Replies come in one of two shapes:

* ``markers`` — ``[[ ## field ## ]]`` blocks, parsed by :mod:`promptkit.parsing` so that a value
  cannot forge another field;
* ``json`` — when the LM can enforce a JSON schema (llama.cpp grammar, Ollama ``format``,
  OpenAI-style ``response_format``), the adapter sends the output schema as a constraint and asks
  for one JSON object. A 135M model parses 0 of 20 marker replies and 20 of 20 constrained ones.

Either shape is read whichever was asked (see :mod:`promptkit.adapter.replies`). A parse failure
raises :class:`AdapterParseError` carrying the raw text. There is no silent second call:
``retry_on_parse_error=True`` retries once with a format reminder and logs that it did, on the
sync and the async path alike.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal, get_args

import dspy
from dspy.adapters._legacy_type_markers import _expand_legacy_custom_type_markers_in_chat_message
from dspy.adapters.base import _tool_calls_from_message
from dspy.clients._deprecation import adapter_message_call
from dspy.signatures.signature import Signature

from promptkit.adapter.budgets import field_budgets, max_tokens_of, with_budgets
from promptkit.adapter.mode import CURRENT_BUDGETS, CURRENT_MODE, OutputMode
from promptkit.adapter.override import PREDICTOR_TEMPLATE, takes_inputs_by_name, values_by_name
from promptkit.adapter.rendered import note_template
from promptkit.adapter.replies import AdapterParseError, parse_reply
from promptkit.adapter.values import (
    field_docs,
    field_text,
    input_values,
    json_reply,
    output_json_schema,
    without_field,
    without_length_bounds,
)
from promptkit.parsing import response_format_for, structured_mode
from promptkit.prompts import Template, TemplateEnv, default_env

logger = logging.getLogger(__name__)

DEFAULT_TEMPLATE = "dspy/chat.j2"
StructuredPolicy = Literal["auto", "always", "never"]
_POLICIES: tuple[str, ...] = get_args(StructuredPolicy)
# Routes whose schema a grammar enforces (the embedded model, llama.cpp / vLLM / Ollama servers, as
# promptkit's LM factory states them): the ones that get length budgets in the schema.
_GRAMMAR_ROUTES = ("json_schema", "json_object_schema")


class TemplateAdapter(dspy.ChatAdapter):
    """Render DSPy signatures through a Jinja template; parse replies robustly.

    Args:
        template: template name (searched in the user's template dirs, then the bundled ones).
        env: the :class:`TemplateEnv` to load it from (default: the configured environment).
        structured: ``auto`` sends the output JSON schema when the LM can enforce it,
            ``always`` asks for JSON even without enforcement, ``never`` always uses markers.
        retry_on_parse_error: on a parse failure, call the LM once more with a format reminder
            (logged, never silent). Off by default.
        field_budgets: length budgets per string output field, derived from ``max_tokens`` so the
            reply closes in time (:mod:`promptkit.adapter.budgets`): ``True`` (default), ``False``,
            or ``{field: characters}`` to set some.
        use_native_function_calling, native_response_types, parallel_tool_calls, callbacks: as for
            DSPy's ChatAdapter.
    """

    def __init__(
        self,
        template: str = DEFAULT_TEMPLATE,
        *,
        env: TemplateEnv | None = None,
        structured: StructuredPolicy = "auto",
        retry_on_parse_error: bool = False,
        field_budgets: bool | Mapping[str, int] = True,
        callbacks: list[Any] | None = None,
        use_native_function_calling: bool = False,
        native_response_types: list[Any] | None = None,
        parallel_tool_calls: bool | None = None,
    ) -> None:
        if structured not in _POLICIES:
            from promptkit.errors import ConfigError

            raise ConfigError(f"TemplateAdapter(structured={structured!r})", hint=f"use one of {', '.join(_POLICIES)}")
        super().__init__(
            callbacks=callbacks,
            use_native_function_calling=use_native_function_calling,
            native_response_types=native_response_types,
            use_json_adapter_fallback=False,
            parallel_tool_calls=parallel_tool_calls,
        )
        self.template_name = template
        self._env = env
        self.structured = structured
        self.retry_on_parse_error = retry_on_parse_error
        self.field_budgets = field_budgets

    @property
    def template(self) -> Template:
        # The environment is bound on first use: resolving settings on every LM call would cost
        # more than rendering. The env itself notices edits to the template file.
        if self._env is None:
            self._env = default_env()
        return self._env.get(self.template_name)

    # -- the call ---------------------------------------------------------------------------

    def _call_preprocess(
        self, lm: Any, lm_kwargs: dict[str, Any], signature: type[Signature], inputs: dict[str, Any]
    ) -> type[Signature]:
        # The reply shape is chosen for the signature left after native tools / reasoning took their
        # fields out, and set in the context of the call in progress (__call__ / acall reset it).
        processed: type[Signature] = super()._call_preprocess(lm, lm_kwargs, signature, inputs)
        CURRENT_MODE.set(self._choose_mode(lm, lm_kwargs, processed))
        if dspy.settings.stream_listeners:
            # DSPy's StreamListener knows adapters by class name and would refuse this one: the
            # listeners of a streamed call become promptkit's, in place, before the first chunk.
            from promptkit.streaming import adopt

            for listener in dspy.settings.stream_listeners:
                adopt(listener)
        return processed

    def _choose_mode(self, lm: Any, lm_kwargs: dict[str, Any], signature: type[Signature]) -> OutputMode:
        budgets = self._budgets(lm, lm_kwargs, signature)
        CURRENT_BUDGETS.set(budgets)
        if self.structured == "never" or not signature.output_fields:
            return "markers"
        mode = structured_mode(lm)
        if mode == "none":
            return "json" if self.structured == "always" else "markers"
        if "tools" in lm_kwargs:
            return "markers"  # a schema-constrained reply could not call a tool instead
        schema = output_json_schema(signature)
        if schema is not None and getattr(lm, "structured_output", None) in _GRAMMAR_ROUTES:
            schema = with_budgets(schema, budgets) if budgets else schema
        elif schema is not None:
            schema = without_length_bounds(schema)  # a field's own length limits: grammar routes only
        fmt = response_format_for(schema, mode)
        if fmt is not None:
            lm_kwargs.setdefault("response_format", fmt)
        return "json"

    def _budgets(self, lm: Any, lm_kwargs: dict[str, Any], signature: type[Signature]) -> dict[str, int]:
        if self.field_budgets is False:
            return {}
        max_tokens = max_tokens_of(lm, lm_kwargs)
        if max_tokens is None:
            return {}
        overrides = self.field_budgets if isinstance(self.field_budgets, Mapping) else None
        return field_budgets(signature, max_tokens, overrides)

    def __call__(
        self,
        lm: Any,
        lm_kwargs: dict[str, Any],
        signature: type[Signature],
        demos: list[dict[str, Any]],
        inputs: dict[str, Any],
    ) -> list[dict[str, Any]]:
        token, budgets_token = CURRENT_MODE.set("markers"), CURRENT_BUDGETS.set({})
        try:
            try:
                return super().__call__(lm, lm_kwargs, signature, demos, inputs)
            except AdapterParseError as first:
                if not self.retry_on_parse_error:
                    raise
                logger.warning("TemplateAdapter: reply did not parse; retrying once with a format reminder")
                messages = self._retry_messages(signature, demos, inputs, first)
                with adapter_message_call(lm, messages):
                    outputs = lm(messages=messages, **lm_kwargs)
                return self._call_postprocess(first.signature, signature, outputs, lm, lm_kwargs)
        finally:
            CURRENT_MODE.reset(token)
            CURRENT_BUDGETS.reset(budgets_token)

    async def acall(
        self,
        lm: Any,
        lm_kwargs: dict[str, Any],
        signature: type[Signature],
        demos: list[dict[str, Any]],
        inputs: dict[str, Any],
    ) -> list[dict[str, Any]]:
        token, budgets_token = CURRENT_MODE.set("markers"), CURRENT_BUDGETS.set({})
        try:
            try:
                return await super().acall(lm, lm_kwargs, signature, demos, inputs)
            except AdapterParseError as first:
                if not self.retry_on_parse_error:
                    raise
                logger.warning("TemplateAdapter: reply did not parse; retrying once with a format reminder")
                messages = self._retry_messages(signature, demos, inputs, first)
                with adapter_message_call(lm, messages):
                    outputs = await lm.acall(messages=messages, **lm_kwargs)
                return self._call_postprocess(first.signature, signature, outputs, lm, lm_kwargs)
        finally:
            CURRENT_MODE.reset(token)
            CURRENT_BUDGETS.reset(budgets_token)

    def _retry_messages(
        self,
        signature: type[Signature],
        demos: list[dict[str, Any]],
        inputs: dict[str, Any],
        first: AdapterParseError,
    ) -> list[dict[str, Any]]:
        # first.signature is the one that was formatted and parsed (native tool fields already removed).
        messages = self.format(first.signature, demos, inputs)
        messages.append({"role": "assistant", "content": first.raw})
        messages.append({"role": "user", "content": self.format_reminder(first.signature)})
        return messages

    def format_reminder(self, signature: type[Signature]) -> str:
        fields = ", ".join(f"`{name}`" for name in signature.output_fields)
        if CURRENT_MODE.get() == "json":
            return f"Your reply could not be parsed. Reply again with only a JSON object with the keys {fields}."
        markers = ", then ".join(f"[[ ## {name} ## ]]" for name in signature.output_fields)
        return (
            f"Your reply could not be parsed. Reply again with the fields {fields}, each after its marker "
            f"on its own line: {markers}, then [[ ## completed ## ]]."
        )

    # -- formatting ---------------------------------------------------------------------------

    def format(
        self,
        signature: type[Signature],
        demos: list[dict[str, Any]],
        inputs: dict[str, Any],
    ) -> list[dict[str, Any]]:
        # A predictor loaded with its own template (promptkit.load(..., templates=DIR)) renders through it.
        template = PREDICTOR_TEMPLATE.get() or self.template
        note_template(template)
        history_name = self._get_history_field_name(signature)
        spliced: list[dict[str, Any]] = []
        values_signature, history = signature, None
        if history_name is not None:
            values_signature = without_field(signature, history_name)
            inputs = dict(inputs)
            history = inputs.pop(history_name, None)
            if history is not None and not self._template_renders(template, history):
                # ChatAdapter's turns for what this template cannot express.
                spliced = self.format_conversation_history(values_signature, history_name, {history_name: history})
                history = None
        values = self.template_values(values_signature, demos, inputs, history=history)
        if takes_inputs_by_name(template):
            values = values_by_name(values, CURRENT_BUDGETS.get(), template)
        elif "history" not in template.inputs:
            values.pop("history")
        messages: list[dict[str, Any]] = list(template.render_messages(values))
        if spliced:
            at = len(messages) - 1 if messages and messages[-1]["role"] == "user" else len(messages)
            messages[at:at] = spliced
        # Images, files, audio: DSPy's custom-type markers become content parts, as in DSPy's own adapters.
        return [_expand_legacy_custom_type_markers_in_chat_message(message) for message in messages]

    def _template_renders(self, template: Template, history: Any) -> bool:
        """Whether the template renders this history itself: it declares ``history`` and no turn is a tool call."""
        if "history" not in template.inputs:
            return False
        return all(_tool_calls_from_message(message)[1] is None for message in history.messages)

    def template_values(
        self,
        signature: type[Signature],
        demos: list[dict[str, Any]],
        inputs: Mapping[str, Any],
        *,
        history: Any = None,
    ) -> dict[str, Any]:
        """The variables the adapter template receives (documented in ``templates/dspy/chat.j2``)."""
        # DSPy recomputes input_fields/output_fields on every access: read them once per call.
        input_fields = signature.input_fields
        output_fields = signature.output_fields
        demo_values = []
        for demo in demos:
            if not (any(k in demo for k in input_fields) and any(k in demo for k in output_fields)):
                continue  # DSPy's rule: a demo needs at least one input and one output
            reply = self._reply(output_fields, demo, missing="(not supplied for this example)")
            complete = all(demo.get(k) is not None for k in (*input_fields, *output_fields))
            demo_values.append({"inputs": input_values(input_fields, demo), "reply": reply, "complete": complete})
        turns = []
        for message in history.messages if history is not None else ():
            has_outputs = any(k in message for k in output_fields)
            reply = self._reply(output_fields, message, missing=None) if has_outputs else ""
            turns.append({"inputs": input_values(input_fields, message), "reply": reply})
        input_docs, output_docs = field_docs(signature)
        budgets = CURRENT_BUDGETS.get()
        if budgets:  # per call: the docs are cached per signature, budgets depend on max_tokens
            output_docs = [{**doc, "budget": str(budgets.get(doc["name"], ""))} for doc in output_docs]
        return {
            "instructions": signature.instructions,
            "input_fields": input_docs,
            "output_fields": output_docs,
            "demos": demo_values,
            "history": turns,
            "task": input_values(input_fields, inputs),
            "output_mode": CURRENT_MODE.get(),
        }

    def format_assistant_message_content(
        self,
        signature: type[Signature],
        outputs: dict[str, Any],
        missing_field_message: str | None = None,
    ) -> str:
        return self._reply(signature.output_fields, outputs, missing_field_message)

    def _reply(self, output_fields: Mapping[str, Any], outputs: Mapping[str, Any], missing: str | None) -> str:
        values = {name: outputs.get(name, missing) for name in output_fields}
        if CURRENT_MODE.get() == "json":
            return json_reply(values)
        blocks = [f"[[ ## {name} ## ]]\n{field_text(info, values[name])}" for name, info in output_fields.items()]
        return "\n\n".join([*blocks, "[[ ## completed ## ]]"])

    # -- parsing ------------------------------------------------------------------------------

    def parse(self, signature: type[Signature], completion: str) -> dict[str, Any]:
        return parse_reply(signature, completion, CURRENT_MODE.get())
