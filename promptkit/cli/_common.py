"""What every command shares: the consoles, error reporting and ``key=value`` parsing."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
import typer
from rich.console import Console
from rich.markup import escape

from promptkit.errors import EXIT_INPUT, EXIT_RUNTIME, DataError, InputError, PromptkitError
from promptkit.redaction import redact
from promptkit.yaml_files import load_yaml_file

# Piped output (tests, scripts, CI logs) gets a wide console so tables are not folded mid-value.
_WIDTH = None if sys.stdout.isatty() else 200
out = Console(soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 200)

F = TypeVar("F", bound=Callable[..., Any])


def report(exc: BaseException) -> int:
    """Print one clear message for ``exc`` (no traceback) and return the exit code.

    The text is scrubbed of every known key: a server may echo the key in its error (``Incorrect API key
    provided: sk-...``), and whichever layer built the message, this is where it reaches the terminal.
    """
    text = escape(redact(str(exc)))
    name = type(exc).__name__
    if isinstance(exc, PromptkitError):
        err.print(f"[bold red]error:[/] {name}: {text}", markup=True, highlight=False)
        return exc.exit_code
    module = type(exc).__module__
    if module.startswith("dspy"):
        # DSPy's LM errors are runtime failures of the backend; their message says what happened.
        err.print(f"[bold red]error:[/] {name}: {text}", markup=True, highlight=False)
        return EXIT_RUNTIME
    err.print(f"[bold red]internal error:[/] {name}: {text}", markup=True, highlight=False)
    err.print("set PROMPTKIT_DEBUG=1 to see the traceback", style="dim")
    return EXIT_RUNTIME


def handle_errors(fn: F) -> F:
    """Turn any exception from a command into a one-line message and an exit code."""
    if getattr(fn, "_promptkit_handled", False):
        return fn

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (SystemExit, typer.Exit, click.exceptions.Exit, click.exceptions.ClickException, click.exceptions.Abort):
            raise  # typer.Exit(code=...) and usage errors carry their own exit code
        except KeyboardInterrupt:
            err.print("interrupted")
            raise SystemExit(130) from None
        except Exception as exc:
            if os.environ.get("PROMPTKIT_DEBUG"):
                raise
            raise SystemExit(report(exc)) from None

    wrapper._promptkit_handled = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


ROUTER_HELP = "LiteLLM Router config (router.yaml); --model then names a model_name group (env PROMPTKIT_ROUTER)"


def parse_assignments(items: Iterable[str], *, flag: str) -> dict[str, str]:
    """``["a=1", "b=@file.txt"]`` -> ``{"a": "1", "b": <file text>}``."""
    values: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"{flag} {item!r} is not KEY=VALUE", hint=f"write {flag} name=value")
        if value.startswith("@"):
            path = Path(value[1:])
            if not path.is_file():
                raise DataError(f"{flag} {key}: file not found", path=str(path), hint="check the path after '@'")
            value = path.read_text(encoding="utf-8")
        values[key.strip()] = value
    return values


def load_vars_file(path: Path) -> dict[str, Any]:
    """Read ``--vars FILE`` (.json, .yaml or .yml) into a dict, with errors naming the file and line."""
    if path.suffix == ".json":
        if not path.is_file():
            raise DataError("vars file not found", path=str(path), hint="give an existing .yaml or .json file")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON: {exc.msg}", path=str(path), line=exc.lineno) from None
    else:
        data = load_yaml_file(path, what="vars file")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DataError("expected a mapping of variable names to values", path=str(path))
    return data


__all__ = ["EXIT_INPUT", "ROUTER_HELP", "err", "handle_errors", "load_vars_file", "out", "parse_assignments", "report"]
