"""Binder (Cheng et al., 2022, arXiv 2210.02875): SQL extended with calls to the language model.

Parsing: one call writes a *Binder program* — a SQLite ``SELECT`` over the table ``t`` that may call
``QA('question', "column")`` where SQL cannot express a step (text understanding, world knowledge).
Execution: the query runs in SQLite (:mod:`.tables`); ``QA`` is a SQL function that asks the model
the question about each value it is called on (one call per distinct question and value, at most
``max_qa_calls``). A query that fails is shown to the model with the error, which rewrites it, up to
``max_retries`` times. With ``n > 1`` the paper's variant: ``n`` programs are sampled at
``temperature`` and the majority of their executed results wins.

The answer is the executed result (one value as is, a column as ``a, b``) parsed to the output's type;
with several outputs, a result that does not fit the type, or when no program ran, one more call
answers from the table and the result (``fallback`` is True when no program ran).
Calls: n (+ fixes) + QA calls (+ 1). Prediction: the outputs, ``sql``, ``result``, ``programs``
(each sql, result, error), ``votes``, ``qa_calls``, ``fallback``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dspy
from dspy.adapters.utils import parse_value

from promptkit.parsing import strip_fences
from promptkit.techniques.base import SignatureLike, Step, positive, render_instructions, step_signature
from promptkit.techniques.options import check_temperature
from promptkit.techniques.table_sql import result_text, run_sql
from promptkit.techniques.tables import SQLError, Table, TableTechnique, typed_cell
from promptkit.techniques.voting import sample, text_key

SQL = ("sql", "one SQLite SELECT statement over the table t", str)


class Binder(TableTechnique):
    """The model writes SQL with ``QA(...)`` calls; SQLite runs it, calling the model for each ``QA``."""

    technique_id = "binder"

    def __init__(
        self,
        signature: SignatureLike = "table, question -> answer",
        *,
        table: Any = None,
        n: int = 1,
        temperature: float = 0.7,
        max_retries: int = 1,
        max_qa_calls: int = 20,
        max_rows: int = 30,
        timeout: float = 5.0,
    ) -> None:
        super().__init__(signature, table, max_rows, timeout)
        tid = self.technique_id
        self.n = positive("n", n, tid)
        self.temperature = check_temperature(temperature, tid)
        self.max_retries = positive("max_retries", max_retries, tid, minimum=0)
        self.max_qa_calls = positive("max_qa_calls", max_qa_calls, tid, minimum=0)
        shown = self._table_field()
        self.write = self.predictor(
            Step(
                "binder_sql.j2",
                drop_outputs=True,
                inputs=shown,
                after=(SQL,),
            ),
        )
        self.fix = self.predictor(
            Step(
                "binder_fix.j2",
                drop_outputs=True,
                after=(SQL,),
                inputs=(*shown, ("previous_sql", "the query that failed", str), ("error", "what SQLite said", str)),
            ),
        )
        self.qa = dspy.Predict(
            step_signature(
                inputs=(
                    ("question", "a question about one value", str),
                    ("value", "the value, from a table cell", str),
                ),
                outputs=(("answer", "a short answer", str),),
                instructions=render_instructions("binder_qa.j2"),
            )
        )
        self.answer = self.predictor(
            Step(
                "binder_answer.j2",
                inputs=(*shown, SQL, ("result", "what the query returned", str)),
            ),
        )

    def _qa_function(self, counter: dict[str, Any]) -> Any:
        """The SQL function ``QA(question, value...)``: one model call per distinct (question, value)."""
        cache: dict[tuple[str, ...], Any] = {}

        def qa(question: Any, *values: Any) -> Any:
            key = (str(question), *(str(v) for v in values))
            if key not in cache:
                if counter["calls"] >= self.max_qa_calls:
                    counter["limit"] = True
                    raise SQLError("limit")  # SQLite reports it as "user-defined function raised exception"
                counter["calls"] += 1
                answer = self.qa(question=str(question), value=", ".join(key[1:])).answer
                cache[key] = typed_cell(str(answer).strip().rstrip(".").lower())
            return cache[key]

        return qa

    def _execute(self, table: Table, sql: str, counter: dict[str, Any]) -> tuple[str | None, str | None]:
        """(result text, error) of one program."""
        counter["limit"] = False
        try:
            result = run_sql(table, sql, functions={"QA": self._qa_function(counter)}, timeout=self.timeout)
        except SQLError as exc:
            error = str(exc)
            if counter["limit"]:
                error = f"the query called QA more than {self.max_qa_calls} times; call it on fewer rows"
            return None, error
        if not result.rows:
            return None, "the query returned no rows"
        return result_text(result), None

    def _program(
        self, inputs: dict[str, Any], shown: dict[str, str], table: Table, sql: str, counter: dict[str, Any]
    ) -> dict[str, Any]:
        """Run one program, letting the model fix it up to ``max_retries`` times."""
        for attempt in range(self.max_retries + 1):
            result, error = self._execute(table, sql, counter)
            if error is None or attempt == self.max_retries:
                return {"sql": sql, "result": result, "error": error}
            sql = strip_fences(str(self.fix(**inputs, **shown, previous_sql=sql, error=error).sql))
        raise AssertionError("unreachable")

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs, table = self._split(kwargs)
        shown = {"table": self._show(table)}
        if self.n == 1:
            drafts = [self.write(**inputs, **shown)]
        else:
            drafts, _ = sample(self.write, {**inputs, **shown}, self.n, self.temperature)
        counter: dict[str, Any] = {"calls": 0}
        programs = [self._program(inputs, shown, table, strip_fences(str(d.sql)), counter) for d in drafts]
        votes: dict[str, int] = {}
        for program in programs:
            key = text_key(program["result"])
            if key is not None:
                votes[key] = votes.get(key, 0) + 1
        top = max(votes, key=lambda k: votes[k]) if votes else None  # ties: the result seen first
        winner = next((p for p in programs if top is not None and text_key(p["result"]) == top), programs[-1])
        extra = {
            "sql": winner["sql"],
            "result": winner["result"],
            "programs": programs,
            "votes": votes,
            "qa_calls": counter["calls"],
            "fallback": winner["result"] is None,
        }
        return dspy.Prediction(**self._outputs(inputs, shown, winner), **extra)

    def _outputs(self, inputs: dict[str, Any], shown: Mapping[str, str], winner: dict[str, Any]) -> dict[str, Any]:
        outputs = self.signature.output_fields
        if winner["result"] is not None and len(outputs) == 1:
            name, info = next(iter(outputs.items()))
            try:
                return {name: parse_value(winner["result"], info.annotation)}
            except (ValueError, TypeError):  # e.g. a list of names for an int field: let the model map it
                pass
        result = winner["result"] if winner["result"] is not None else f"(the query failed: {winner['error']})"
        mapped = self.answer(**inputs, **shown, sql=winner["sql"], result=result)
        return {name: mapped.get(name) for name in outputs}
