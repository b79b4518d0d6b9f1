"""ReAct: the text Thought / Action / Observation loop of Yao et al. (2022), and DSPy's native route.

``react`` (text actions, any chat model). Each step is one Predict call that writes a ``thought``
and an ``action`` of the form ``Name[argument]`` — ``Search[entity]``, ``Lookup[keyword]``,
``Finish[answer]`` in the paper's HotPotQA setup. Tools are plain Python callables taking one string,
registered by name (``tools={"Search": fn}`` or a list of functions, named after ``__name__``); any
tool works. Rules:

* ``Finish[answer]`` ends the loop; with one output field the answer is that field, otherwise (or
  when the steps run out: ``finished=False``) a closing call extracts the outputs from the trajectory.
* A malformed action or an unknown tool name is answered with an observation that says what is
  allowed (listing the known tools); after ``max_invalid`` such steps in one run the loop stops with
  :class:`ActionFormatError`.
* A tool that raises: the error text becomes the observation, so the model can adapt; after
  ``max_tool_errors`` raising calls in one run the loop stops with :class:`ToolError` naming the tool.
* The same action meeting the same observation as the step before ends the loop (``finished=False``,
  outputs extracted): nothing new came of it, and a greedy model would repeat it until the steps run out.

``react_native`` wraps ``dspy.ReAct`` (tool name + JSON arguments; better for function-calling
models), with its agent instructions rendered from ``templates/techniques/react_native.j2``.

:class:`DocstoreTools` (from :mod:`promptkit.retrieval.tools`, with the index's ``IndexTools``) gives
``Search``/``Lookup`` over an in-memory ``{title: text}`` corpus, the way the paper's Wikipedia API behaves.

The ``action`` output is typed with a pattern made from the tool names (:func:`action_pattern`): on a
route that enforces the output JSON schema with a grammar (the embedded model, a llama.cpp server) the
model can then only write ``Name[argument]`` with a known name — SmolLM2-135M otherwise writes its
thought there — and on the first step only a tool (the template says so; a small model otherwise
"finishes" with a guess before looking anything up). Elsewhere the pattern is not enforced and the
rules above apply as written.
"""

from __future__ import annotations

import inspect
import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

import dspy
from dspy.adapters.utils import parse_value
from pydantic import StringConstraints

from promptkit.adapter import PARSE_ERRORS
from promptkit.errors import InputError, ParseError
from promptkit.retrieval.tools import DocstoreTools as DocstoreTools  # its home; still importable from here
from promptkit.techniques.base import (
    SignatureLike,
    Step,
    TechniqueError,
    TechniqueModule,
    positive,
    render_instructions,
)

Tool = Callable[[str], Any]
FINISH = "Finish"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ACTION = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\[(.*)\]", re.S)
_ACTION_LABEL = re.compile(r"^\s*Action\s*\d*\s*:\s*", re.I)
# The argument's characters in the action pattern: no ']' (it closes the action), no '"', '\\' or newline
# (a grammar writes them into a JSON string raw); bounded so a grammar-constrained reply closes in time.
MAX_ARGUMENT_CHARS = 120


class ToolError(TechniqueError):
    """A tool kept raising; the trajectory so far is on ``.trajectory``."""

    def __init__(self, message: str, *, trajectory: list[dict[str, str]], hint: str | None = None) -> None:
        self.trajectory = trajectory
        super().__init__(message, hint=hint)


class ActionFormatError(ParseError):
    """The model kept writing actions that are not ``Name[argument]`` with a known tool."""


def register_tools(tools: Mapping[str, Tool] | Sequence[Tool] | None, technique: str) -> dict[str, Tool]:
    """Tools by name, checked: callables, valid distinct names, and not the reserved ``Finish``."""
    if not tools:
        raise InputError(
            f"technique {technique!r} needs tools=...: a dict of name -> function(str), or a list of functions",
            hint="e.g. tools=DocstoreTools(docs).tools() for Search/Lookup, or tools={'Calculator': calc}",
        )
    named = dict(tools) if isinstance(tools, Mapping) else {getattr(t, "__name__", repr(t)): t for t in tools}
    seen: set[str] = set()
    for name, tool in named.items():
        if not isinstance(name, str) or not _NAME.match(name) or name.lower() == FINISH.lower():
            raise InputError(
                f"technique {technique!r}: tool name {name!r} is not allowed",
                hint=f"use an identifier such as Search or calculator (and not {FINISH!r}, which ends the loop)",
            )
        if not callable(tool):
            raise InputError(f"technique {technique!r}: tool {name!r} is a {type(tool).__name__}, not a function")
        if name.lower() in seen:
            raise InputError(f"technique {technique!r}: two tools are named {name!r} (names are case-insensitive)")
        seen.add(name.lower())
    return named


def action_pattern(names: Sequence[str], *, finish: bool = True) -> str:
    """``^(Search|Lookup|Finish)\\[...\\]$``: an action calling one of ``names`` (or ``Finish``)."""
    alternatives = "|".join(re.escape(name) for name in [*names, *([FINISH] if finish else [])])
    return rf'^({alternatives})\[[^\]"\\\n]{{1,{MAX_ARGUMENT_CHARS}}}\]$'


def action_type(names: Sequence[str], *, finish: bool = True) -> Any:
    """``str`` constrained to :func:`action_pattern` (a grammar route enforces it; see the module docstring)."""
    return Annotated[str, StringConstraints(pattern=action_pattern(names, finish=finish))]


# The first step's signature (no Finish in its action pattern), per step signature: derived when it is
# first needed, so instructions an optimizer rewrote on the step carry over.
_FIRST_STEP: weakref.WeakKeyDictionary[type[dspy.Signature], type[dspy.Signature]] = weakref.WeakKeyDictionary()


def describe_tool(name: str, tool: Tool) -> dict[str, str]:
    """Name, argument name (the function's first parameter, e.g. ``entity``) and docstring's first line."""
    doc = (getattr(tool, "__doc__", None) or "").strip().splitlines()
    try:
        params = [p for p in inspect.signature(tool).parameters.values() if p.name not in ("self", "cls")]
    except (TypeError, ValueError):  # builtins without a signature
        params = []
    argument = params[0].name if params else "argument"
    return {"name": name, "argument": argument, "description": doc[0] if doc else f"calls the {name} tool"}


def parse_action(text: str) -> tuple[str, str] | None:
    """``"Search[Colorado orogeny]"`` -> ``("Search", "Colorado orogeny")``; None when there is no action."""
    line = _ACTION_LABEL.sub("", str(text).strip())
    match = _ACTION.fullmatch(line) or _ACTION.search(line.splitlines()[0] if line else "")
    return (match.group(1), match.group(2).strip()) if match else None


def format_trajectory(steps: Sequence[Mapping[str, str]]) -> str:
    lines = []
    for n, step in enumerate(steps, 1):
        lines += [f"Thought {n}: {step['thought']}", f"Action {n}: {step['action']}"]
        if "observation" in step:
            lines.append(f"Observation {n}: {step['observation']}")
    return "\n".join(lines)


class ReAct(TechniqueModule):
    """The text ReAct loop (see the module docstring). ``max_steps`` bounds the Thought/Action calls."""

    technique_id = "react"

    def __init__(
        self,
        signature: SignatureLike = "question -> answer",
        *,
        tools: Mapping[str, Tool] | Sequence[Tool] | None = None,
        max_steps: int = 8,
        max_invalid: int = 3,
        max_tool_errors: int = 3,
        max_observation_chars: int = 2000,
        example: str = "",
    ) -> None:
        super().__init__(signature)
        tid = self.technique_id
        self.tools = register_tools(tools, tid)
        self.max_steps = positive("max_steps", max_steps, tid)
        self.max_invalid = positive("max_invalid", max_invalid, tid)
        self.max_tool_errors = positive("max_tool_errors", max_tool_errors, tid)
        self.max_observation_chars = positive("max_observation_chars", max_observation_chars, tid, minimum=100)
        described = [describe_tool(name, tool) for name, tool in self.tools.items()]
        trajectory = ("trajectory", "the Thought / Action / Observation steps so far", str)
        acted = (
            ("thought", "your reasoning about the current situation", str),
            ("action", "exactly one action: Name[argument]", action_type(list(self.tools))),
        )
        self.step = self.predictor(
            Step("react.j2", drop_outputs=True, inputs=(trajectory,), after=acted),
            tools=described,
            max_steps=self.max_steps,
            example=example,
        )
        self.extract = self.predictor(Step("react_extract.j2", inputs=(trajectory,)))

    def _known(self) -> str:
        return ", ".join([*(f"{name}[...]" for name in self.tools), f"{FINISH}[answer]"])

    def _observe(self, name: str, argument: str, errors: list[str]) -> str:
        tool = next((t for n, t in self.tools.items() if n.lower() == name.lower()), None)
        assert tool is not None
        try:
            observation = str(tool(argument))
        except Exception as exc:  # any tool failure is reported to the model, then bounded below
            errors.append(f"{name}[{argument}] raised {type(exc).__name__}: {exc}")
            return f"Error: {name} raised {type(exc).__name__}: {exc}"
        if len(observation) > self.max_observation_chars:
            observation = observation[: self.max_observation_chars] + " [...truncated]"
        return observation

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        steps: list[dict[str, str]] = []
        invalid = 0
        tool_errors: list[str] = []
        for _ in range(self.max_steps):
            # The first action uses a tool (see the module docstring); later steps may Finish.
            first = {} if steps else {"signature": self._first_step_signature()}
            out = self.step(**inputs, trajectory=format_trajectory(steps) or "(empty: this is the first step)", **first)
            step = {"thought": str(out.thought), "action": str(out.action).strip()}
            steps.append(step)
            parsed = parse_action(step["action"])
            if parsed is not None and parsed[0].lower() == FINISH.lower():
                return self._finish(inputs, steps, parsed[1])
            if parsed is None or not any(n.lower() == parsed[0].lower() for n in self.tools):
                invalid += 1
                what = "is not of the form Name[argument]" if parsed is None else f"uses the unknown tool {parsed[0]!r}"
                step["observation"] = (
                    f"Invalid action: {step['action']!r} {what}. The known actions are: {self._known()}."
                )
                if invalid >= self.max_invalid:
                    raise ActionFormatError(
                        f"react: {invalid} invalid actions in one run (limit max_invalid={self.max_invalid})",
                        raw=format_trajectory(steps),
                        hint="use a model that follows the Name[argument] format, add example=..., or use react_native",
                    )
                continue
            step["observation"] = self._observe(parsed[0], parsed[1], tool_errors)
            if len(tool_errors) >= self.max_tool_errors:
                raise ToolError(
                    f"react: tools raised {len(tool_errors)} times in one run (limit max_tool_errors="
                    f"{self.max_tool_errors}); last: {tool_errors[-1]}",
                    trajectory=steps,
                    hint="fix the tool, or make it return an error message instead of raising",
                )
            if len(steps) > 1 and all(steps[-2].get(key) == step[key] for key in ("action", "observation")):
                # The same action met the same observation again: nothing new to reason from, and a model
                # under greedy decoding would repeat it until the steps run out. The outputs come from here.
                return self._extract(inputs, steps, finished=False)
        return self._extract(inputs, steps, finished=False)

    def _first_step_signature(self) -> type[dspy.Signature]:
        """The step's signature with an action pattern that leaves ``Finish`` out (for the first step)."""
        signature = self.step.signature
        if signature not in _FIRST_STEP:
            desc = signature.output_fields["action"].json_schema_extra["desc"]
            _FIRST_STEP[signature] = signature.delete("action").append(
                "action", dspy.OutputField(desc=desc), type_=action_type(list(self.tools), finish=False)
            )
        return _FIRST_STEP[signature]

    def _finish(self, inputs: dict[str, Any], steps: list[dict[str, str]], answer: str) -> dspy.Prediction:
        outputs = self.signature.output_fields
        if len(outputs) == 1:
            name, info = next(iter(outputs.items()))
            try:
                value = parse_value(answer, info.annotation)
            except (ValueError, TypeError):  # e.g. Finish[about 42] for an int field: let the LM extract it
                return self._extract(inputs, steps, finished=True)
            return self._prediction({name: value}, steps, finished=True)
        return self._extract(inputs, steps, finished=True)

    def _extract(self, inputs: dict[str, Any], steps: list[dict[str, str]], *, finished: bool) -> dspy.Prediction:
        extracted = self.extract(**inputs, trajectory=format_trajectory(steps))
        return self._prediction(extracted.toDict(), steps, finished=finished)

    @staticmethod
    def _prediction(outputs: dict[str, Any], steps: list[dict[str, str]], *, finished: bool) -> dspy.Prediction:
        return dspy.Prediction(**outputs, trajectory=steps, trajectory_text=format_trajectory(steps), finished=finished)


class _EndOnUnparsedStep(dspy.ReAct):
    """``dspy.ReAct`` ends its loop on a ValueError from a step and extracts the outputs from the trajectory so
    far; a step reply that does not parse (a small model's JSON without the step's fields) ends it the same way
    instead of escaping as a parse error and losing the trajectory."""

    def _call_with_potential_trajectory_truncation(self, module: Any, trajectory: Any, **input_args: Any) -> Any:
        try:
            return super()._call_with_potential_trajectory_truncation(module, trajectory, **input_args)
        except PARSE_ERRORS as exc:
            if module is not self.react:
                raise
            raise ValueError(f"the step's reply did not parse ({type(exc).__name__})") from exc

    async def _async_call_with_potential_trajectory_truncation(
        self, module: Any, trajectory: Any, **input_args: Any
    ) -> Any:
        try:
            return await super()._async_call_with_potential_trajectory_truncation(module, trajectory, **input_args)
        except PARSE_ERRORS as exc:
            if module is not self.react:
                raise
            raise ValueError(f"the step's reply did not parse ({type(exc).__name__})") from exc


class NativeReAct(TechniqueModule):
    """``dspy.ReAct`` (function-calling style), with its agent instructions from ``react_native.j2``."""

    technique_id = "react_native"

    def __init__(
        self,
        signature: SignatureLike = "question -> answer",
        *,
        tools: Mapping[str, Tool] | Sequence[Callable[..., Any]] | None = None,
        max_iters: int = 8,
    ) -> None:
        super().__init__(signature)
        sig = self.signature
        named = register_tools(tools, self.technique_id) if isinstance(tools, Mapping) else None
        callables: list[Any] = (
            [dspy.Tool(fn, name=name) for name, fn in named.items()] if named is not None else list(tools or [])
        )
        if not callables:
            register_tools(None, self.technique_id)  # raises the "needs tools" error
        self.max_iters = positive("max_iters", max_iters, self.technique_id)
        self.agent = _EndOnUnparsedStep(sig, tools=callables, max_iters=self.max_iters)
        lines = [str(tool) for tool in self.agent.tools.values()]
        text = render_instructions(
            "react_native.j2",
            **self._values(inputs=list(sig.input_fields), outputs=list(sig.output_fields), tools=lines),
        )
        self.agent.react.signature = self.agent.react.signature.with_instructions(text)

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        prediction: dspy.Prediction = self.agent(**self._inputs(kwargs))
        return prediction
