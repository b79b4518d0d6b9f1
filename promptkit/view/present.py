"""Formatting for the pages: numbers, intervals, heat-map colours, prompt sections and side-by-side diffs.

Pure functions over plain values (no web framework), registered as Jinja filters by :mod:`promptkit.view.app`.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

from markupsafe import Markup, escape

NOT_RECORDED = "not recorded"
# TemplateAdapter's <SECTION> tags and DSPy's [[ ## field ## ]] markers: shown bold so a prompt reads as sections.
_MARKERS = re.compile(r"(</?[A-Z][A-Z0-9_]*>|\[\[ ## [^\]#]+ ## \]\])")


def num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def interval(ci: Any) -> str:
    if not isinstance(ci, list | tuple) or len(ci) != 2 or None in ci:
        return ""
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def heat(value: Any) -> str:
    """A background from red (0) through yellow to green (1) for a score in [0, 1]."""
    if not isinstance(value, int | float):
        return "background: #eee"
    hue = max(0.0, min(1.0, float(value))) * 120
    return f"background: hsl({hue:.0f}, 70%, 78%)"


def when(value: Any) -> str:
    """An ISO timestamp to the minute ("2026-12-04 17:01"), which still sorts as text."""
    if not isinstance(value, str) or len(value) < 16 or value[10] != "T":
        return value or "–"
    return f"{value[:10]} {value[11:16]}"


def as_text(value: Any) -> str:
    """A value as a person reads it: strings as they are, anything else as indented JSON."""
    if value is None:
        return NOT_RECORDED
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2)


def short(value: Any, limit: int = 120) -> str:
    if isinstance(value, dict) and len(value) == 1:
        value = next(iter(value.values()))
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sections(text: Any) -> Markup:
    """A message's content, escaped, with its section markers emphasised."""
    parts = _MARKERS.split(as_text(text))
    return Markup("").join(
        Markup('<b class="marker">{}</b>').format(part) if index % 2 else escape(part)
        for index, part in enumerate(parts)
    )


def messages_text(messages: Any) -> str:
    """A chat prompt as one text (role headers between messages), the form two prompts are diffed in."""
    if not isinstance(messages, list):
        return as_text(messages)
    return "\n".join(
        f"--- {m.get('role', '?')} ---\n{as_text(m.get('content'))}" for m in messages if isinstance(m, dict)
    )


def side_by_side(left: str, right: str) -> list[tuple[str, str, str]]:
    """Aligned lines of two texts: (tag, left line, right line), tag one of same, changed, removed, added."""
    a, b = left.splitlines(), right.splitlines()
    lines: list[tuple[str, str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            lines.extend(("same", a[i], b[j]) for i, j in zip(range(i1, i2), range(j1, j2), strict=True))
            continue
        old, new = a[i1:i2], b[j1:j2]
        for k in range(max(len(old), len(new))):
            left_line = old[k] if k < len(old) else None
            right_line = new[k] if k < len(new) else None
            kind = (
                "changed"
                if left_line is not None and right_line is not None
                else "removed"
                if right_line is None
                else "added"
            )
            lines.append((kind, left_line or "", right_line or ""))
    return lines


def metric_cells(row: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: outcome or {} for name, outcome in (row.get("metrics") or {}).items()}


def versions_of(run: dict[str, Any] | None) -> str:
    """The versions a run file records (promptkit, DSPy, Python); template versions are not recorded in rows."""
    if not run:
        return NOT_RECORDED
    parts = [
        f"{name} {run[key]}"
        for key, name in (("promptkit_version", "promptkit"), ("dspy_version", "dspy"), ("python_version", "python"))
        if run.get(key)
    ]
    return ", ".join(parts) or NOT_RECORDED


FILTERS = {
    "num": num,
    "interval": interval,
    "heat": heat,
    "as_text": as_text,
    "short": short,
    "sections": sections,
    "when": when,
}
