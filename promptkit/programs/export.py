"""``export_program``: a program's prompts as one editable Jinja template per predictor, plus a manifest.

Each ``<predictor>.j2`` holds, as ordinary template text in the structured layout, exactly what the
predictor sends: the (compiled) instructions, the field docs, the demos as earlier turns, and
``{{ input }}`` where each call's input goes. Its front matter declares the inputs, records the
outputs with their types, and names the program, the predictor, the adapter template it was derived
from and the promptkit / DSPy versions. ``manifest.json`` maps predictors to files; a program takes
its prompts back from the directory with ``promptkit.load(program, templates=DIR)``
(:mod:`promptkit.programs.templates_dir`).

A template renders with ``promptkit render FILE --var question=...`` and with plain Jinja2 (see the
README): two variables beside the inputs say how the reply is shaped, ``output_mode`` (``markers``:
``[[ ## field ## ]]`` blocks, or ``json`` for an LM that enforces a JSON schema) and ``budgets``
(``{field: characters}``, length limits the adapter derives from ``max_tokens``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from promptkit.errors import InputError
from promptkit.programs.template_source import RESERVED, budget_markers, input_marker, template_body, turn_marker

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "promptkit-export/1"
_FILE_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
_HEADER_NOTE = (
    "{# Edit the instructions and the demos below as text; {{ <input> }} is where each call's input goes.\n"
    '   The adapter sets output_mode ("markers", or "json" for an LM held to a JSON schema) and budgets\n'
    "   ({field: characters}) per call; a demo's reply is written in both shapes: edit both. #}\n"
)


@dataclass(frozen=True)
class ExportedPredictor:
    """One predictor's template: its file name and source."""

    name: str
    file: str
    source: str


def template_sources(program: Any, *, ref: str = "", adapter: Any = None) -> list[ExportedPredictor]:
    """Every predictor's exported template, in ``named_predictors()`` order (nothing is written)."""
    from promptkit.evaluation.results import versions
    from promptkit.optimize import class_path
    from promptkit.programs.render import default_adapter

    named = getattr(program, "named_predictors", None)
    if named is None:
        chain = getattr(program, "chain", None) is not None
        hint = (
            "a chain's steps are templates already: review its YAML and templates"
            if chain
            else "export a dspy.Module, a technique or a compiled program"
        )
        raise InputError(f"{type(program).__name__} has no predictors to export", hint=hint)
    adapter = adapter if adapter is not None else default_adapter()
    about = {"program": ref or class_path(program), **{k: v for k, v in versions().items() if k != "python_version"}}
    files: set[str] = set()
    exported = []
    for name, predictor in named():
        file = _file_name(name, files)
        source = predictor_template(name, predictor, adapter, about)
        exported.append(ExportedPredictor(name, file, source))
    if not exported:
        raise InputError(
            f"{type(program).__name__} has no predictors to export",
            hint="export a program with at least one dspy.Predict inside",
        )
    return exported


def export_program(program: Any, out_dir: str | Path, *, ref: str = "", adapter: Any = None) -> Path:
    """Write one ``.j2`` per predictor and ``manifest.json`` into ``out_dir``; returns the manifest path.

    Files of an earlier export into the same directory that no predictor maps to are removed (loading
    refuses a directory with templates the manifest does not list); other files are left alone.
    """
    from promptkit.evaluation.results import atomic_write_text, versions
    from promptkit.optimize import class_path

    exported = template_sources(program, ref=ref, adapter=adapter)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file", hint="give a directory (it is created when missing)")
    previous = _previous_files(out)
    for item in exported:
        atomic_write_text(out / item.file, item.source)
    for stale in previous - {item.file for item in exported}:
        (out / stale).unlink(missing_ok=True)
    manifest = {
        "format": MANIFEST_FORMAT,
        "program": ref or class_path(program),
        **{k: v for k, v in versions().items() if k != "python_version"},
        "predictors": {item.name: item.file for item in exported},
    }
    path = out / MANIFEST
    atomic_write_text(path, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return path


def _previous_files(out: Path) -> set[str]:
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        files = {str(f) for f in manifest.get("predictors", {}).values()}
    except (OSError, ValueError, AttributeError):
        return set()
    # Only names of files in the directory: a hand-edited manifest must not point the clean-up elsewhere.
    return {f for f in files if Path(f).name == f and f.endswith(".j2")}


def predictor_template(name: str, predictor: Any, adapter: Any, about: Mapping[str, Any]) -> str:
    """The template source for one predictor: front matter, then its messages (see template_source)."""
    import dspy

    from promptkit.adapter.mode import CURRENT_BUDGETS, CURRENT_MODE
    from promptkit.adapter.values import field_docs

    signature = predictor.signature
    inputs = [n for n, info in signature.input_fields.items() if info.annotation is not dspy.History]
    history = next((n for n, info in signature.input_fields.items() if info.annotation is dspy.History), None)
    clash = sorted(set(inputs) & (RESERVED | ({"history"} if history else set())))
    if clash:
        raise InputError(
            f"predictor {name!r} has an input named {clash[0]!r}, which an exported template uses for itself",
            hint="rename the input field",
        )
    values: dict[str, Any] = {n: input_marker(n) for n in inputs}
    # A conversation: one turn of markers, which the export turns into a loop over the call's turns.
    turn = {n: turn_marker(n) for n in (*inputs, *signature.output_fields)}
    if history is not None:
        values[history] = dspy.History(messages=[turn])
    demos = list(getattr(predictor, "demos", None) or [])
    variants, replies = {}, {}
    for mode in ("markers", "json"):
        for with_budgets in (False, True):
            budgets = budget_markers(list(signature.output_fields)) if with_budgets else {}
            mode_token, budgets_token = CURRENT_MODE.set(mode), CURRENT_BUDGETS.set(budgets)
            try:
                variants[mode, with_budgets] = adapter.format(signature, demos, dict(values))
                replies[mode] = adapter.format_assistant_message_content(signature, turn)
            finally:
                CURRENT_MODE.reset(mode_token)
                CURRENT_BUDGETS.reset(budgets_token)
    input_docs, output_docs = field_docs(signature)
    template = adapter.template
    header = {
        "name": f"{name}",
        # The program is named under export: only, so the same prompt exported from two sources reads the same.
        "description": f"The prompt of predictor {name}, exported by promptkit (the source is under export).",
        "version": "1",
        "inputs": {
            **{doc["name"]: _declared_input(doc) for doc in input_docs if doc["name"] in inputs},
            "output_mode": {
                "type": "str",
                "default": "markers",
                "description": "markers ([[ ## field ## ]] blocks) | json (a JSON object)",
            },
            "budgets": {"type": "dict", "default": {}, "description": "{output field: characters}: length limits"},
            **(
                {
                    "history": {
                        "type": "list",
                        "default": [],
                        "description": "earlier turns, oldest first: [{<input>: text, reply: text}]",
                    }
                }
                if history
                else {}
            ),
        },
        "outputs": {doc["name"]: _declared_output(doc) for doc in output_docs},
        "export": {"predictor": name, **about, "source_template": f"{template.name}@{template.version}"},
    }
    source = "{#---\n" + _front_matter(header) + "---#}\n" + _HEADER_NOTE + template_body(variants)
    turns = {
        mode: [{**{n: turn_marker(n) for n in inputs}, "reply": reply}] if history else []
        for mode, reply in replies.items()
    }
    _check_renders(source, name, inputs, list(signature.output_fields), variants, turns)
    return source


def _front_matter(header: Mapping[str, Any]) -> str:
    """YAML with one line per declared field (``question: {type: str}``), everything else in block style."""

    def dump(value: Any, **style: Any) -> str:
        return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=1_000, **style)

    lines = []
    for key, value in header.items():
        if key in ("inputs", "outputs"):
            lines.append(f"{key}:\n")
            # Field names are identifiers (DSPy's and the front matter's rule): written as they are.
            lines += [f"  {name}: {dump(spec, default_flow_style=True)}" for name, spec in value.items()]
        else:
            lines.append(dump({key: value}, default_flow_style=False))
    return "".join(lines)


def _declared_input(doc: Mapping[str, str]) -> dict[str, str]:
    # The adapter passes every input as its prompt text, whatever the field's type.
    declared = {"type": "str"}
    if doc["description"]:
        declared["description"] = doc["description"]
    return declared


def _declared_output(doc: Mapping[str, str]) -> dict[str, str]:
    declared = {"type": doc["type"]}
    if doc["description"]:
        declared["description"] = doc["description"]
    if doc["format"]:
        declared["format"] = doc["format"]
    return declared


def _check_renders(
    source: str,
    name: str,
    inputs: list[str],
    outputs: list[str],
    variants: Mapping[tuple[str, bool], list[dict[str, Any]]],
    turns: Mapping[str, list[dict[str, str]]],
) -> None:
    """The template renders back to every variant it was derived from, byte for byte."""
    template = standalone_env().from_string(source, name=f"{name}.j2")
    for (mode, with_budgets), expected in variants.items():
        budgets = budget_markers(outputs) if with_budgets else {}
        history = {"history": turns[mode]} if turns[mode] else {}
        values = {**{n: input_marker(n) for n in inputs}, "output_mode": mode, "budgets": budgets, **history}
        got = template.render_messages(values)
        if got != expected:
            raise InputError(
                f"the exported template of predictor {name!r} does not render the prompt it was "
                f"exported from ({mode} replies{' with budgets' if with_budgets else ''})",
                hint="report this with the program; render it with promptkit render --program meanwhile",
            )


@functools.cache
def standalone_env() -> Any:
    """A template environment without roots, for exported sources held in memory (one: building one costs)."""
    from promptkit.prompts import TemplateEnv

    return TemplateEnv(include_bundled=False)


def _file_name(predictor: str, taken: set[str]) -> str:
    stem = _FILE_CHARS.sub("_", predictor).strip("._") or "predictor"
    file, n = f"{stem}.j2", 2
    while file in taken:
        file, n = f"{stem}_{n}.j2", n + 1
    taken.add(file)
    return file
