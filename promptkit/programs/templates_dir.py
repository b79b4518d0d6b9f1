"""A program that takes its prompts from an exported directory: ``promptkit.load(program, templates=DIR)``.

Each predictor gets the template ``manifest.json`` maps it to (``promptkit export`` wrote both); from
then on the file is what the predictor sends — its instructions and demos as the file has them —
through :class:`~promptkit.adapter.override.UseTemplate`. Edit the file, and the next call sends the
edit (the template environment notices the change).

Everything is checked before the first call, and a problem names the file and line and the fix: a
predictor with no file, a manifest entry or a ``.j2`` file no predictor has, a template naming another
predictor, a template that does not declare an input of the predictor, a template syntax error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptkit.errors import DataError, InputError, TemplateError
from promptkit.programs.export import MANIFEST

_REEXPORT = "export again (promptkit export PROGRAM --out DIR) or fix manifest.json by hand"


@dataclass(frozen=True)
class ExportedDir:
    """An exported directory, read and checked: predictor name -> template file name."""

    path: Path
    program: str
    predictors: dict[str, str]
    manifest_text: str

    def line_of(self, key: str) -> int | None:
        """The manifest line that names ``key`` (for error messages)."""
        needle = json.dumps(key, ensure_ascii=False) + ":"
        for number, line in enumerate(self.manifest_text.splitlines(), 1):
            if needle in line:
                return number
        return None


def read_exported_dir(directory: str | Path) -> ExportedDir:
    """``DIR/manifest.json``, checked against the ``.j2`` files beside it."""
    path = Path(directory)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise DataError(
            f"no {MANIFEST} in the templates directory",
            path=str(path),
            hint="give the --out DIR of promptkit export PROGRAM --out DIR",
        )
    text = manifest_path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg}", path=str(manifest_path), line=exc.lineno, hint=_REEXPORT) from None
    predictors = data.get("predictors") if isinstance(data, Mapping) else None
    if not isinstance(predictors, Mapping) or not all(isinstance(v, str) for v in predictors.values()):
        raise DataError(
            '"predictors" must map each predictor name to its .j2 file', path=str(manifest_path), hint=_REEXPORT
        )
    exported = ExportedDir(path, str(data.get("program", "")), {str(k): v for k, v in predictors.items()}, text)
    for name, file in exported.predictors.items():
        if Path(file).name != file or not file.endswith(".j2"):
            raise DataError(
                f"predictor {name!r}: {file!r} is not the name of a .j2 file in this directory",
                path=str(manifest_path),
                line=exported.line_of(name),
                hint=_REEXPORT,
            )
        if not (path / file).is_file():
            raise DataError(
                f"predictor {name!r}: template file {file!r} not found",
                path=str(manifest_path),
                line=exported.line_of(name),
                hint=_REEXPORT,
            )
    listed = set(exported.predictors.values())
    extra = sorted(p.name for p in path.glob("*.j2") if p.name not in listed)
    if extra:
        raise DataError(
            f"{extra[0]} is not in {MANIFEST}, so no predictor would use it",
            path=str(path / extra[0]),
            hint=f"delete it, or add it to {MANIFEST} under the predictor it is for",
        )
    return exported


def exported_env(exported: ExportedDir) -> Any:
    """The template environment of an exported directory (the configured render budgets)."""
    from promptkit.config import load_settings
    from promptkit.prompts import TemplateEnv

    settings = load_settings()
    return TemplateEnv(
        [exported.path], max_bytes=settings.render_max_bytes, timeout=settings.render_timeout, include_bundled=False
    )


def apply_templates(program: Any, directory: str | Path) -> Any:
    """Attach each predictor of ``program`` to its template in ``directory``; returns ``program``."""
    import dspy

    from promptkit.adapter.override import attach_template

    exported = read_exported_dir(directory)
    named = getattr(program, "named_predictors", None)
    if named is None:
        raise InputError(
            f"{type(program).__name__} has no predictors to take templates",
            hint="load templates into a dspy.Module, a technique or a compiled program",
        )
    predictors = dict(named())
    manifest_path = str(exported.path / MANIFEST)
    missing = [name for name in predictors if name not in exported.predictors]
    if missing:
        raise DataError(
            f"no template for predictor {missing[0]!r} (the manifest lists {', '.join(exported.predictors) or 'none'})",
            path=manifest_path,
            line=exported.line_of("predictors"),
            hint=f"export this program: {_REEXPORT}",
        )
    unknown = [name for name in exported.predictors if name not in predictors]
    if unknown:
        raise DataError(
            f"predictor {unknown[0]!r} is not in the program (it has {', '.join(predictors)})",
            path=manifest_path,
            line=exported.line_of(unknown[0]),
            hint="load the directory into the program it was exported from, or " + _REEXPORT,
        )
    env = exported_env(exported)
    for name, predictor in predictors.items():
        file = exported.predictors[name]
        try:
            template = env.get(file)
        except TemplateError as exc:  # a syntax error: named by its path, so the message says which directory
            raise TemplateError(
                _without_location(exc),
                template=str(exported.path / file),
                line=exc.line,
                hint=exc.hint or "fix the template, or export it again",
            ) from None
        _check_template(template, exported.path / file, name, predictor, dspy.History)
    for name, predictor in predictors.items():
        file = exported.predictors[name]
        attach_template(predictor, env, file, str(exported.path / file))
    return program


def _without_location(error: TemplateError) -> str:
    where = f"template {error.template!r}" + (f", line {error.line}" if error.line is not None else "") + ": "
    return error.message.removeprefix(where)


def _check_template(template: Any, path: Path, name: str, predictor: Any, history: Any) -> None:
    from promptkit.adapter.override import takes_inputs_by_name
    from promptkit.prompts.frontmatter import parse_front_matter

    text = path.read_text(encoding="utf-8")
    front = parse_front_matter(text, path.name)
    record = front.extra.get("export")
    recorded = record.get("predictor") if isinstance(record, Mapping) else None
    if recorded is not None and recorded != name:
        line = next(
            (n for n, row in enumerate(text.splitlines(), 1) if row.strip().startswith("predictor:")), front.first_line
        )
        raise TemplateError(
            f"was exported for predictor {recorded!r}, but {MANIFEST} maps it to {name!r}",
            template=str(path),
            line=line,
            hint=_REEXPORT,
        )
    if not takes_inputs_by_name(template):
        return  # an adapter-style template (task, demos, instructions): it takes what the adapter passes
    inputs = [n for n, info in predictor.signature.input_fields.items() if info.annotation is not history]
    undeclared = [n for n in inputs if n not in template.inputs]
    if undeclared:
        raise TemplateError(
            f"does not declare input {undeclared[0]!r} of predictor {name!r}",
            template=str(path),
            line=front.first_line,
            hint=f"add `{undeclared[0]}: {{type: str}}` under inputs: in the front matter",
        )


def load(source: Any, program: Any = None, *, templates: str | Path | None = None) -> Any:
    """A saved program, optionally taking its prompts from an exported directory.

    ``load("program.json")`` / ``load(path, program=MyProgram())`` read a compiled program as before.
    With ``templates=DIR`` the program — ``source`` itself when it is a program, else the program
    ``source`` names (a compiled program.json, ``module:attr``, ``technique:ID`` ...) — sends the
    prompts of the templates in ``DIR``.
    """
    from promptkit.optimize import load as load_saved

    if templates is None:
        return load_saved(source, program)
    if isinstance(source, str | Path):
        if program is not None:
            target = load_saved(source, program)
        else:
            from promptkit.programs.resolve import resolve_program

            target = resolve_program(source)
    else:
        target = source
    return apply_templates(target, templates)


__all__ = ["ExportedDir", "apply_templates", "load", "read_exported_dir"]
