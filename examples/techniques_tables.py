"""Table reasoning: Binder (SQL with QA(...) calls to the model), Dater (sub-table + cloze sub-questions whose
blanks SQL computes) and Chain-of-Table (atomic table operations planned one by one). Every table operation runs
in SQLite; the table is a CSV file here, but Markdown text or a list of dicts work the same way.

    python examples/techniques_tables.py                         # offline (FakeLM, scripted replies)
    python examples/techniques_tables.py --model local --technique dater
    promptkit ask "Which nation won the most gold medals?" --technique binder --table examples/data/olympics_medals.csv
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from techniques_common import run, setup

from promptkit.lm import FakeLM

IDS = ("binder", "dater", "chain_of_table")
TABLE = Path(__file__).with_name("data") / "olympics_medals.csv"
QUESTION = "Which European nation won the most gold medals?"


def _offline_table_reply(call: Any) -> dict[str, Any]:
    """What a capable model would write at each table step (the shared offline script does not know SQL)."""
    fields = call.output_fields
    if fields == ["sql"]:
        return {
            "sql": "SELECT Nation FROM t WHERE QA('is this continent Europe?', Continent) = 'yes' "
            "ORDER BY Gold DESC LIMIT 1"
        }
    if fields == ["answer"] and "value" in call.inputs:  # Binder's QA(...) call
        return {"answer": "yes" if call.inputs["value"] == "Europe" else "no"}
    if fields == ["columns", "rows"]:
        return {"columns": ["Nation", "Gold", "Continent"], "rows": []}
    if fields == ["sub_questions", "sql"]:
        return {
            "sub_questions": ["The European nation with the most gold medals is {}."],
            "sql": ["SELECT Nation FROM t WHERE Continent = 'Europe' ORDER BY Gold DESC LIMIT 1"],
        }
    if fields == ["next_operation"]:
        return {
            "next_operation": "[E]"
            if "f_sort_by" in call.inputs["operation_chain"]
            else "f_select_row"
            if "none yet" in call.inputs["operation_chain"]
            else "f_sort_by"
        }
    if fields == ["rows"]:
        return {"rows": ["1", "2", "5", "6", "7", "8"]}
    if fields == ["column", "order"]:
        return {"column": "Gold", "order": "descending"}
    return {"reasoning": "The first European row has the most gold medals: Norway.", "answer": "Norway"}


def main() -> None:
    lm, chosen, show = setup(__doc__ or "", IDS)
    model = FakeLM(fn=_offline_table_reply, model="fake/offline-script") if isinstance(lm, FakeLM) else lm
    extras = {
        "binder": ("sql", "result", "qa_calls"),
        "dater": ("sub_questions",),
        "chain_of_table": ("operation_chain",),
    }
    for technique in IDS:
        if technique in chosen:
            run(model, technique, {"question": QUESTION}, extras=extras[technique], show_prompt=show, table=TABLE)


if __name__ == "__main__":
    main()
