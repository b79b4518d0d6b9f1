"""binder, dater, chain_of_table: table parsing (CSV / Markdown / dicts, errors naming the line), the SQLite
operations, and each technique's control flow on a FakeLM."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from promptkit import techniques
from promptkit.cli import app
from promptkit.errors import DataError, InputError
from promptkit.techniques.table_sql import add_column, group_by, run_sql, select_columns, select_rows, sort_by
from promptkit.techniques.tables import SQLError, load_table

CSV = "Nation,Gold,Continent\nNorway,16,Europe\nChina,9,Asia\nSweden,8,Europe\n"
MARKDOWN = (
    "| Nation | Gold | Continent |\n|---|---|---|\n| Norway | 16 | Europe |\n| China | 9 | Asia |\n"
    "| Sweden | 8 | Europe |\n"
)
RECORDS = [
    {"Nation": "Norway", "Gold": 16, "Continent": "Europe"},
    {"Nation": "China", "Gold": 9, "Continent": "Asia"},
    {"Nation": "Sweden", "Gold": 8, "Continent": "Europe"},
]


@pytest.mark.parametrize("given", [CSV, MARKDOWN, RECORDS, CSV.replace(",", "\t")], ids=["csv", "md", "dicts", "tsv"])
def test_every_table_format_gives_the_same_typed_table(given: Any) -> None:
    table = load_table(given)
    assert table.columns == ("Nation", "Gold", "Continent")
    assert table.rows[0] == ("Norway", 16, "Europe") and len(table.rows) == 3


def test_a_table_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "medals.csv"
    path.write_text(CSV, encoding="utf-8")
    assert load_table(path).rows == load_table(str(path)).rows == load_table(CSV).rows


@pytest.mark.parametrize(
    ("given", "line", "words"),
    [
        ("a,b\n1,2\n3,4,5\n", 3, "3 fields, the header has 2"),
        ("| a | b |\n|---|---|\n| 1 | 2 |\n| 3 |\n", 4, "1 cells"),
        ("| a | b |\n|---|---|\nplain text\n", 3, "not a table row"),
        ("a,A\n1,2\n", 1, "appears twice"),
        ("a,,c\n1,2,3\n", 1, "empty column name"),
    ],
)
def test_a_malformed_table_names_the_line(given: str, line: int, words: str) -> None:
    with pytest.raises(DataError) as caught:
        load_table(given, source="medals.csv")
    assert caught.value.line == line and words in str(caught.value) and "medals.csv" in str(caught.value)


def test_other_bad_tables_are_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no rows"):
        load_table("a,b\n")
    with pytest.raises(InputError, match="row #2 is a str"):
        load_table([{"a": 1}, "b"])
    with pytest.raises(InputError, match="not a table"):
        load_table(42)
    with pytest.raises(DataError, match="not found"):
        load_table(tmp_path / "missing.csv")


def test_the_operations_run_in_sqlite() -> None:
    table = load_table(CSV)
    assert run_sql(table, "SELECT SUM(\"Gold\") FROM t WHERE Continent = 'Europe'").rows == ((24,),)
    assert select_rows(table, [3, 1]).rows == (table.rows[0], table.rows[2])
    assert select_columns(table, ["gold", "NATION"]).columns == ("Gold", "Nation")
    assert group_by(table, "Continent").rows == (("Europe", 2), ("Asia", 1))
    assert [r[0] for r in sort_by(table, "Gold").rows] == ["Sweden", "China", "Norway"]
    added = add_column(table, "Rank", ["1", "2"])
    assert added.columns[-1] == "Rank" and [r[-1] for r in added.rows] == [1, 2, None]


def test_model_sql_is_read_only_and_errors_are_reported() -> None:
    table = load_table(CSV)
    for bad in ("DELETE FROM t", "SELECT 1; DROP TABLE t", "SELECT nope FROM t"):
        with pytest.raises(SQLError):
            run_sql(table, bad)
    with pytest.raises(SQLError, match="no column named 'Silver'"):
        select_columns(table, ["Silver"])


def test_table_technique_options_are_checked() -> None:
    with pytest.raises(InputError, match="timeout"):
        techniques.build("binder", table=CSV, timeout=0)
    with pytest.raises(InputError, match="max_ops"):
        techniques.build("chain_of_table", table=CSV, max_ops=0)
    with pytest.raises(DataError, match="line 2"):
        techniques.build("dater", table="a,b\n1\n")


def test_a_table_technique_needs_a_table() -> None:
    with pytest.raises(InputError, match="needs option table"):
        techniques.build("binder")
    with pytest.raises(InputError, match="needs a table"):
        techniques.get("dater").load()("question -> answer")


def _binder_reply(call: Any) -> dict[str, Any]:
    if call.output_fields == ["sql"] and "previous_sql" in call.inputs:
        return {"sql": "SELECT Nation FROM t WHERE QA('is it in Scandinavia?', Nation) = 'yes' ORDER BY Gold DESC"}
    if call.output_fields == ["sql"]:
        return {"sql": "SELECT Nation FROM missing_table"}
    if call.output_fields == ["answer"] and "value" in call.inputs:
        return {"answer": "Yes." if call.inputs["value"] in ("Norway", "Sweden") else "no"}
    raise AssertionError(call.output_fields)


def test_binder_fixes_its_sql_and_calls_the_model_from_sqlite(fake: Any) -> None:
    lm = fake(fn=_binder_reply)
    prediction = techniques.build("binder", table=CSV)(question="Which Scandinavian nations won medals?")
    steps = [(tuple(c.output_fields), "previous_sql" in c.inputs) for c in lm.calls]
    assert steps[:2] == [(("sql",), False), (("sql",), True)]  # write, then fix after SQLite's error
    assert [c.inputs["value"] for c in lm.calls[2:]] == ["Norway", "China", "Sweden"]  # one QA call per row
    assert prediction.answer == "Norway, Sweden" and prediction.qa_calls == 3
    assert "no such table" in prediction.programs[0]["sql"] or prediction.fallback is False
    assert "| Nation | Gold | Continent |" in lm.calls[0].inputs["table"]


def test_binder_votes_over_sampled_programs_and_falls_back_when_none_runs(fake: Any) -> None:
    programs = iter(
        ["SELECT Nation FROM t ORDER BY Gold DESC LIMIT 1", "SELECT 'China'", "SELECT Nation FROM t WHERE Gold = 16"]
    )
    fake(fn=lambda call: {"sql": next(programs)})
    voted = techniques.build("binder", table=RECORDS, n=3)(question="Who won the most gold?")
    assert voted.answer == "Norway" and voted.votes == {"norway": 2, "china": 1}
    lm = fake(
        fn=lambda call: (
            {"sql": "SELECT x FROM nowhere"} if call.output_fields == ["sql"] else {"answer": "Norway (from the table)"}
        )
    )
    fallback = techniques.build("binder", table=RECORDS, max_retries=0)(question="Who won the most gold?")
    assert fallback.fallback is True and fallback.answer == "Norway (from the table)"
    assert "the query failed" in lm.calls[-1].inputs["result"]


def test_binder_bounds_the_qa_calls(fake: Any) -> None:
    fake(
        fn=lambda call: (
            {"sql": "SELECT QA('continent?', Nation) FROM t"} if call.output_fields == ["sql"] else {"answer": "x"}
        )
    )
    prediction = techniques.build("binder", table=CSV, max_qa_calls=2, max_retries=0)(question="q")
    assert prediction.qa_calls == 2 and "more than 2 times" in prediction.programs[0]["error"]


def test_dater_decomposes_evidence_then_questions_then_reasons(fake: Any) -> None:
    replies = [
        {"columns": ["Nation", "Gold", "Continent"], "rows": ["row 1", "3"]},
        {
            "sub_questions": ["The European gold total is {}."],
            "sql": ["SELECT SUM(Gold) FROM t WHERE Continent = 'Europe'"],
        },
        {"reasoning": "Europe has 24.", "answer": "24"},
    ]
    lm = fake(replies)
    dater = techniques.get("dater").load()("table, question -> answer")
    prediction = dater(table=CSV, question="How many golds did Europe win?")
    steps = [c.output_fields for c in lm.calls]
    assert steps == [["columns", "rows"], ["sub_questions", "sql"], ["reasoning", "answer"]]
    assert "| row |" in lm.calls[0].inputs["table"]  # numbered, so rows can be named
    assert "China" not in lm.calls[1].inputs["table"]  # the sub-table only
    assert lm.calls[2].inputs["evidence"] == "- The European gold total is 24."
    assert prediction.answer == "24" and prediction.rows == [1, 3] and prediction.evidence_error is None


def test_dater_keeps_the_whole_table_when_the_evidence_is_unknown(fake: Any) -> None:
    fake(
        [
            {"columns": ["Silver"], "rows": []},
            {"sub_questions": ["x is {}"], "sql": ["SELECT nope"]},
            {"reasoning": "r", "answer": "a"},
        ]
    )
    prediction = techniques.build("dater", table=CSV)(question="q")
    assert "Silver" in prediction.evidence_error and "China" in prediction.sub_table
    assert prediction.sub_questions[0]["error"] and "not computed" in prediction.sub_questions[0]["filled"]


def test_chain_of_table_plans_runs_operations_and_answers(fake: Any) -> None:
    replies = [
        {"next_operation": "f_select_row"},
        {"rows": ["1", "3"]},
        {"next_operation": "f_sort_by"},
        {"column": "gold", "order": "descending"},
        {"next_operation": "f_select_row"},  # already used: not in the pool any more, so the chain ends
        {"reasoning": "Norway leads.", "answer": "Norway"},
    ]
    lm = fake(replies)
    prediction = techniques.build("chain_of_table", table=MARKDOWN)(question="Which European nation leads?")
    assert [c.output_fields[0] for c in lm.calls] == [
        "next_operation",
        "rows",
        "next_operation",
        "column",
        "next_operation",
        "reasoning",
    ]
    assert prediction.operation_chain == "f_select_row(rows=['1', '3']) -> f_sort_by(column=gold, order=descending)"
    assert "China" not in lm.calls[-1].inputs["table"] and prediction.answer == "Norway"
    assert lm.calls[2].inputs["operation_chain"].startswith("f_select_row")


def test_chain_of_table_records_a_failed_operation_and_stops_at_max_ops(fake: Any) -> None:
    fake(
        [
            {"next_operation": "f_group_by"},
            {"column": "Silver"},
            {"next_operation": "[E]"},
            {"reasoning": "r", "answer": "a"},
        ]
    )
    prediction = techniques.build("chain_of_table", table=CSV)(question="q")
    assert prediction.operations[0]["error"].startswith("no column named")
    lm = fake(
        fn=lambda call: (
            {"next_operation": "f_add_column"}
            if call.output_fields == ["next_operation"]
            else {"column": f"c{len(call.inputs['operation_chain'])}", "values": ["1"]}
            if call.output_fields == ["column", "values"]
            else {"reasoning": "r", "answer": "a"}
        )
    )
    techniques.build("chain_of_table", table=CSV, max_ops=2)(question="q")
    assert len(lm.calls) == 2 * 2 + 1


def test_ask_takes_a_table_file(tmp_path: Path) -> None:
    path = tmp_path / "medals.csv"
    path.write_text(CSV, encoding="utf-8")
    result = CliRunner().invoke(
        app, ["ask", "Who leads?", "--model", "fake", "--technique", "dater", "--table", str(path)]
    )
    assert result.exit_code == 0 and "[fake]" in result.output, result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2,3\n", encoding="utf-8")
    broken = CliRunner().invoke(app, ["ask", "q", "--model", "fake", "--technique", "dater", "--table", str(bad)])
    assert broken.exit_code == 2 and "line 2" in broken.output and "Traceback" not in broken.output
    no_technique = CliRunner().invoke(app, ["ask", "q", "--model", "fake", "--table", str(path)])
    assert no_technique.exit_code == 2 and "--table needs --technique" in no_technique.output


def test_time_spent_in_a_query_function_does_not_count_against_the_sql_timeout() -> None:
    import time

    def slow(value: Any) -> Any:  # a model call inside QA(...) takes seconds
        time.sleep(0.3)
        return value

    result = run_sql(load_table(CSV), "SELECT SLOW(Nation) FROM t", functions={"SLOW": slow}, timeout=0.2)
    assert [r[0] for r in result.rows] == ["Norway", "China", "Sweden"]
    with pytest.raises(SQLError, match="ran too long"):
        run_sql(
            load_table(CSV),
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT MAX(x) FROM c",
            timeout=0.2,
        )
