"""DSPy's adapter, promptkit's way: signatures rendered through a template a person can read.

See :mod:`promptkit.adapter.core` for what :class:`TemplateAdapter` does and
:mod:`promptkit.adapter.replies` for how replies are read.
"""

from promptkit.adapter.core import DEFAULT_TEMPLATE, StructuredPolicy, TemplateAdapter
from promptkit.adapter.mode import OutputMode, current_mode
from promptkit.adapter.replies import PARSE_ERRORS, AdapterParseError
from promptkit.adapter.values import field_text, input_text, json_reply, output_json_schema
from promptkit.parsing import structured_mode  # where earlier releases exported it

__all__ = [
    "DEFAULT_TEMPLATE",
    "PARSE_ERRORS",
    "AdapterParseError",
    "OutputMode",
    "StructuredPolicy",
    "TemplateAdapter",
    "current_mode",
    "field_text",
    "input_text",
    "json_reply",
    "output_json_schema",
    "structured_mode",
]
