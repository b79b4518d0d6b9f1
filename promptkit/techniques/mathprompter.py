"""MathPrompter (Imani et al., 2023, arXiv 2303.05398): two independent solutions of the same algebraic
template must agree on random values before the answer is trusted.

Mechanism. (1) Algebraic template, **deterministic, no LM call**: every number in the user's text inputs
(``12``, ``3.5``, ``1,200``; not digits inside words such as ``x2`` or ``v1.2``) becomes a variable
``x1, x2, ...``, one per distinct value (so a quantity mentioned twice stays one variable and the real
answer is unchanged); ``mathprompter_template.j2`` renders the templated question and the mapping. The
paper asks the LM for the template and names variables A, B, C; a regex is cheaper, cannot miss-copy a
value, and ``x<i>`` cannot clash with the article "A". (2) Per attempt, two calls over the templated
inputs (the real numbers are withheld so neither solution can hard-code them): an algebraic expression
``Answer = ...`` (``mathprompter_expression.j2``) and a Python function ``def solution(x1, x2, ...)``
(``mathprompter_function.j2``, field ``code`` like program_of_thought/pal). (3) One sandbox run per
attempt (:class:`~promptkit.techniques.sandbox.PythonSandbox`, as :mod:`.program`): a fixed harness
receives the expression and the code as string literals and evaluates both on ``trials`` random integer
assignments (1..100, ``random.Random(seed)``; one assignment when there are no variables) and on the real
values. The expression is ``eval``-ed **inside the sandbox only** (``^`` read as ``**``, ``×``/``÷`` as
``*``/``/``, math functions available). A trial agrees when both give numbers within ``tolerance``
(relative or absolute); an attempt is accepted when every trial agrees, and the answer is the function's
value on the real values (an integral float printed as an int). Otherwise both are regenerated, up to
``attempts`` in all; retries use ``temperature`` and distinct ``rollout_id``s (DSPy's cache key).

When no attempt agrees, the answer is the most common real-value result over every attempt's expression
and function (ties: first seen) with ``verified=False`` — the paper's final majority vote, minus the
agreement it could not get; if nothing produced a number, :class:`~promptkit.techniques.program.ProgramError`.
Output mapping as in :mod:`.program`: one output field gets the value parsed to its type; otherwise (or
when it does not parse) one more call with ``program_answer.j2``. Without a working sandbox it refuses
before any LM call with :class:`~promptkit.techniques.sandbox.SandboxUnavailableError`.

Calls: 2 per attempt (<= 2·attempts), + 1 when mapping is needed. Options: ``attempts`` (3), ``trials``
(5), ``tolerance`` (1e-6), ``temperature`` (0.7), ``seed`` (0), ``timeout`` (5 s), ``memory_mb`` (256),
``sandbox`` (backend name). Prediction: the outputs, ``template``, ``variables`` (name -> value),
``expression``, ``code``, ``trials`` (per assignment: values, expression, function, agree), ``verified``,
``result``, ``attempts`` (per attempt: expression, code, agreed, real results, error).
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from typing import Any

import dspy
from dspy.adapters.utils import parse_value

from promptkit.errors import InputError
from promptkit.parsing import strip_fences
from promptkit.techniques.base import SignatureLike, Step, TechniqueModule, positive, render_instructions
from promptkit.techniques.options import Program, check_temperature
from promptkit.techniques.program import ANSWER_FROM_RESULT, CODE, ProgramError

_NUMBER = re.compile(r"(?<![\w.])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w])")
_ANSWER_EQ = re.compile(r"^\s*(?:answer|ans)\s*=\s*", re.I)

# Runs inside the sandbox. The untrusted expression and code arrive as string literals, so neither can
# change the harness's syntax; what they do when executed is the sandbox's business.
_HARNESS = """
import json, math
_expr, _code, _names, _assignments = {expr!r}, {code!r}, {names!r}, {assignments!r}

def _number(value):
    try:
        result = float(value)
    except Exception as exc:
        return "not a number: " + repr(value)[:80]
    return result if math.isfinite(result) else "not finite: " + repr(value)

def _safe(fn, values):
    try:
        return _number(fn(values))
    except BaseException as exc:
        return type(exc).__name__ + ": " + str(exc)[:200]

_math = {{k: getattr(math, k) for k in dir(math) if not k.startswith("_")}}
_math.update(abs=abs, round=round, min=min, max=max, pow=pow, int=int, float=float)

def _expression(values):
    return eval(_expr, {{"__builtins__": {{}}}}, {{**_math, **dict(zip(_names, values))}})

_namespace = {{"__name__": "solution_module"}}
try:
    exec(compile(_code, "<solution>", "exec"), _namespace)
    _solution = _namespace.get("solution")
    _load_error = None if callable(_solution) else "the code defines no function solution()"
except BaseException as exc:
    _load_error = type(exc).__name__ + ": " + str(exc)[:200]

def _function(values):
    if _load_error:
        raise RuntimeError(_load_error)
    return _solution(*values)

ans = json.dumps([[_safe(_expression, v), _safe(_function, v)] for v in _assignments])
"""


def algebraic_template(inputs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int | float]]:
    """The text inputs with their numbers replaced by ``x1, x2, ...`` (one per distinct value), and the mapping."""
    by_value: dict[int | float, str] = {}

    def name_for(match: re.Match[str]) -> str:
        number = float(match.group(0).replace(",", ""))
        value: int | float = int(number) if number.is_integer() else number
        by_value.setdefault(value, f"x{len(by_value) + 1}")
        return by_value[value]

    templated = {k: _NUMBER.sub(name_for, v) if isinstance(v, str) else v for k, v in inputs.items()}
    return templated, {name: value for value, name in by_value.items()}


def clean_expression(text: str) -> str:
    """The right-hand side of ``Answer = ...`` as Python: last such line (or the whole text), ^ -> **."""
    lines = [line for line in strip_fences(text).splitlines() if line.strip()]
    chosen = next((line for line in reversed(lines) if _ANSWER_EQ.match(line)), " ".join(lines))
    expression = _ANSWER_EQ.sub("", chosen).strip().rstrip(".")
    return expression.replace("^", "**").replace("×", "*").replace("÷", "/")


def _show(value: float | str) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class MathPrompter(TechniqueModule):
    """Numbers -> variables; an expression and a Python function must agree on random values in the sandbox;
    the agreed function gives the answer on the real values. See the module docstring."""

    technique_id = "mathprompter"

    def __init__(
        self,
        signature: SignatureLike = "question -> answer",
        *,
        attempts: int = 3,
        trials: int = 5,
        tolerance: float = 1e-6,
        temperature: float = 0.7,
        seed: int = 0,
        **options: Any,
    ) -> None:
        super().__init__(signature)
        tid = self.technique_id
        self.program = Program.parse(tid, self.signature, options)
        self.attempts = positive("attempts", attempts, tid)
        self.trials = positive("trials", trials, tid)
        if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or not 0 <= tolerance < 1:
            raise InputError(
                f"technique {tid!r}: option tolerance={tolerance!r} must be a number in [0, 1)",
                hint="pass tolerance=1e-6 or similar",
            )
        self.tolerance = float(tolerance)
        self.temperature = check_temperature(temperature, tid)
        self.seed = positive("seed", seed, tid, minimum=0)
        variables = ("variables", "the variables that stand for the numbers of the input", str)
        self.expression = self.predictor(
            Step(
                "mathprompter_expression.j2",
                drop_outputs=True,
                inputs=(variables,),
                after=(("expression", "one algebraic expression: Answer = ...", str),),
            )
        )
        self.function = self.predictor(
            Step("mathprompter_function.j2", drop_outputs=True, inputs=(variables,), after=(CODE,)),
            **self.program.template_values(),
        )
        self.answer = self.predictor(ANSWER_FROM_RESULT)

    def _assignments(self, names: list[str]) -> list[list[int]]:
        if not names:  # nothing to vary: one run is all the evidence there is
            return [[]]
        rng = random.Random(self.seed)
        return [[rng.randint(1, 100) for _ in names] for _ in range(self.trials)]

    def _agree(self, a: float | str, b: float | str) -> bool:
        return (
            isinstance(a, float)
            and isinstance(b, float)
            and math.isclose(a, b, rel_tol=self.tolerance, abs_tol=self.tolerance)
        )

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        sandbox = self.program.open()  # refuse before spending an LM call
        templated, mapping = algebraic_template(inputs)
        names = list(mapping)
        template = render_instructions(
            "mathprompter_template.j2",
            inputs=[{"name": k, "value": v} for k, v in templated.items()],
            variables=[{"name": k, "value": v} for k, v in mapping.items()],
        )
        described = ", ".join(names) if names else "(none: the input has no numbers)"
        assignments = self._assignments(names)
        real = [mapping[name] for name in names]
        history: list[dict[str, Any]] = []
        trials: list[dict[str, Any]] = []
        for attempt in range(self.attempts):
            # The first attempt uses the LM's own settings; retries must differ, hence T > 0 and a rollout id.
            config = {} if attempt == 0 else {"config": {"temperature": self.temperature, "rollout_id": attempt}}
            expression = clean_expression(str(self.expression(**templated, variables=described, **config).expression))
            code = strip_fences(str(self.function(**templated, variables=described, **config).code))
            harness = _HARNESS.format(expr=expression, code=code, names=names, assignments=[*assignments, real])
            run = sandbox.run(harness, result_var="ans")
            rows: list[list[float | str]] = json.loads(run.result) if run.ok and run.result else []
            record: dict[str, Any] = {"expression": expression, "code": code, "error": None if rows else run.describe()}
            trials = [
                {
                    "values": dict(zip(names, values, strict=True)),
                    "expression": e,
                    "function": f,
                    "agree": self._agree(e, f),
                }
                for values, (e, f) in zip(assignments, rows, strict=False)
            ]
            real_run = rows[-1] if len(rows) > len(assignments) else None
            # Accepted: every trial agrees and the function also gives a number on the real values.
            agreed = bool(trials) and all(t["agree"] for t in trials) and isinstance((real_run or [0, ""])[1], float)
            record.update(agreed=agreed, real=real_run)
            history.append(record)
            if record["agreed"]:
                return self._prediction(inputs, template, mapping, record, trials, history, verified=True)
        return self._fallback(inputs, template, mapping, trials, history)

    def _fallback(
        self,
        inputs: dict[str, Any],
        template: str,
        mapping: dict[str, int | float],
        trials: list[dict[str, Any]],
        history: list[dict[str, Any]],
    ) -> dspy.Prediction:
        """No attempt agreed: the most common real-value number among all expressions and functions."""
        found = [(value, record) for record in history for value in (record["real"] or []) if isinstance(value, float)]
        if not found:
            raise ProgramError(
                f"{self.technique_id}: none of {len(history)} attempt(s) produced a number on the real values; "
                f"last: {history[-1]['error'] or history[-1]['real']}",
                attempts=history,
                hint="raise attempts, or use a stronger model",
            )
        counts = Counter(_show(value) for value, _ in found)
        winner = max(counts, key=lambda shown: counts[shown])  # first maximal key: ties go to the first seen
        record = next(r for value, r in found if _show(value) == winner)
        return self._prediction(
            inputs, template, mapping, {**record, "answer": winner}, trials, history, verified=False
        )

    def _prediction(
        self,
        inputs: dict[str, Any],
        template: str,
        mapping: dict[str, int | float],
        record: dict[str, Any],
        trials: list[dict[str, Any]],
        history: list[dict[str, Any]],
        *,
        verified: bool,
    ) -> dspy.Prediction:
        result = record.get("answer") or _show(record["real"][1])
        extra = {
            "template": template,
            "variables": mapping,
            "expression": record["expression"],
            "code": record["code"],
            "trials": trials,
            "verified": verified,
            "result": result,
            "attempts": history,
        }
        outputs = self.signature.output_fields
        if len(outputs) == 1:  # the same mapping as program.py: parse to the field's type, else one more call
            name, info = next(iter(outputs.items()))
            try:
                return dspy.Prediction(**{name: parse_value(result, info.annotation)}, **extra)
            except (ValueError, TypeError):
                pass
        mapped = self.answer(**inputs, code=record["code"], result=result)
        return dspy.Prediction(**mapped.toDict(), **extra)
