"""Chain of Code (Li et al., 2023, arXiv 2312.04474): code the interpreter runs, and an "LMulator" for the rest.

One call writes a program — Python, where semantic steps call helpers that are never defined
(``is_sarcastic(s)``) — storing the result in ``ans``. The program is split into its top-level
statements (by :mod:`ast`; pseudocode that does not parse is split at unindented lines) and run in
the OS sandbox (:mod:`.sandbox`) one statement after another. When a statement fails (an undefined
helper, a syntax error, any exception), the run stops and reports the program state (its JSON-able
variables); the model, acting as the interpreter, writes the state that statement produces (a JSON
object of changed variables — for a plain assignment a bare value is read as the target's value),
and the program is run again from the top with that statement replaced by the predicted state, so
functions and imports defined earlier are there again. At most ``max_simulations`` statements are
simulated; past that, or when the sandbox itself fails (time or memory limit), the answer comes
from the state reached so far.

The answer is ``ans`` parsed to the single output's type; otherwise (several outputs, no ``ans``,
a value that does not fit) one more call maps the program and its final state to the outputs.
Refuses (before any LM call) when no sandbox works. Calls: 1 + simulated statements (+ 1).
Prediction: the outputs, ``code``, ``state``, ``simulated`` (each statement, error, new state),
``result``, ``complete`` (False when the run stopped early).
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import dspy
from dspy.adapters.utils import parse_value

from promptkit.parsing import strip_fences
from promptkit.parsing.json_text import JSONNotFound, extract_json
from promptkit.techniques.base import SignatureLike, Step, TechniqueModule, positive
from promptkit.techniques.program import CODE
from promptkit.techniques.sandbox import PythonSandbox, SandboxLimits, require_sandbox

_REPORT = "__coc_report__"
# Runs inside the sandbox: every statement in order, predicted states in place of simulated ones.
_DRIVER = """
import json
_chunks = json.loads(CHUNKS)
_simulated = {int(k): v for k, v in json.loads(SIMULATED).items()}
_env = {"__name__": "__main__"}
_failed = None
for _index, _chunk in enumerate(_chunks):
    if _index in _simulated:
        _env.update(_simulated[_index])
        continue
    try:
        exec(compile(_chunk, "<statement %d>" % (_index + 1), "exec"), _env)
    except Exception as _exc:
        _failed = {"index": _index, "error": "%s: %s" % (type(_exc).__name__, _exc)}
        break


def _jsonable(value):
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


_state = {k: v for k, v in _env.items() if not k.startswith("__") and _jsonable(v)}
__coc_report__ = json.dumps({"failed": _failed, "state": _state})
"""
_CONTINUES = re.compile(r"^(?:else|elif|except|finally)\b")


def statements(code: str) -> list[str]:
    """The program's top-level statements as source text (decorators included); pseudocode that does
    not parse is split at unindented lines instead, an ``else:``/``except:`` staying with its block."""
    lines = code.splitlines()
    try:
        tree = ast.parse(code)
    except SyntaxError:
        chunks: list[list[str]] = []
        for line in lines:
            if not line.strip():
                continue
            if chunks and (line[:1].isspace() or _CONTINUES.match(line)):
                chunks[-1].append(line)
            else:
                chunks.append([line])
        return ["\n".join(c) for c in chunks]
    found = []
    for node in tree.body:
        start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        found.append("\n".join(lines[start - 1 : node.end_lineno]))
    return found


def _targets(statement: str) -> list[str]:
    """The variable names a simple assignment writes (``x = ...``, ``x += ...``, ``a, b = ...``)."""
    try:
        node = ast.parse(statement).body[0]
    except (SyntaxError, IndexError):
        match = re.match(r"^\s*([A-Za-z_]\w*)\s*=[^=]", statement)
        return [match.group(1)] if match else []
    targets = (
        node.targets
        if isinstance(node, ast.Assign)
        else ([node.target] if isinstance(node, ast.AugAssign | ast.AnnAssign) else [])
    )
    names: list[str] = []
    for target in targets:
        elements = target.elts if isinstance(target, ast.Tuple) else [target]
        names += [e.id for e in elements if isinstance(e, ast.Name)]
    return names


def _literal(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text.strip().strip("\"'")
    return value if _is_json(value) else str(value)


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def new_state(reply: Any, statement: str) -> dict[str, Any]:
    """The variables the LMulator says a statement sets: its JSON object, else the value of the one target."""
    text = strip_fences(str(reply or ""))
    targets = _targets(statement)
    try:
        value, _ = extract_json(text, accept=lambda v: isinstance(v, dict))
    except JSONNotFound:
        value = None
    if isinstance(value, dict) and (not targets or set(value) & set(targets) or len(targets) != 1):
        return {str(k): v for k, v in value.items() if str(k).isidentifier()}
    if len(targets) == 1 and text.strip():
        if isinstance(value, dict) and len(value) == 1:  # {"result": 3} for `x = f()`: the value is 3
            return {targets[0]: next(iter(value.values()))}
        return {targets[0]: _literal(text)}
    return {}


class ChainOfCode(TechniqueModule):
    """Write code with undefined semantic helpers; run it, simulating the statements Python cannot run."""

    technique_id = "chain_of_code"

    def __init__(
        self,
        signature: SignatureLike = "question -> answer",
        *,
        max_simulations: int = 5,
        timeout: float = 5.0,
        memory_mb: int = 256,
        sandbox: str | None = None,
    ) -> None:
        super().__init__(signature)
        tid = self.technique_id
        self.max_simulations = positive("max_simulations", max_simulations, tid, minimum=0)
        self.limits = SandboxLimits(timeout=timeout, memory_mb=memory_mb)
        self.sandbox_backend = sandbox
        limits = {"time_limit": timeout, "memory_mb": memory_mb}
        self.write = self.predictor(
            Step(
                "chain_of_code.j2",
                drop_outputs=True,
                after=(CODE,),
            ),
            **limits,
        )
        self.simulate = self.predictor(
            Step(
                "chain_of_code_simulate.j2",
                drop_outputs=True,
                inputs=(
                    ("program", "the whole program", str),
                    ("state", "the variables before the line, as JSON", str),
                    ("line", "the statement to emulate", str),
                    ("error", "why Python could not run it", str),
                ),
                after=(("new_state", "a JSON object: each variable the line sets, with its new value", str),),
            ),
        )
        self.answer = self.predictor(
            Step(
                "program_answer.j2",
                inputs=(CODE, ("result", "the program's final variables, as JSON", str)),
            ),
        )

    def _run(self, sandbox: PythonSandbox, chunks: list[str], simulated: dict[int, dict[str, Any]]) -> dict[str, Any]:
        driver = f"CHUNKS = {json.dumps(chunks)!r}\nSIMULATED = {json.dumps(simulated)!r}\n{_DRIVER}"
        run = sandbox.run(driver, result_var=_REPORT)
        if not run.ok or run.result is None:
            return {"failed": None, "state": {}, "crashed": run.describe()}
        report: dict[str, Any] = json.loads(run.result)
        return report

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        backend = require_sandbox(self.sandbox_backend)  # refuse before spending an LM call
        sandbox = PythonSandbox(self.limits, backend)
        code = strip_fences(str(self.write(**inputs).code))
        chunks = statements(code)
        simulated: dict[int, dict[str, Any]] = {}
        trace: list[dict[str, Any]] = []
        report = self._run(sandbox, chunks, simulated)
        while report["failed"] is not None and len(simulated) < self.max_simulations:
            index, error = report["failed"]["index"], report["failed"]["error"]
            reply = self.simulate(
                **inputs,
                program=code,
                state=json.dumps(report["state"], default=str)[:4000],
                line=chunks[index],
                error=error,
            ).new_state
            simulated[index] = new_state(reply, chunks[index])
            trace.append({"statement": chunks[index], "error": error, "new_state": simulated[index]})
            report = self._run(sandbox, chunks, simulated)
        state: dict[str, Any] = report["state"]
        complete = report["failed"] is None and "crashed" not in report
        result = state.get("ans")
        extra = {"code": code, "state": state, "simulated": trace, "result": result, "complete": complete}
        return dspy.Prediction(**self._outputs(inputs, code, state), **extra)

    def _outputs(self, inputs: dict[str, Any], code: str, state: dict[str, Any]) -> dict[str, Any]:
        outputs = self.signature.output_fields
        if "ans" in state and state["ans"] is not None and len(outputs) == 1:
            name, info = next(iter(outputs.items()))
            try:
                return {name: parse_value(str(state["ans"]), info.annotation)}
            except (ValueError, TypeError):
                pass
        mapped = self.answer(**inputs, code=code, result=json.dumps(state, default=str)[:4000] or "{}")
        return {name: mapped.get(name) for name in outputs}
