"""Decomposed Prompting (DecomP, Khot et al. 2022, arXiv 2210.02406): a decomposer writes a program of
sub-task calls, a controller dispatches each call to a handler, the results answer the task.

Mechanism (LM calls: 2, plus one per call sent to an LM handler, so at most ``max_calls + 2``):

1. ``decomp_plan.j2``: the decomposer writes ``program``, a list of calls ``[handler] sub-question``;
   a sub-question may use earlier results as ``#1``, ``#2`` ...
2. The controller runs the first ``max_calls`` calls in order, each ``#n`` replaced by result n. A
   handler is a Python callable ``str -> str`` (a symbolic function: lookup, retrieval, arithmetic)
   or a string instruction, run by the LM as a sub-prompt (``decomp_handler.j2``) that sees only its
   sub-question — the modularity the paper relies on.
3. ``decomp_answer.j2``: the signature's outputs from the input and every call's result.

Options: ``handlers`` — ``{name: callable | instruction}``, added to the defaults (a handler with a
default's name replaces it); ``max_calls`` (default 8); ``max_result_chars`` (default 2000).
Default handlers: ``qa``, which answers a simple, self-contained question with the LM.

Rules (as ``react`` treats tools, except that nothing here stops the run: every call is already
bounded by ``max_calls``, and the final call can answer around a failed one):

* Handler names are identifiers, case-insensitive and distinct; a value that is neither callable nor
  a non-empty string, or ``handlers`` that is not a mapping, is an InputError naming ``handlers``.
* A line that is not ``[handler] sub-question``, an unknown handler (the error lists the known ones),
  a ``#n`` that names no earlier call or a failed one, and a callable that raises (its exception
  text) each become an error result: ``result`` is ``"Error: ..."`` and ``error`` says why.
* A callable's result is ``str()``-ed and cut to ``max_result_chars``; lines past ``max_calls`` are
  not run and are returned in ``dropped``.

Prediction: the outputs, ``calls`` (``[{handler, sub_question, result, error}]``, ``error`` None on
success), ``program`` (the decomposer's lines) and ``dropped``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import dspy

from promptkit.errors import InputError
from promptkit.techniques.base import (
    SignatureLike,
    Step,
    TechniqueModule,
    positive,
    render_instructions,
    step_signature,
)
from promptkit.techniques.react import describe_tool

Handler = Callable[[str], Any] | str
DEFAULT_HANDLERS: dict[str, Handler] = {
    "qa": "Answer the simple, self-contained question in `sub_question` with a short fact or value.",
}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# "[qa] Who ...", also with the numbering or "Q1:" labels models like to add in front.
_CALL = re.compile(r"^\s*(?:(?:Q|Step\s*)?#?\d+\s*[.):]\s*|[-*]\s*)?\[\s*([^\]]*?)\s*\]\s*(.*?)\s*$", re.I | re.S)
_REF = re.compile(r"#(\d+)\b")


def check_handlers(handlers: Any, technique: str) -> dict[str, Handler]:
    """The defaults plus ``handlers``, checked (see the module docstring)."""
    if handlers is None:
        return dict(DEFAULT_HANDLERS)
    if not isinstance(handlers, Mapping):
        raise InputError(
            f"technique {technique!r}: option handlers must be a mapping name -> function(str) or instruction, "
            f"not a {type(handlers).__name__}",
            hint="e.g. handlers={'calc': calculator, 'reverse': 'Reverse the list in sub_question.'}",
        )
    merged = dict(DEFAULT_HANDLERS)
    seen: dict[str, str] = {}
    for name, handler in handlers.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise InputError(
                f"technique {technique!r}: option handlers has the name {name!r}, not an identifier",
                hint="use names such as qa, calc or lookup",
            )
        if name.lower() in seen:
            raise InputError(f"technique {technique!r}: option handlers names {name!r} twice (case-insensitive)")
        if not callable(handler) and not (isinstance(handler, str) and handler.strip()):
            raise InputError(
                f"technique {technique!r}: option handlers[{name!r}] is a {type(handler).__name__}; "
                "it must be a function(str) -> str or a non-empty instruction string",
            )
        seen[name.lower()] = name
        merged = {n: h for n, h in merged.items() if n.lower() != name.lower()}  # a user handler replaces a default
        merged[name] = handler
    return merged


def parse_call(line: str) -> tuple[str, str] | None:
    """``"[qa] Who is #1?"`` -> ``("qa", "Who is #1?")``; None when the line is not a call."""
    match = _CALL.match(line)
    if match is None or not match.group(2):
        return None
    return match.group(1), match.group(2)


def format_results(calls: list[dict[str, Any]]) -> str:
    if not calls:
        return "(the decomposer wrote no sub-task calls)"
    return "\n".join(f"#{i} [{c['handler']}] {c['sub_question']}\n=> {c['result']}" for i, c in enumerate(calls, 1))


class DecomposedPrompting(TechniqueModule):
    """Plan ``[handler] sub-question`` calls, dispatch them in order, answer from the results."""

    technique_id = "decomp"

    def __init__(
        self,
        signature: SignatureLike = "question -> answer",
        *,
        handlers: Mapping[str, Handler] | None = None,
        max_calls: int = 8,
        max_result_chars: int = 2000,
    ) -> None:
        super().__init__(signature)
        tid = self.technique_id
        self.handlers = check_handlers(handlers, tid)
        self.max_calls = positive("max_calls", max_calls, tid)
        self.max_result_chars = positive("max_result_chars", max_result_chars, tid, minimum=100)
        described = [
            {"name": n, "description": h.strip() if isinstance(h, str) else describe_tool(n, h)["description"]}
            for n, h in self.handlers.items()
        ]
        program = ("program", "the sub-task calls in order, each `[handler] sub-question`", list[str])
        self.plan = self.predictor(
            Step("decomp_plan.j2", drop_outputs=True, after=(program,)), handlers=described, max_calls=self.max_calls
        )
        # One Predict per LM handler, so an optimizer can tune each sub-prompt on its own.
        self.sub_prompts = {
            name: dspy.Predict(
                step_signature(
                    [("sub_question", "the sub-task to solve", str)],
                    [("result", "the sub-task's result", str)],
                    render_instructions("decomp_handler.j2", **self._values(handler=name, instruction=handler.strip())),
                )
            )
            for name, handler in self.handlers.items()
            if isinstance(handler, str)
        }
        self.answer = self.predictor(
            Step("decomp_answer.j2", inputs=(("results", "the sub-task calls, each with its result", str),))
        )

    def _find(self, name: str) -> str | None:
        return next((n for n in self.handlers if n.lower() == name.lower()), None)

    def _run(self, line: str, done: list[dict[str, Any]]) -> dict[str, Any]:
        """One call of the program as a trace entry; every failure becomes an error result."""
        parsed = parse_call(line)
        if parsed is None:
            return _failed("?", line, f"{line!r} is not of the form [handler] sub-question")
        wanted, question = parsed
        name = self._find(wanted)
        if name is None:
            return _failed(
                wanted, question, f"unknown handler {wanted!r}; the known handlers are: " + ", ".join(self.handlers)
            )
        for ref in sorted({int(n) for n in _REF.findall(question)}):
            if not 1 <= ref <= len(done):
                return _failed(name, question, f"#{ref} names no earlier call")
            if done[ref - 1]["error"] is not None:
                return _failed(name, question, f"#{ref} failed, so this call cannot use its result")
        question = _REF.sub(lambda m: str(done[int(m.group(1)) - 1]["result"]), question)
        handler = self.handlers[name]
        if isinstance(handler, str):
            result = str(self.sub_prompts[name](sub_question=question).result)
        else:
            try:
                result = str(handler(question))
            except Exception as exc:  # a failing function is reported to the final call, as react reports tools
                return _failed(name, question, f"{name} raised {type(exc).__name__}: {exc}")
        if len(result) > self.max_result_chars:
            result = result[: self.max_result_chars] + " [...truncated]"
        return {"handler": name, "sub_question": question, "result": result, "error": None}

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        # Items may hold several lines when the model writes the whole program as one string.
        program = [line.strip() for item in self.plan(**inputs).program for line in str(item).splitlines()]
        program = [line for line in program if line]
        calls: list[dict[str, Any]] = []
        for line in program[: self.max_calls]:
            calls.append(self._run(line, calls))
        answer = self.answer(**inputs, results=format_results(calls))
        return dspy.Prediction(calls=calls, program=program, dropped=program[self.max_calls :], **answer.toDict())


def _failed(handler: str, question: str, error: str) -> dict[str, Any]:
    return {"handler": handler, "sub_question": question, "result": f"Error: {error}", "error": error}
