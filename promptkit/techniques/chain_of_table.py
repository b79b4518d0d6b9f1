"""Chain-of-Table (Wang et al., 2024, arXiv 2401.04398): the table evolves through a chain of operations.

Loop, at most ``max_ops`` times: a *DynamicPlan* call picks the next atomic operation from the pool
(``f_add_column``, ``f_select_row``, ``f_select_column``, ``f_group_by``, ``f_sort_by``) or ``[E]``
to end, seeing the current table, the question and the chain so far; a *GenerateArgs* call (one
predictor per operation) writes its arguments; SQLite runs it (:mod:`.tables`) and the result is the
next table. As in the paper, each operation is used at most once, except ``f_add_column``. An answer
naming no operation of the pool ends the chain; an operation whose arguments fail (an unknown column)
leaves the table as it was and is recorded with its error. A final query call answers from the last table.

Calls: ≤ 2·max_ops + 2 (≤ 8 with the default 3). Prediction: the outputs, ``reasoning``,
``operations`` (each name, arguments, error), ``operation_chain`` (text), ``final_table`` (Markdown).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import dspy

from promptkit.techniques.base import REASONING, SignatureLike, Step, positive
from promptkit.techniques.dater import row_numbers
from promptkit.techniques.table_sql import add_column, group_by, select_columns, select_rows, sort_by
from promptkit.techniques.tables import SQLError, Table, TableTechnique

Field = tuple[str, str, Any]
CHAIN: Field = ("operation_chain", "the operations applied so far, in order", str)

# name -> (what it does, its argument fields, how it runs)
OPERATIONS: dict[str, tuple[str, tuple[Field, ...], Callable[[Table, Any], Table]]] = {
    "f_add_column": (
        "add a column whose values you extract or compute from each row",
        (("column", "the new column's name", str), ("values", "its value for each row, in row order", list[str])),
        lambda t, a: add_column(t, str(a.get("column")), list(a.get("values") or [])),
    ),
    "f_select_row": (
        "keep only the rows that matter to the question",
        (("rows", "the numbers of the rows to keep", list[str]),),
        lambda t, a: select_rows(t, row_numbers(a.get("rows"))),
    ),
    "f_select_column": (
        "keep only the columns that matter to the question",
        (("columns", "the names of the columns to keep", list[str]),),
        lambda t, a: select_columns(t, [str(c) for c in a.get("columns") or []]),
    ),
    "f_group_by": (
        "group the rows by the values of one column and count each group",
        (("column", "the column to group by", str),),
        lambda t, a: group_by(t, str(a.get("column"))),
    ),
    "f_sort_by": (
        "sort the rows by one column",
        (("column", "the column to sort by", str), ("order", "ascending or descending", str)),
        lambda t, a: sort_by(t, str(a.get("column")), descending=str(a.get("order")).strip().lower()[:4] == "desc"),
    ),
}
_REPEATABLE = {"f_add_column"}


def parse_operation(text: Any, allowed: set[str]) -> str | None:
    """The pool operation the planner named (``f_`` optional), or None for [E] / anything else."""
    reply = str(text or "").lower()
    found = [
        (m.start(), name) for name in allowed for m in [re.search(rf"\b(?:f_)?{name[2:]}\b", reply)] if m is not None
    ]
    return min(found)[1] if found else None


class ChainOfTable(TableTechnique):
    """Plan an operation, generate its arguments, run it in SQLite; repeat; answer from the last table."""

    technique_id = "chain_of_table"

    def __init__(
        self,
        signature: SignatureLike = "table, question -> answer",
        *,
        table: Any = None,
        max_ops: int = 3,
        max_rows: int = 30,
    ) -> None:
        super().__init__(signature, table, max_rows)
        tid = self.technique_id
        self.max_ops = positive("max_ops", max_ops, tid)
        shown = self._table_field()
        pool = [{"name": name, "description": desc} for name, (desc, _, _) in OPERATIONS.items()]
        read = (*shown, CHAIN)
        self.plan = self.predictor(
            Step(
                "chain_of_table_plan.j2",
                inputs=read,
                after=(("next_operation", "the next operation's name, or [E]", str),),
                drop_outputs=True,
            ),
            operations=pool,
        )
        for name, (desc, fields, _) in OPERATIONS.items():
            arguments = Step("chain_of_table_args.j2", inputs=read, after=fields, drop_outputs=True)
            setattr(self, name, self.predictor(arguments, operation=name, description=desc))
        self.query = self.predictor(Step("chain_of_table_answer.j2", inputs=read, before=(REASONING,)))

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs, table = self._split(kwargs)
        operations: list[dict[str, Any]] = []
        allowed = set(OPERATIONS)
        for _ in range(self.max_ops):
            state = {"table": self._show(table, numbered=True), "operation_chain": _chain_text(operations)}
            name = parse_operation(self.plan(**inputs, **state).next_operation, allowed)
            if name is None:
                break
            args = getattr(self, name)(**inputs, **state)
            record: dict[str, Any] = {
                "name": name,
                "arguments": {f[0]: args.get(f[0]) for f in OPERATIONS[name][1]},
                "error": None,
            }
            try:
                table = OPERATIONS[name][2](table, args)
            except SQLError as exc:
                record["error"] = str(exc)
            operations.append(record)
            if name not in _REPEATABLE:
                allowed.discard(name)
        final = self._show(table, numbered=True)
        chain = _chain_text(operations)
        answer = self.query(**inputs, table=final, operation_chain=chain)
        return dspy.Prediction(**answer.toDict(), operations=operations, operation_chain=chain, final_table=final)


def _chain_text(operations: list[dict[str, Any]]) -> str:
    if not operations:
        return "(none yet: this is the original table)"
    parts = []
    for op in operations:
        args = ", ".join(f"{k}={v}" for k, v in op["arguments"].items())
        parts.append(f"{op['name']}({args})" + (f" [failed: {op['error']}]" if op["error"] else ""))
    return " -> ".join(parts)
