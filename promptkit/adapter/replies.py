"""Reading a reply into the signature's output fields, in either shape, whichever was asked.

The asked shape is tried first; a reply in the other shape (a server that ignored
``response_format``, a model that answered in JSON when markers were asked) still parses.
Fields with a default (or that allow None) may be absent, as under DSPy's ChatAdapter.
"""

from __future__ import annotations

import contextlib
from typing import Any

import dspy
from dspy.adapters.utils import annotation_allows_none, apply_output_field_defaults, get_annotation_name, parse_value
from dspy.signatures.signature import Signature
from dspy.utils.exceptions import DSPyError

from promptkit.adapter.mode import OutputMode
from promptkit.errors import ParseError
from promptkit.parsing import has_markers, parse_json_fields, parse_marker_fields

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


# A reply that did not parse, from any adapter: ours, DSPy's own (an empty reply), promptkit's ParseError.
PARSE_ERRORS: tuple[type[Exception], ...] = (dspy.AdapterParseError, ParseError)


def parse_reply(signature: type[Signature], completion: str, mode: OutputMode) -> dict[str, Any]:
    """The output fields of ``completion``, typed; :class:`AdapterParseError` when it has not got them."""
    output_fields = signature.output_fields
    names = list(output_fields)
    optional = {
        name
        for name, info in output_fields.items()
        if not info.is_required() or annotation_allows_none(info.annotation)
    }
    try:
        raw_fields = _fields(completion, names, optional, mode)
    except ValueError as exc:
        raise AdapterParseError(signature, completion, str(exc), mode) from None
    parsed: dict[str, Any] = {}
    for name, raw in raw_fields.items():
        info = output_fields[name]
        try:
            parsed[name] = parse_value(raw, info.annotation)
        except (ValueError, TypeError) as exc:
            reason = f"field {name!r} is not a valid {get_annotation_name(info.annotation)}: {exc}"
            raise AdapterParseError(signature, completion, reason, mode) from None
    return apply_output_field_defaults(signature, parsed)


def _fields(completion: str, names: list[str], optional: set[str], mode: OutputMode) -> dict[str, Any]:
    if mode == "json":
        try:
            return parse_json_fields(completion, names, optional)
        except ValueError:
            if not has_markers(completion):
                raise
            return parse_marker_fields(completion, names, optional)
    try:
        return parse_marker_fields(completion, names, optional)
    except ValueError as marker_error:
        if "{" in completion:
            with contextlib.suppress(ValueError):
                return parse_json_fields(completion, names, optional)
        raise marker_error from None
