"""Structured replies, one copy for the adapter, chains, metrics and techniques.

* :mod:`~promptkit.parsing.markers` — ``[[ ## field ## ]]`` replies;
* :mod:`~promptkit.parsing.json_text` — JSON in replies: fences, prose, several objects, repair;
* :mod:`~promptkit.parsing.response_format` — the ``response_format`` a route can enforce.

Nothing here imports DSPy: chains and metrics use it without it.
"""

from promptkit.parsing.json_text import (
    JSONNotFound,
    extract_json,
    has_keys,
    json_values,
    parse_json_fields,
    strip_fences,
)
from promptkit.parsing.markers import COMPLETED, escape_markers, has_markers, parse_marker_fields
from promptkit.parsing.response_format import STRUCTURED_MODES, response_format_for, strict_ok, structured_mode

__all__ = [
    "COMPLETED",
    "STRUCTURED_MODES",
    "JSONNotFound",
    "escape_markers",
    "extract_json",
    "has_keys",
    "has_markers",
    "json_values",
    "parse_json_fields",
    "parse_marker_fields",
    "response_format_for",
    "strict_ok",
    "strip_fences",
    "structured_mode",
]
