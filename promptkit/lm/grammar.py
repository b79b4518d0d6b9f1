"""Turn a structured-output request (``response_format``) into a llama.cpp grammar.

The embedded model is far too small to follow a text format on its own (DSPy's ChatAdapter
markers fail 100% of the time with SmolLM2-135M), so the engine constrains decoding instead:
a JSON schema becomes a GBNF grammar and the model can only emit JSON matching it.

Accepted shapes (everything an adapter may send through DSPy or directly in a Request):

* ``{"type": "json_schema", "json_schema": {"name": ..., "schema": {...}, "strict": true}}`` (OpenAI style)
* ``{"type": "json_schema", "schema": {...}, "name": ..., "strict": ...}`` (DSPy's canonical
  ``Request.config.response_format``: what the engine actually receives from ``dspy.LM``)
* ``{"type": "json_object", "schema": {...}}`` (llama-cpp-python's dialect)
* ``{"type": "json_object"}`` (any JSON object)
* ``{"type": "text"}`` or ``None`` (no constraint)
* a pydantic model class (what ``dspy.JSONAdapter`` puts in the LM kwargs)
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict
from typing import Any

from promptkit.errors import ConfigError

logger = logging.getLogger(__name__)

# Converting a schema to GBNF is pure Python work repeated for every call of the same
# signature; the result is a plain string, so it is cached by the schema's JSON text.
_GRAMMAR_CACHE_SIZE = 256
_grammar_cache: OrderedDict[str, str] = OrderedDict()
_grammar_cache_lock = threading.Lock()

_FIX = (
    "pass response_format as {'type': 'json_schema', 'json_schema': {'name': ..., 'schema': {...}}}, "
    "{'type': 'json_object', 'schema': {...}}, {'type': 'json_object'} or a pydantic model class"
)


def schema_from_response_format(response_format: Any) -> dict[str, Any] | bool | None:
    """Extract the JSON schema a ``response_format`` asks for.

    Returns the schema dict, ``True`` for "any JSON object", or ``None`` for no constraint.
    Raises :class:`ConfigError` naming ``response_format`` for a shape it does not know.
    """
    if response_format is None:
        return None
    if isinstance(response_format, type):
        model_json_schema = getattr(response_format, "model_json_schema", None)
        if model_json_schema is None:
            raise ConfigError(
                f"response_format={response_format.__name__} is a class but not a pydantic model", hint=_FIX
            )
        schema = model_json_schema()
        return dict(schema)
    if not isinstance(response_format, dict):
        kind_name = type(response_format).__name__
        raise ConfigError(f"response_format must be a dict or a pydantic model class, not {kind_name}", hint=_FIX)
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        schema = response_format.get("schema")
        return True if schema is None else _check_schema(schema, "response_format['schema']")
    if kind == "json_schema":
        if "json_schema" in response_format:
            inner = response_format["json_schema"]
            if not isinstance(inner, dict) or "schema" not in inner:
                raise ConfigError("response_format['json_schema'] must be a dict with a 'schema' key", hint=_FIX)
            return _check_schema(inner["schema"], "response_format['json_schema']['schema']")
        if "schema" in response_format:
            return _check_schema(response_format["schema"], "response_format['schema']")
        raise ConfigError("response_format of type 'json_schema' has no schema", hint=_FIX)
    raise ConfigError(f"response_format type {kind!r} is not supported by the local model", hint=_FIX)


def canonical_response_format(response_format: Any) -> Any:
    """Rewrite llama-cpp-python's ``{"type": "json_object", "schema": S}`` as the OpenAI ``json_schema`` form.

    DSPy 3.4 converts LM call kwargs into a canonical Request before any custom engine sees them, and
    that conversion rejects a ``schema`` key inside ``json_object`` (LMUnsupportedFeatureError). The
    meaning is the same, so the local LM rewrites it; every other value passes through unchanged.
    """
    is_dict = isinstance(response_format, dict)
    if is_dict and response_format.get("type") == "json_object" and "schema" in response_format:
        schema = _check_schema(response_format["schema"], "response_format['schema']")
        return {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}
    return response_format


def _check_schema(schema: Any, where: str) -> dict[str, Any]:
    if not isinstance(schema, dict):
        raise ConfigError(f"{where} must be a JSON schema object (dict), not {type(schema).__name__}", hint=_FIX)
    return schema


def gbnf_for_response_format(response_format: Any) -> str | None:
    """The GBNF grammar text that enforces ``response_format``, or ``None`` when unconstrained."""
    schema = schema_from_response_format(response_format)
    if schema is None:
        return None
    if schema is True:
        return any_json_object_grammar()
    assert isinstance(schema, dict)
    return _gbnf_for_schema(non_empty_strings(schema))


def any_json_object_grammar() -> str:
    from llama_cpp.llama_grammar import JSON_GBNF

    return str(JSON_GBNF)


# A plain string property is free; anything saying more about it is left as the user wrote it.
_STRING_BOUNDS = ("minLength", "maxLength", "enum", "const", "pattern", "format")


def non_empty_strings(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with ``minLength: 1`` on each top-level string property that has no bound of its own.

    Under a grammar a tiny model often closes the string at once: SmolLM2 answers
    ``{"answer": ""}`` to "What is 12 plus 30?". A signature never asks for an empty output, so the
    grammar forbids it; a schema that allows empty strings says so with ``minLength: 0``.
    """
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return schema
    bounded = {
        name: {**prop, "minLength": 1}
        if isinstance(prop, dict) and prop.get("type") == "string" and not any(k in prop for k in _STRING_BOUNDS)
        else prop
        for name, prop in properties.items()
    }
    return {**schema, "properties": bounded}


def _gbnf_for_schema(schema: dict[str, Any]) -> str:
    # No sort_keys: the grammar emits properties in the schema's order, and DSPy relies on that order
    # (ChainOfThought's "reasoning" must come before "answer").
    key = json.dumps(schema)
    with _grammar_cache_lock:
        cached = _grammar_cache.get(key)
        if cached is not None:
            _grammar_cache.move_to_end(key)
            return cached
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        grammar = collapse_repetitions(json_schema_to_gbnf(key))
    except Exception as exc:  # the converter raises AssertionError/KeyError/ValueError on unsupported features
        # Still guarantee syntactically valid JSON rather than failing the call: the adapter's parser
        # then reports a field-level problem with the raw output, which is more useful than a grammar error.
        logger.warning(
            "promptkit: the JSON schema could not be turned into a llama.cpp grammar (%s: %s); "
            "constraining to any JSON object instead",
            type(exc).__name__,
            exc,
        )
        grammar = any_json_object_grammar()
    with _grammar_cache_lock:
        _grammar_cache[key] = grammar
        while len(_grammar_cache) > _GRAMMAR_CACHE_SIZE:
            _grammar_cache.popitem(last=False)
    return grammar


# llama-cpp-python's converter writes a string of at most N characters as N nested optional groups,
# '"\\"" char (char (char ...)?)?)? "\\""'; llama.cpp refuses that above ~1000 characters ("number of
# rules ... exceeds sane defaults") while it takes the same language as 'char{m,N}' at any size.
_BOUNDED_STRING = re.compile(r'^(\S+ ::= "\\"" )([^"]*?)( "\\"" space)$', re.M)
_REPETITION_TOKEN = re.compile(r"\(|\)\?|char")


def collapse_repetitions(grammar: str) -> str:
    """Rewrite each bounded string rule of ``grammar`` as ``char{min,max}``."""

    def collapse(match: re.Match[str]) -> str:
        body = match.group(2)
        tokens = _REPETITION_TOKEN.findall(body)
        if "".join(tokens) != body.replace(" ", "") or "char" not in tokens:
            return match.group(0)
        depth = required = total = 0
        for token in tokens:
            if token == "(":
                depth += 1
            elif token == ")?":
                depth -= 1
            else:
                total += 1
                required += depth == 0
        if depth != 0:
            return match.group(0)
        return f"{match.group(1)}char{{{required},{total}}}{match.group(3)}"

    return _BOUNDED_STRING.sub(collapse, grammar)


_parsed_lock = threading.Lock()
_parsed: OrderedDict[str, bool] = OrderedDict()


def grammar_parses(vocab: Any, grammar: str) -> bool:
    """Whether llama.cpp accepts ``grammar`` for a model's vocabulary (cached by grammar text).

    llama-cpp-python hands llama.cpp's sampler a grammar unchecked, and a grammar llama.cpp refuses
    becomes a NULL sampler that crashes the process on the first token. Checking it costs one parse.
    """
    with _parsed_lock:
        known = _parsed.get(grammar)
    if known is not None:
        return known
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), b"root")
    accepted = bool(sampler)
    if accepted:
        llama_cpp.llama_sampler_free(sampler)
    with _parsed_lock:
        _parsed[grammar] = accepted
        while len(_parsed) > _GRAMMAR_CACHE_SIZE:
            _parsed.popitem(last=False)
    return accepted


def llama_grammar(llama: Any, text: str) -> Any:
    """``text`` as a ``llama_cpp.LlamaGrammar`` for ``llama``'s vocabulary, checked first: a grammar llama.cpp
    refuses would crash the process, so it becomes any JSON object, with a warning."""
    import llama_cpp

    if not grammar_parses(llama._model.vocab, text):
        logger.warning(
            "promptkit: llama.cpp refused the grammar made from the output schema; "
            "constraining to any JSON object instead"
        )
        text = any_json_object_grammar()
    return llama_cpp.LlamaGrammar.from_string(text, verbose=False)
