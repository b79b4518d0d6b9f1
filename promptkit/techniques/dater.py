"""Dater (Ye et al., 2023, arXiv 2301.13808): decompose the evidence and the question for table reasoning.

1. Evidence decomposition: one call names the relevant ``columns`` and ``rows`` (row numbers of the
   numbered table); SQLite selects that sub-table. Unknown columns are ignored; when nothing valid is
   named, the whole table is kept (``evidence_error`` says why).
2. Question decomposition, *parsing-execution-filling*: one call writes up to ``max_queries`` cloze
   sub-questions with a ``{}`` blank, each paired with the SQL that computes it; every query runs
   over the sub-table in SQLite and its result fills the blank (a failed query fills in its error).
3. One reasoning call over the sub-table and the filled sub-questions writes the outputs.

Calls: 3. Prediction: the outputs, ``reasoning``, ``columns``, ``rows``, ``sub_table`` (Markdown),
``sub_questions`` (each question, sql, result or error, filled), ``evidence_error``.
"""

from __future__ import annotations

import re
from typing import Any

import dspy

from promptkit.parsing import strip_fences
from promptkit.techniques.base import REASONING, SignatureLike, Step, positive
from promptkit.techniques.table_sql import result_text, run_sql, select_columns, select_rows
from promptkit.techniques.tables import SQLError, Table, TableTechnique


def row_numbers(items: Any) -> list[int]:
    """The integers in the model's ``rows`` items ("3", "row 3", "3, 4")."""
    return [int(n) for item in items or [] for n in re.findall(r"\d+", str(item))]


class Dater(TableTechnique):
    """Sub-table, then cloze sub-questions whose blanks SQL fills, then reasoning. See the module docstring."""

    technique_id = "dater"

    def __init__(
        self,
        signature: SignatureLike = "table, question -> answer",
        *,
        table: Any = None,
        max_queries: int = 3,
        max_rows: int = 30,
        timeout: float = 5.0,
    ) -> None:
        super().__init__(signature, table, max_rows, timeout)
        tid = self.technique_id
        self.max_queries = positive("max_queries", max_queries, tid)
        shown = self._table_field()
        self.evidence = self.predictor(
            Step(
                "dater_evidence.j2",
                drop_outputs=True,
                inputs=shown,
                after=(
                    ("columns", "the names of the columns needed to answer", list[str]),
                    ("rows", "the numbers of the relevant rows; empty when every row may matter", list[str]),
                ),
            ),
        )
        self.decompose = self.predictor(
            Step(
                "dater_questions.j2",
                drop_outputs=True,
                inputs=shown,
                after=(
                    ("sub_questions", "cloze statements, each with a {} blank", list[str]),
                    ("sql", "for each sub-question, the SQLite SELECT that computes its blank", list[str]),
                ),
            ),
            max_queries=self.max_queries,
        )
        self.reason = self.predictor(
            Step(
                "dater_answer.j2",
                before=(REASONING,),
                inputs=(*shown, ("evidence", "sub-questions with their blanks computed by SQL", str)),
            ),
        )

    def _sub_table(self, table: Table, columns: list[str], rows: list[int]) -> tuple[Table, str | None]:
        """The evidence the model named, and why the full table was kept instead (None when it was not)."""
        sub, problems = table, []
        if rows:
            try:
                sub = select_rows(sub, rows)
            except SQLError as exc:
                problems.append(str(exc))
        known = [c for c in columns if _has_column(sub, c)]
        if known:
            sub = select_columns(sub, known)
        elif columns:
            problems.append(f"none of the columns {columns!r} exists")
        return sub, "; ".join(problems) or None

    def _fill(self, sub: Table, question: str, sql: str) -> dict[str, Any]:
        try:
            result: str | None = result_text(run_sql(sub, sql, timeout=self.timeout))
            error = None
        except SQLError as exc:
            result, error = None, str(exc)
        value = result if result is not None else f"(not computed: {error})"
        filled = question.replace("{}", value, 1) if "{}" in question else f"{question} {value}"
        return {"question": question, "sql": sql, "result": result, "error": error, "filled": filled}

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs, table = self._split(kwargs)
        picked = self.evidence(**inputs, table=self._show(table, numbered=True))
        columns = [str(c).strip() for c in picked.columns or [] if str(c).strip()]
        rows = row_numbers(picked.rows)
        sub, evidence_error = self._sub_table(table, columns, rows)
        shown = self._show(sub)
        parts = self.decompose(**inputs, table=shown)
        questions = [str(q) for q in parts.sub_questions or []][: self.max_queries]
        queries = [strip_fences(str(q)) for q in parts.sql or []]
        filled = [self._fill(sub, q, queries[i]) for i, q in enumerate(questions) if i < len(queries)]
        evidence = "\n".join(f"- {f['filled']}" for f in filled) or "(no sub-questions)"
        answer = self.reason(**inputs, table=shown, evidence=evidence)
        return dspy.Prediction(
            **answer.toDict(),
            columns=columns,
            rows=rows,
            sub_table=shown,
            sub_questions=filled,
            evidence_error=evidence_error,
        )


def _has_column(table: Table, name: str) -> bool:
    try:
        table.column(name)
    except SQLError:
        return False
    return True
