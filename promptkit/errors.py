"""The one exception hierarchy every user-facing failure belongs to.

Each error carries a message that names the input (and file/line where there is
one) and says what to do. The CLI prints ``str(error)`` without a traceback and
exits with ``error.exit_code``: 2 for bad usage or input, 1 for runtime failures.
"""

from __future__ import annotations

from typing import Any

EXIT_INPUT = 2
EXIT_RUNTIME = 1


class PromptkitError(Exception):
    """Base class: a failure promptkit explains to the user."""

    exit_code: int = EXIT_RUNTIME

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        # Exception.__init__ directly (not super()): some subclasses also derive from DSPy's
        # exceptions, whose constructors take other arguments; they initialise those themselves.
        Exception.__init__(self, message if hint is None else f"{message}\n  fix: {hint}")


class InputError(PromptkitError):
    """Bad input from the user: a value, a file, a flag. Exit code 2."""

    exit_code = EXIT_INPUT


class ConfigError(InputError):
    """A setting (env var, promptkit.toml, CLI flag) is missing or invalid."""


class DataError(InputError):
    """A data file (dataset, corpus, vars file) is missing or malformed.

    ``path`` and ``line`` locate the problem when known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}", hint=hint)


class DimensionMismatchError(DataError):
    """Vectors of one size were offered to a collection that holds another (a different embedder)."""


class TemplateError(InputError):
    """A template cannot be loaded or rendered.

    ``template`` names the template; ``line`` is the template line when known.
    """

    def __init__(
        self,
        message: str,
        *,
        template: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.template = template
        self.line = line
        where = ""
        if template is not None:
            where = f"template {template!r}" + (f", line {line}" if line is not None else "") + ": "
        super().__init__(f"{where}{message}", hint=hint)


class TemplateInputError(TemplateError):
    """A value given to a template is missing, unknown or of the wrong type."""

    def __init__(
        self,
        message: str,
        *,
        template: str | None = None,
        variable: str | None = None,
        expected: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.variable = variable
        self.expected = expected
        super().__init__(message, template=template, line=line, hint=hint)


class TemplateSecurityError(TemplateError):
    """A template tried something the sandbox forbids (attribute escapes, unsafe calls, path escapes)."""


class TemplateBudgetError(TemplateError):
    """Rendering exceeded its output-size or time budget."""


class BackendError(PromptkitError):
    """An LM backend failed at run time."""


class BackendUnavailableError(BackendError):
    """The backend cannot be reached, or the model is not available there."""

    def __init__(self, message: str, *, url: str | None = None, hint: str | None = None) -> None:
        self.url = url
        super().__init__(message, hint=hint)


class BackendDownError(BackendUnavailableError):
    """Every deployment that could answer is down (a Router group after its retries, cooldowns and fallbacks).

    An evaluation stops on it instead of failing row after row: finished rows are kept and ``--resume``
    finishes the run once the servers are back.
    """


class ParseError(PromptkitError):
    """The LM's output could not be parsed into the fields the signature asks for.

    ``raw`` keeps the text the model returned so nothing is lost.
    """

    def __init__(self, message: str, *, raw: str = "", fields: list[str] | None = None, hint: str | None = None):
        self.raw = raw
        self.fields = fields or []
        shown = raw if len(raw) <= 2000 else raw[:2000] + f"... [{len(raw) - 2000} more characters]"
        super().__init__(f"{message}\n--- raw LM output ---\n{shown}\n--- end ---", hint=hint)


class FakeLMError(PromptkitError):
    """The FakeLM was asked for more than it was scripted to answer (a test bug, never a silent placeholder)."""


def describe(value: Any) -> str:
    """Short type description of a value for error messages (never the value itself: it may be secret or huge)."""
    return type(value).__name__


class MissingDependencyError(ConfigError):
    """An optional dependency (from one of promptkit's extras) is not installed. Exit code 2."""
