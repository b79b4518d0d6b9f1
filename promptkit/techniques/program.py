"""Program of Thoughts and PAL: the model writes Python, a sandbox runs it, the result is the answer.

Both refuse to run anything when this machine has no working sandbox (see
:mod:`promptkit.techniques.sandbox`): the check happens before the first LM call, and raises
:class:`~promptkit.techniques.sandbox.SandboxUnavailableError`.

Calls: one to write the program; when it fails in the sandbox (exception, time or memory limit, no
result) the error is shown to the model, which writes a corrected program, up to ``max_retries``
times — then :class:`ProgramError`. With one output field the program's result is that field
(parsed to its type); otherwise one more call maps code + result to the outputs.
"""

from __future__ import annotations

from typing import Any, ClassVar

import dspy
from dspy.adapters.utils import parse_value

from promptkit.parsing import strip_fences  # models often fence code despite being told not to
from promptkit.techniques.base import Field, SignatureLike, Step, TechniqueError, TechniqueModule, positive
from promptkit.techniques.options import Program
from promptkit.techniques.sandbox import ExecutionResult, PythonSandbox

CODE: Field = ("code", "a complete Python program", str)
ANSWER_FROM_RESULT = Step("program_answer.j2", inputs=(CODE, ("result", "the value the program computed", str)))
"""Map a program and its result to the user's outputs (when the result alone does not fill them)."""


class ProgramError(TechniqueError):
    """Every program the model wrote failed in the sandbox. ``attempts`` holds each code and its error."""

    def __init__(self, message: str, *, attempts: list[dict[str, Any]], hint: str | None = None) -> None:
        self.attempts = attempts
        super().__init__(message, hint=hint)


class ProgramTechnique(TechniqueModule):
    """Shared by PoT and PAL; they differ in the template and in how the program reports its result."""

    template: ClassVar[str] = ""
    entry: ClassVar[str | None] = None
    result_var: ClassVar[str | None] = None
    convention: ClassVar[str] = ""

    options = Program

    def __init__(
        self, signature: SignatureLike = "question -> answer", *, max_retries: int = 2, **options: Any
    ) -> None:
        super().__init__(signature)
        self.program = Program.parse(self.technique_id, self.signature, options)
        self.max_retries = positive("max_retries", max_retries, self.technique_id, minimum=0)
        limits = self.program.template_values()
        self.write = self.predictor(Step(self.template, drop_outputs=True, after=(CODE,)), **limits)
        failed = (("previous_code", "the program that failed", str), ("error", "what happened when it ran", str))
        self.fix = self.predictor(
            Step("program_fix.j2", drop_outputs=True, inputs=failed, after=(CODE,)),
            convention=self.convention,
            **limits,
        )
        self.answer = self.predictor(ANSWER_FROM_RESULT)

    def _run(self, sandbox: PythonSandbox, code: str) -> ExecutionResult:
        return sandbox.run(code, entry=self.entry, result_var=self.result_var)

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        sandbox = self.program.open()  # refuse before spending an LM call
        code = strip_fences(str(self.write(**inputs).code))
        attempts: list[dict[str, Any]] = []
        for attempt in range(self.max_retries + 1):
            run = self._run(sandbox, code)
            problem = None if run.ok and run.result is not None else self._problem(run)
            attempts.append({"code": code, "kind": run.kind, "result": run.result, "error": problem})
            if problem is None:
                return self._prediction(inputs, code, run, attempts)
            if attempt == self.max_retries:
                break
            code = strip_fences(str(self.fix(**inputs, previous_code=code, error=problem).code))
        raise ProgramError(
            f"{self.technique_id}: all {len(attempts)} program(s) failed in the sandbox; last: {attempts[-1]['error']}",
            attempts=attempts,
            hint="raise max_retries, or use a stronger code model",
        )

    def _problem(self, run: ExecutionResult) -> str:
        if run.ok:
            return f"The program ran but produced no result: {self.convention}."
        return run.describe()

    def _prediction(
        self, inputs: dict[str, Any], code: str, run: ExecutionResult, attempts: list[dict[str, Any]]
    ) -> dspy.Prediction:
        extra = {"code": code, "result": run.result, "stdout": run.stdout, "attempts": attempts}
        outputs = self.signature.output_fields
        if len(outputs) == 1:
            name, info = next(iter(outputs.items()))
            try:
                return dspy.Prediction(**{name: parse_value(run.result, info.annotation)}, **extra)
            except (ValueError, TypeError):  # e.g. a list result for an int field: let the LM map it
                pass
        mapped = self.answer(**inputs, code=code, result=str(run.result))
        return dspy.Prediction(**mapped.toDict(), **extra)


class ProgramOfThought(ProgramTechnique):
    """The program assigns its result to ``ans`` (Chen et al., 2022)."""

    technique_id = "program_of_thought"
    template = "program_of_thought.j2"
    result_var = "ans"
    convention = "assign the final result to a variable named `ans`"


class PAL(ProgramTechnique):
    """The program defines ``solution()`` returning the answer, reasoning kept as comments (Gao et al., 2022)."""

    technique_id = "pal"
    template = "pal.j2"
    entry = "solution"
    convention = "define a function `solution()` that returns the answer"
