"""Resolve a PROGRAM reference to something callable: the one copy used by the CLI, ``evaluate`` and ``compile``.

A reference is, tried in this order:

- a compiled program (``DIR/program.json`` or ``DIR`` holding one, written by ``promptkit compile`` /
  ``save_program``): the recorded class rebuilt and its state loaded; a program compiled from a
  ``path/to/file.py:attr`` is rebuilt from that reference (its module has no importable name);
- ``technique:ID``: that prompting technique over ``question -> answer``;
- a chain spec (``.yaml`` / ``.yml``): a program whose prediction holds the chain's output;
- ``module:attr`` or ``path/to/file.py:attr``: a ``dspy.Module`` instance, a class or a zero-argument
  factory (built), or a plain function taking the example's inputs as keyword arguments.

Other kinds plug in with :func:`register_program_resolver`.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from promptkit.errors import DataError, InputError

ProgramResolver = Callable[[str], Any]
PROGRAM_RESOLVERS: list[ProgramResolver] = []
PROGRAM_FILE = "program.json"
PYTHON_REF_HINT = (
    "use module:attr (e.g. mypkg.programs:qa), path/to/file.py:attr, technique:ID, a chain .yaml "
    "or a compiled program.json"
)


def register_program_resolver(resolver: ProgramResolver) -> None:
    """Add a resolver tried first; it returns a program, or None when the reference is not its kind."""
    PROGRAM_RESOLVERS.insert(0, resolver)


def resolve_program(ref: str | Path) -> Any:
    """The program ``ref`` names (see the module docstring). Bad references raise ``InputError``."""
    text = str(ref)
    for resolver in PROGRAM_RESOLVERS:
        program = resolver(text)
        if program is not None:
            return program
    return _resolve_python_ref(text)


def canonical_ref(ref: str | Path) -> str:
    """``ref`` as recorded in a compiled program: a file path made absolute, so the program is rebuilt
    from any working directory."""
    text = str(ref)
    target, sep, attr = text.rpartition(":")
    if sep and (target.endswith(".py") or "/" in target) and Path(target).is_file():
        return f"{Path(target).resolve()}:{attr}"
    return text


def compiled_program_path(ref: str | Path) -> Path | None:
    """``ref`` as a compiled program file: ``x.json``, or a directory holding ``program.json``; else None."""
    path = Path(ref)
    if path.is_dir() and (path / PROGRAM_FILE).is_file():
        return path / PROGRAM_FILE
    if path.suffix.lower() == ".json":
        if not path.is_file():
            raise DataError(
                "compiled program not found",
                path=str(path),
                hint="give the program.json that `promptkit compile --out DIR` wrote",
            )
        return path
    return None


def _compiled_program(ref: str) -> Any:
    path = compiled_program_path(ref)
    if path is None:
        return None
    from promptkit.optimize import load, read_metadata

    source = read_metadata(path).get("program_ref")
    if isinstance(source, str) and source and not source.endswith(".json"):
        # The class of a program defined in a file has no importable module name: rebuild it from its ref.
        try:
            return load(path, program=resolve_program(source))
        except InputError as exc:
            raise InputError(
                f"{path}: cannot rebuild the program it was compiled from ({source}): {exc}",
                hint="run from the directory compile ran in, or pass the program: "
                "promptkit.load(path, program=MyProgram(...))",
            ) from None
    return load(path)


def _technique_program(ref: str) -> Any:
    """``technique:ID`` -> that prompting technique over ``question -> answer``."""
    if not ref.startswith("technique:"):
        return None
    from promptkit import techniques

    return techniques.build(ref.removeprefix("technique:"), "question -> answer")


def _chain_program(ref: str) -> Any:
    """A chain spec -> a program whose prediction holds the chain's output (a dict's keys, else ``answer``)."""
    if not ref.endswith((".yaml", ".yml")):
        return None
    import dspy

    from promptkit.chains import load_chain

    chain = load_chain(ref)

    def run_chain(**inputs: Any) -> dspy.Prediction:
        output = chain.run(**inputs).output
        return dspy.Prediction(**output) if isinstance(output, dict) else dspy.Prediction(answer=output)

    run_chain.chain = chain  # type: ignore[attr-defined]  # render_program reads the steps from here
    return run_chain


PROGRAM_RESOLVERS.extend([_compiled_program, _technique_program, _chain_program])


def _resolve_python_ref(ref: str) -> Any:
    return _as_program(resolve_attr(ref, what="program"), ref)


def resolve_attr(ref: str, *, what: str = "program") -> Any:
    """The object ``module:attr`` or ``path/to/file.py:attr`` names, as is (e.g. a metric function)."""
    target, sep, attr = ref.rpartition(":")
    if not sep or not target or not attr:
        raise InputError(f"cannot resolve {what} {ref!r}", hint=PYTHON_REF_HINT)
    if target.endswith(".py") or "/" in target:
        module = _load_file(Path(target), ref)
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise InputError(
                f"program {ref!r}: cannot import module {target!r} ({exc})", hint=PYTHON_REF_HINT
            ) from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise InputError(f"{what} {ref!r}: {target} has no attribute {attr!r}", hint=PYTHON_REF_HINT)
        obj = getattr(obj, part)
    return obj


def _load_file(path: Path, ref: str) -> Any:
    if not path.is_file():
        raise InputError(f"program {ref!r}: file {path} not found", hint="check the path before the ':'")
    # A stable, unique module name: saved programs record module:QualName of their class.
    name = f"promptkit_user_{path.stem}_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"program {ref!r}: {path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _as_program(obj: Any, ref: str) -> Any:
    import dspy

    if isinstance(obj, dspy.Module):
        return obj
    if isinstance(obj, type) or (callable(obj) and _required_params(obj) == 0):
        try:
            built = obj()
        except TypeError as exc:
            raise InputError(
                f"program {ref!r} cannot be built without arguments: {exc}",
                hint="point at a module instance or a zero-argument factory",
            ) from None
        if callable(built):
            return built
        raise InputError(f"program {ref!r} returned {type(built).__name__}, not a program")
    if callable(obj):
        return obj  # a plain function taking the example's inputs as keyword arguments
    raise InputError(f"program {ref!r} is a {type(obj).__name__}, not a dspy.Module or a factory")


def _required_params(fn: Any) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return -1
    return sum(1 for p in params if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))


__all__ = [
    "PROGRAM_FILE",
    "canonical_ref",
    "compiled_program_path",
    "register_program_resolver",
    "resolve_attr",
    "resolve_program",
]
