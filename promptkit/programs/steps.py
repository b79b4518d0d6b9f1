"""What a multi-step program does when one of its steps gets a reply that does not parse.

``on_parse_error`` chooses:

* ``raise`` — the step's :class:`~promptkit.adapter.AdapterParseError` ends the program (a plain
  ``dspy.Predict`` behaves so);
* ``retry`` — the step is asked once more, sampled (temperature 0.7, a fresh rollout so no cache
  hit returns the same reply), then raises if that fails too;
* ``degrade`` — the step takes its fallback where the program has a sound one (a failed hop query
  searches with the question itself) and the program goes on; a step without one raises.

Whatever happened is recorded on the program's prediction (``degraded``: one entry per step that
did not parse), so a run's results say which answers came from a degraded path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, get_args

import dspy

from promptkit.adapter import PARSE_ERRORS
from promptkit.errors import InputError

OnParseError = Literal["raise", "retry", "degrade"]
ON_PARSE_ERROR: tuple[str, ...] = get_args(OnParseError)
_RETRY_TEMPERATURE = 0.7


def check_on_parse_error(value: str) -> OnParseError:
    if value not in ON_PARSE_ERROR:
        raise InputError(f"on_parse_error={value!r}", hint=f"use one of {', '.join(ON_PARSE_ERROR)}")
    return value  # type: ignore[return-value]


def run_step(
    step: Callable[..., dspy.Prediction],
    name: str,
    on_parse_error: OnParseError,
    degraded: list[dict[str, Any]],
    fallback: dict[str, Any] | None = None,
    **inputs: Any,
) -> dspy.Prediction:
    """``step(**inputs)``, handling a reply that does not parse as ``on_parse_error`` says.

    ``fallback`` holds the outputs the step takes when degraded (None: it has no sound fallback).
    Each failure is appended to ``degraded`` as ``{"step", "error", "action"}``.
    """
    try:
        return step(**inputs)
    except PARSE_ERRORS as first:
        if on_parse_error == "raise":
            raise
        if on_parse_error == "retry":
            degraded.append(_note(name, first, "retried"))
            return step(**inputs, config={"temperature": _RETRY_TEMPERATURE, "rollout_id": 1})
        if fallback is None:
            raise
        degraded.append(_note(name, first, "fallback"))
        return dspy.Prediction(**fallback)


def _note(step: str, error: Exception, action: str) -> dict[str, Any]:
    return {"step": step, "error": f"{type(error).__name__}: {str(error)[:300]}", "action": action}
