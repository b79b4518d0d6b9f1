"""`TemplateAdapter`: a DSPy adapter whose prompts are a Jinja template a person can read.

``format()`` renders the signature through ``templates/dspy/chat.j2`` (or the user's own
template) using the structured sections: the signature instructions become
OBJECTIVE_AND_PERSONA, the output fields OUTPUT_FORMAT, the demos FEW_SHOT_EXAMPLES given as
earlier user/assistant turns, the inputs the TASK. Optimizers keep working: they rewrite
``signature.instructions`` and ``predictor.demos``, which is exactly what the template renders.

Replies come in one of two shapes:

* ``markers`` — ``[[ ## field ## ]]`` blocks, parsed by :mod:`promptkit.parsing` so that a value
  cannot forge another field;
* ``json`` — when the LM can enforce a JSON schema (llama.cpp grammar, Ollama ``format``,
  OpenAI-style ``response_format``), the adapter sends the output schema as a constraint and asks
  for one JSON object. A 135M model parses 0 of 20 marker replies and 20 of 20 constrained ones.

A parse failure raises :class:`AdapterParseError` (a :class:`promptkit.errors.ParseError` that is
also DSPy's ``AdapterParseError``, so DSPy's optimizers treat it as theirs) carrying the raw text.
There is no silent second call: ``retry_on_parse_error=True`` retries once with a format reminder
and logs that it did.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Mapping
from typing import Any, Literal

import dspy
from dspy.adapters.utils import format_field_value, get_annotation_name, parse_value
from dspy.clients._deprecation import adapter_message_call
from dspy.signatures.signature import Signature
from dspy.utils.exceptions import DSPyError

from promptkit.errors import ParseError
from promptkit.parsing import escape_markers, parse_json_fields, parse_marker_fields
from promptkit.prompts import Template, TemplateEnv, default_env

logger = logging.getLogger(__name__)

DEFAULT_TEMPLATE = "dspy/chat.j2"
OutputMode = Literal["markers", "json"]
StructuredPolicy = Literal["auto", "always", "never"]

# The reply shape of the adapter call in progress. format_assistant_message_content() is also
# called from outside format() (by FakeLM, to answer the way this call expects), so the mode
# travels with the call rather than living on the (shared, thread-safe) adapter object.
_CURRENT_MODE: contextvars.ContextVar[OutputMode] = contextvars.ContextVar("promptkit_output_mode", default="markers")


_MARKERS_HINT = (
    "if the server can enforce a JSON schema, say so: PROMPTKIT_STRUCTURED_OUTPUT=json_schema (OpenAI, vLLM) "
    "or json_object_schema (a llama.cpp server), or promptkit.lm(..., structured_output=...); otherwise use a "
    "model that follows the format or TemplateAdapter(retry_on_parse_error=True)"
)
_JSON_HINT = (
    "a reply cut off at max_tokens is not valid JSON: raise max_tokens; otherwise use a model that follows "
    "the schema or TemplateAdapter(retry_on_parse_error=True)"
)


class AdapterParseError(ParseError, dspy.AdapterParseError):
    """The reply did not contain the signature's output fields. ``raw`` holds the reply."""

    def __init__(self, signature: type[Signature], raw: str, reason: str, mode: OutputMode = "markers") -> None:
        fields = list(signature.output_fields)
        ParseError.__init__(
            self,
            f"could not parse the LM reply into fields {fields}: {reason}",
            raw=raw,
            fields=fields,
            hint=_JSON_HINT if mode == "json" else _MARKERS_HINT,
        )
        DSPyError.__init__(self, self.args[0])  # DSPy's structured metadata (code, model, ...), same text
        self.adapter_name = "TemplateAdapter"
        self.signature = signature
        self.lm_response = raw
        self.parsed_result = None


def structured_mode(lm: Any) -> str:
    """How ``lm`` can enforce a JSON schema: ``json_schema``, ``json_object_schema`` or ``none``.

    promptkit's LM factory states it as ``lm.structured_output``; for any other LM we ask DSPy
    whether the model supports response schemas.
    """
    stated = getattr(lm, "structured_output", None)
    if isinstance(stated, str):
        return stated
    try:
        return "json_schema" if lm.supports_response_schema else "none"
    except Exception:  # capability lookup can fail for unknown providers: treat as unsupported
        return "none"


class TemplateAdapter(dspy.ChatAdapter):
    """Render DSPy signatures through a Jinja template; parse replies robustly.

    Args:
        template: template name (searched in the user's template dirs, then the bundled ones).
        env: the :class:`TemplateEnv` to load it from (default: the configured environment).
        structured: ``auto`` sends the output JSON schema when the LM can enforce it,
            ``always`` asks for JSON even without enforcement, ``never`` always uses markers.
        retry_on_parse_error: on a parse failure, call the LM once more with a format reminder
            (logged, never silent). Off by default.
    """

    def __init__(
        self,
        template: str = DEFAULT_TEMPLATE,
        *,
        env: TemplateEnv | None = None,
        structured: StructuredPolicy = "auto",
        retry_on_parse_error: bool = False,
        callbacks: list[Any] | None = None,
    ) -> None:
        super().__init__(callbacks=callbacks, use_json_adapter_fallback=False)
        self.template_name = template
        self._env = env
        self.structured = structured
        self.retry_on_parse_error = retry_on_parse_error

    @property
    def template(self) -> Template:
        # The environment is bound on first use: resolving settings on every LM call would cost
        # more than rendering. The env itself notices edits to the template file.
        if self._env is None:
            self._env = default_env()
        return self._env.get(self.template_name)

    # -- the call ---------------------------------------------------------------------------

    def _choose_mode(self, lm: Any, lm_kwargs: dict[str, Any], signature: type[Signature]) -> OutputMode:
        if self.structured == "never":
            return "markers"
        mode = structured_mode(lm)
        if mode == "none":
            return "json" if self.structured == "always" else "markers"
        schema = output_json_schema(signature)
        if schema is None:  # open-ended dict outputs cannot be a strict schema
            lm_kwargs.setdefault("response_format", {"type": "json_object"})
        elif mode == "json_object_schema":
            # A llama.cpp server turns the schema into a grammar, like the embedded engine, and a tiny
            # model closes a free string at once: outputs must not be empty there either.
            from promptkit.lm.grammar import non_empty_strings

            lm_kwargs.setdefault("response_format", {"type": "json_object", "schema": non_empty_strings(schema)})
        else:
            lm_kwargs.setdefault(
                "response_format",
                {"type": "json_schema", "json_schema": {"name": "promptkit_output", "schema": schema, "strict": True}},
            )
        return "json"

    def __call__(
        self,
        lm: Any,
        lm_kwargs: dict[str, Any],
        signature: type[Signature],
        demos: list[dict[str, Any]],
        inputs: dict[str, Any],
    ) -> list[dict[str, Any]]:
        token = _CURRENT_MODE.set(self._choose_mode(lm, lm_kwargs, signature))
        try:
            try:
                return super().__call__(lm, lm_kwargs, signature, demos, inputs)
            except AdapterParseError as first:
                if not self.retry_on_parse_error:
                    raise
                logger.warning("TemplateAdapter: reply did not parse; retrying once with a format reminder")
                return self._retry(lm, lm_kwargs, signature, demos, inputs, first)
        finally:
            _CURRENT_MODE.reset(token)

    async def acall(
        self,
        lm: Any,
        lm_kwargs: dict[str, Any],
        signature: type[Signature],
        demos: list[dict[str, Any]],
        inputs: dict[str, Any],
    ) -> list[dict[str, Any]]:
        token = _CURRENT_MODE.set(self._choose_mode(lm, lm_kwargs, signature))
        try:
            return await super().acall(lm, lm_kwargs, signature, demos, inputs)
        finally:
            _CURRENT_MODE.reset(token)

    def _retry(
        self,
        lm: Any,
        lm_kwargs: dict[str, Any],
        signature: type[Signature],
        demos: list[dict[str, Any]],
        inputs: dict[str, Any],
        first: AdapterParseError,
    ) -> list[dict[str, Any]]:
        messages = self.format(signature, demos, inputs)
        messages.append({"role": "assistant", "content": first.raw})
        messages.append({"role": "user", "content": self.format_reminder(signature)})
        # The same door DSPy's own adapters use for message lists (its deprecation is for users' direct calls).
        with adapter_message_call(lm, messages):
            outputs = lm(messages=messages, **lm_kwargs)
        return self._call_postprocess(signature, signature, outputs, lm, lm_kwargs)

    def format_reminder(self, signature: type[Signature]) -> str:
        fields = ", ".join(f"`{name}`" for name in signature.output_fields)
        if _CURRENT_MODE.get() == "json":
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
        values = self.template_values(signature, demos, inputs)
        return self.template.render_messages(values)

    def template_values(
        self, signature: type[Signature], demos: list[dict[str, Any]], inputs: Mapping[str, Any]
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
            demo_values.append({"inputs": _input_values(input_fields, demo), "reply": reply, "complete": complete})
        return {
            "instructions": signature.instructions,
            "input_fields": [_field_doc(name, info) for name, info in input_fields.items()],
            "output_fields": [_field_doc(name, info) for name, info in output_fields.items()],
            "demos": demo_values,
            "task": _input_values(input_fields, inputs),
            "output_mode": _CURRENT_MODE.get(),
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
        if _CURRENT_MODE.get() == "json":
            return json_reply(values)
        blocks = [f"[[ ## {name} ## ]]\n{field_text(info, values[name])}" for name, info in output_fields.items()]
        return "\n\n".join([*blocks, "[[ ## completed ## ]]"])

    # -- parsing ------------------------------------------------------------------------------

    def parse(self, signature: type[Signature], completion: str) -> dict[str, Any]:
        names = list(signature.output_fields)
        mode = _CURRENT_MODE.get()
        try:
            if mode == "json":
                raw_fields = parse_json_fields(completion, names)
            else:
                raw_fields = parse_marker_fields(completion, names)
        except ValueError as exc:
            raise AdapterParseError(signature, completion, str(exc), mode) from None
        parsed: dict[str, Any] = {}
        for name, info in signature.output_fields.items():
            try:
                parsed[name] = parse_value(raw_fields[name], info.annotation)
            except (ValueError, TypeError) as exc:
                reason = f"field {name!r} is not a valid {get_annotation_name(info.annotation)}: {exc}"
                raise AdapterParseError(signature, completion, reason, mode) from None
        return parsed


def _input_values(input_fields: Mapping[str, Any], values: Mapping[str, Any]) -> list[dict[str, str]]:
    return [
        {"name": name, "value": escape_markers(input_text(info, values[name]))}
        for name, info in input_fields.items()
        if name in values
    ]


def input_text(info: Any, value: Any) -> str:
    """An input value as the prompt shows it. A list of strings (retrieved passages, say) is numbered
    one per line, which a small model reads far better than a one-line JSON array."""
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return "\n".join(f"[{number}] {item}" for number, item in enumerate(value, 1))
    return field_text(info, value)


def field_text(info: Any, value: Any) -> str:
    """A field value as the prompt shows it: DSPy's formatting, without its cost for plain scalars.

    DSPy builds a pydantic TypeAdapter per value (~150 µs); for str/int/float/bool its result is
    simply ``str(value)``, which is most fields of most calls.
    """
    if type(value) in (str, int, float, bool):
        return str(value)
    return str(format_field_value(field_info=info, value=value))


def _field_doc(name: str, info: Any) -> dict[str, str]:
    extra = info.json_schema_extra or {}
    desc = str(extra.get("desc", "") or "")
    if desc == f"${{{name}}}":  # DSPy's placeholder description for undocumented fields
        desc = ""
    return {"name": name, "type": get_annotation_name(info.annotation), "description": desc}


def json_reply(values: Mapping[str, Any]) -> str:
    import json

    from dspy.adapters.utils import serialize_for_json

    return json.dumps(serialize_for_json(dict(values)), ensure_ascii=False, indent=2)


def output_json_schema(signature: type[Signature]) -> dict[str, Any] | None:
    """The strict JSON schema of the signature's outputs, or None when an output is an open-ended dict."""
    from dspy.adapters.json_adapter import _get_structured_outputs_response_format

    try:
        model = _get_structured_outputs_response_format(signature)
    except ValueError:
        return None
    schema: dict[str, Any] = model.model_json_schema()
    return schema
