"""The two errors a chain adds to :mod:`promptkit.errors`.

* :class:`ChainSpecError` -- the chain definition is wrong (unknown step reference, cycle, missing
  input, bad output kind or schema, unknown key). Bad input: exit code 2. Raised when the chain is
  built, before any LM call; for a YAML spec it names the file and line.
* :class:`ChainStepError` -- a step ran but its output could not be used (not valid JSON, fails its
  schema, empty) even after the bounded re-asks. A runtime failure: exit code 1. It names the step
  and shows the raw output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from promptkit.errors import DataError, ParseError

if TYPE_CHECKING:
    from promptkit.chains.result import ChainResult

KeyPath = tuple[str | int, ...]


class ChainSpecError(DataError):
    """A chain definition is invalid.

    ``key_path`` locates the offending value inside the definition (e.g. ``("steps", 1, "inputs",
    "issues")``); the YAML loader turns it into ``path:line``. ``template_line`` is a line inside an
    inline prompt, when the problem is there.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        key_path: Sequence[str | int] = (),
        template_line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.key_path: KeyPath = tuple(key_path)
        self.template_line = template_line
        self.bare_message = message
        super().__init__(message, path=path, line=line, hint=hint)

    def within(self, *prefix: str | int) -> ChainSpecError:
        """The same error, located below ``prefix`` (a step's errors, seen from the whole chain)."""
        return ChainSpecError(
            self.bare_message,
            path=self.path,
            line=self.line,
            key_path=(*prefix, *self.key_path),
            template_line=self.template_line,
            hint=self.hint,
        )


class ChainStepError(ParseError):
    """A step's output could not be parsed or validated after its re-asks.

    ``step`` names the step, ``raw`` is the last raw output, ``attempts`` lists every try
    (``{"raw": ..., "error": ...}``) and ``partial`` holds the steps that had completed.
    """

    def __init__(
        self,
        step: str,
        reason: str,
        *,
        raw: str,
        attempts: Sequence[dict[str, Any]] = (),
        hint: str | None = None,
    ) -> None:
        self.step = step
        self.reason = reason
        self.attempts = list(attempts)
        self.partial: ChainResult | None = None
        tries = len(self.attempts)
        super().__init__(
            f"chain step {step!r}: {reason}" + (f" (after {tries} attempts)" if tries > 1 else ""),
            raw=raw,
            hint=hint,
        )


__all__ = ["ChainSpecError", "ChainStepError", "KeyPath"]
