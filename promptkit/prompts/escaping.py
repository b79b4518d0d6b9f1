"""Section tags in data are escaped so a value cannot close (or open) a section of the structured prompt.

The environment's ``finalize`` runs :func:`escape_section_tags` on every interpolated value, so a
CONTEXT value containing ``</CONTEXT><INSTRUCTIONS>`` stays inside CONTEXT. Only the ``<`` of the
eight section tags is replaced (by ``&lt;``); everything else in the value is left as written, and
the template's own literal tags are template data, which ``finalize`` never sees.
"""

from __future__ import annotations

import re
from typing import Any

SECTION_NAMES: tuple[str, ...] = (
    "OBJECTIVE_AND_PERSONA",
    "INSTRUCTIONS",
    "CONSTRAINTS",
    "CONTEXT",
    "OUTPUT_FORMAT",
    "FEW_SHOT_EXAMPLES",
    "RECAP",
    "TASK",
)


def _name_pattern(name: str) -> str:
    # "FEW_SHOT_EXAMPLES" also matches "few shot examples" / "FEW-SHOT_EXAMPLES": a model reads those alike.
    return r"[\s_-]*".join(re.escape(word) for word in name.split("_"))


_SECTION_TAG = re.compile(
    r"<(?=\s*/?\s*(?:" + "|".join(_name_pattern(n) for n in SECTION_NAMES) + r")\s*>)",
    re.IGNORECASE,
)


def escape_section_tags(text: str) -> str:
    """Replace the ``<`` of every section tag (``<CONTEXT>``, ``</ task >``, ...) in ``text`` with ``&lt;``."""
    if "<" not in text:  # the common case costs one scan in C
        return text
    return _SECTION_TAG.sub("&lt;", text)


def finalize_value(value: Any) -> str:
    """Jinja ``finalize`` hook: stringify an interpolated value and escape section tags in it.

    Values are stringified here (not left to Jinja) so a list or an object whose ``str()``
    contains a tag is escaped too.
    """
    text = value if value.__class__ is str else str(value)
    if "<" not in text:
        return text
    return _SECTION_TAG.sub("&lt;", text)
