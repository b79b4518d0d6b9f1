"""``diff_prompts(a, b)``: per predictor, what changed between two programs' prompts.

Either side is a program (an object, or a reference as ``eval run`` takes it: a compiled
``program.json``, ``module:attr``, ``technique:ID`` ...) or a directory ``promptkit export`` wrote.
Both become the same thing — each predictor's exported template (:mod:`promptkit.programs.export`,
in memory for a program) — so a program and an edited export compare like two exports. For each
predictor the diff shows, as unified diffs: the instructions (the OBJECTIVE_AND_PERSONA section),
the demos (the example turns), and the template text (front matter without the export record,
which names the source and differs whenever the sources do).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptkit.errors import DataError
from promptkit.programs.export import MANIFEST

SECTIONS = ("instructions", "demos", "template")
_OBJECTIVE = re.compile(r"<OBJECTIVE_AND_PERSONA>\n(.*?)\n</OBJECTIVE_AND_PERSONA>", re.S)
_EXPORT_RECORD = re.compile(r"^export:[ \t]*\n(?:[ \t]+.*\n)*", re.M)


@dataclass(frozen=True)
class PredictorPrompt:
    """One predictor's exported template, and where it came from (for the diff headers)."""

    name: str
    where: str
    source: str


@dataclass(frozen=True)
class PredictorDiff:
    """``status``: same, changed, only in A, only in B; ``diffs``: section -> unified diff (changed sections)."""

    name: str
    status: str
    diffs: dict[str, str] = field(default_factory=dict)


def prompts_of(side: Any) -> dict[str, PredictorPrompt]:
    """Each predictor's template for one side of a diff (an exported directory, a program or its reference)."""
    if isinstance(side, str | Path) and (Path(side) / MANIFEST).is_file():
        from promptkit.programs.templates_dir import read_exported_dir

        exported = read_exported_dir(side)
        return {
            name: PredictorPrompt(name, str(exported.path / file), (exported.path / file).read_text(encoding="utf-8"))
            for name, file in exported.predictors.items()
        }
    from promptkit.programs.export import template_sources
    from promptkit.programs.resolve import PROGRAM_FILE

    if isinstance(side, str | Path) and Path(side).is_dir() and not (Path(side) / PROGRAM_FILE).is_file():
        raise DataError(
            f"neither an exported directory (no {MANIFEST}) nor a compile directory (no {PROGRAM_FILE})",
            path=str(side),
            hint="give the --out DIR of promptkit export or of promptkit compile",
        )
    if isinstance(side, str | Path):
        from promptkit.programs.resolve import resolve_program

        program, ref = resolve_program(side), str(side)
    else:
        program, ref = side, ""
    return {
        item.name: PredictorPrompt(item.name, f"{ref or type(program).__name__}:{item.name}", item.source)
        for item in template_sources(program, ref=ref)
    }


def diff_prompts(a: Any, b: Any) -> list[PredictorDiff]:
    """Per predictor (A's order, then B's new ones): how B's prompt differs from A's."""
    left, right = prompts_of(a), prompts_of(b)
    results = []
    for name in [*left, *(n for n in right if n not in left)]:
        if name not in right:
            results.append(PredictorDiff(name, "only in A"))
        elif name not in left:
            results.append(PredictorDiff(name, "only in B"))
        else:
            diffs = _section_diffs(left[name], right[name])
            results.append(PredictorDiff(name, "changed" if diffs else "same", diffs))
    return results


def _section_diffs(old: PredictorPrompt, new: PredictorPrompt) -> dict[str, str]:
    old_parts, new_parts = sections(old), sections(new)
    diffs = {}
    for section in SECTIONS:
        lines = list(
            difflib.unified_diff(
                old_parts[section].splitlines(keepends=True),
                new_parts[section].splitlines(keepends=True),
                fromfile=f"A {old.where} ({section})",
                tofile=f"B {new.where} ({section})",
            )
        )
        if lines:
            diffs[section] = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    return diffs


def sections(prompt: PredictorPrompt) -> dict[str, str]:
    """The instructions, demos and template text of one exported template."""
    from promptkit.programs.export import standalone_env
    from promptkit.programs.render import placeholder

    template = standalone_env().from_string(prompt.source, name=prompt.where)
    values = {n: placeholder(n) for n, spec in template.inputs.items() if spec.required}
    messages = template.render_messages(values)
    system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
    found = _OBJECTIVE.search(system)
    demos = messages[1:-1] if system else messages[:-1]
    demo_text = "".join(f"[{m['role']}]\n{m['content']}\n\n" for m in demos)
    return {
        "instructions": (found.group(1) if found else system) + "\n",
        "demos": demo_text,
        "template": _EXPORT_RECORD.sub("", prompt.source, count=1),
    }


def format_diff(results: list[PredictorDiff]) -> str:
    """The diff as text: one line per predictor, then the unified diffs of what changed."""
    out = []
    for result in results:
        changed = f" ({', '.join(result.diffs)})" if result.diffs else ""
        out.append(f"predictor {result.name}: {result.status}{changed}\n")
    for result in results:
        for text in result.diffs.values():
            out.append("\n" + text)
    return "".join(out)


__all__ = ["PredictorDiff", "PredictorPrompt", "diff_prompts", "format_diff", "prompts_of", "sections"]
