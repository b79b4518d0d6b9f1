"""promptkit.datasets: generic readers (JSONL, JSON, CSV/TSV, Parquet), bad rows, mapping, sampling, splits."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import dspy
import pytest

from promptkit.datasets import Dataset, load, parse_mapping, split
from promptkit.errors import DataError, InputError

FIXTURES = Path(__file__).parent / "fixtures" / "data"


def test_jsonl_rows_become_examples_with_declared_inputs() -> None:
    data = load(FIXTURES / "qa.jsonl")
    assert isinstance(data, Dataset) and len(data) == 10
    first = data[0]
    assert isinstance(first, dspy.Example)
    assert dict(first.inputs()) == {"question": "What is the capital of France?"}
    assert dict(first.labels()) == {"answer": "Paris", "topic": "geography"}
    assert data.format == "jsonl" and data.input_keys == ("question",) and data.errors == []
    assert data.lines == list(range(1, 11))


def test_explicit_inputs_are_declared_on_every_example() -> None:
    data = load(FIXTURES / "qa.jsonl", inputs=["question", "topic"])
    assert all(set(example.inputs().keys()) == {"question", "topic"} for example in data)
    assert load(FIXTURES / "qa.jsonl", inputs="topic").input_keys == ("topic",)  # one name, not its letters


def test_invalid_json_fails_with_file_and_line() -> None:
    with pytest.raises(DataError) as caught:
        load(FIXTURES / "qa_bad.jsonl")
    error = caught.value
    assert error.line == 3 and error.path is not None and error.path.endswith("qa_bad.jsonl")
    assert "qa_bad.jsonl:3:" in str(error) and "invalid JSON" in str(error)
    assert "on_error='skip'" in str(error)  # the message says how to go on


def test_skip_records_every_bad_row_with_its_line() -> None:
    data = load(FIXTURES / "qa_bad.jsonl", on_error="skip")
    assert [example.question for example in data] == [
        "What is the capital of France?",
        "Who wrote Hamlet?",
        "What is 2 + 2?",
    ]
    assert data.lines == [1, 2, 7]
    assert [(error.line, error.path.endswith("qa_bad.jsonl")) for error in data.errors] == [
        (3, True),
        (5, True),
        (6, True),
    ]
    messages = [error.message for error in data.errors]
    assert "invalid JSON" in messages[0]
    assert "JSON object" in messages[1] and "list" in messages[1]
    assert "'question' is null" in messages[2]
    assert str(data.errors[0]).endswith(f"qa_bad.jsonl:3: {messages[0]}")


def test_missing_input_field_is_a_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"question": "q1", "context": "c"}\n{"question": "q2"}\n', encoding="utf-8")
    with pytest.raises(DataError) as caught:
        load(path, inputs=["question", "context"])
    assert caught.value.line == 2 and "missing input field 'context'" in str(caught.value)
    assert len(load(path, inputs=["question", "context"], on_error="skip")) == 1


def test_default_input_missing_names_the_fields_and_the_fix() -> None:
    with pytest.raises(DataError) as caught:
        load(FIXTURES / "qa.csv")
    message = str(caught.value)
    assert "'question'" in message and "expected" in message and "--map" in message


def test_csv_with_mapping_quotes_and_multiline_cells() -> None:
    data = load(FIXTURES / "qa.csv", mapping={"question": "query", "answer": "expected"})
    assert data.format == "csv"
    assert [example.answer for example in data] == ["Paris", "William Shakespeare", "yes", "4"]
    assert data[1].question == 'Who wrote "Hamlet"?'
    assert data[2].question == "A question\nover two lines?"
    assert "query" not in data[0] and "expected" not in data[0] and data[0].topic == "geography"
    assert data.lines == [2, 3, 4, 6]  # the multi-line record starts on line 4


def test_cli_style_mapping_strings() -> None:
    data = load(FIXTURES / "qa.csv", mapping=["question=query", "answer = expected"])
    assert data[0].question == "What is the capital of France?" and data[0].answer == "Paris"
    assert parse_mapping(["a=b", "c=d"]) == {"a": "b", "c": "d"}
    with pytest.raises(InputError, match="NEW=SOURCE"):
        parse_mapping(["question"])
    with pytest.raises(InputError, match="wrap it in a list"):
        parse_mapping("question=query")


def test_mapping_one_source_to_two_fields() -> None:
    data = load(FIXTURES / "qa.jsonl", mapping={"question": "question", "response": "answer"})
    assert data[0].response == "Paris" and "answer" not in data[0] and data[0].question.startswith("What")


def test_mapping_with_a_missing_source_is_reported() -> None:
    with pytest.raises(DataError) as caught:
        load(FIXTURES / "qa.jsonl", mapping={"question": "prompt"})
    assert caught.value.line == 1 and "'prompt'" in str(caught.value)


def test_tsv_and_short_csv_rows() -> None:
    tsv = load(FIXTURES / "qa.tsv")
    assert [(e.question, e.answer) for e in tsv] == [("What is the capital of Italy?", "Rome"), ("What is 3 + 3?", "6")]
    with pytest.raises(DataError) as caught:
        load(FIXTURES / "qa_bad.csv")
    assert caught.value.line == 3 and "1 values but the header has 2" in str(caught.value)
    skipped = load(FIXTURES / "qa_bad.csv", on_error="skip")
    assert [e.answer for e in skipped] == ["Madrid", "10"] and skipped.errors[0].line == 3


def test_json_array_records_report_their_starting_line(tmp_path: Path) -> None:
    path = tmp_path / "rows.json"
    path.write_text(
        '[\n  {"question": "one", "answer": "1"},\n  {"question": "two",\n   "answer": "2"},\n  ["bad"]\n]\n',
        encoding="utf-8",
    )
    data = load(path, on_error="skip")
    assert [e.question for e in data] == ["one", "two"] and data.lines == [2, 3]
    assert data.errors[0].line == 5 and "JSON object" in data.errors[0].message
    broken = tmp_path / "broken.json"
    broken.write_text('[\n {"question": "one"},\n {"question": \n]', encoding="utf-8")
    with pytest.raises(DataError) as caught:
        load(broken)
    assert caught.value.line == 4 and "invalid JSON" in str(caught.value)


def test_json_file_holding_json_lines_is_read_as_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "rows.json"
    path.write_text('{"question": "a"}\n{"question": "b"}\n', encoding="utf-8")
    assert [e.question for e in load(path)] == ["a", "b"]


def test_gzip_files_are_read_transparently(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as stream:
        stream.write((FIXTURES / "qa.jsonl").read_text(encoding="utf-8"))
    assert [e.answer for e in load(path)] == [e.answer for e in load(FIXTURES / "qa.jsonl")]


def test_parquet_reads_rows_when_pyarrow_is_installed(tmp_path: Path) -> None:
    pyarrow = pytest.importorskip("pyarrow", reason="pyarrow is an optional dependency")
    import pyarrow.parquet as parquet

    path = tmp_path / "qa.parquet"
    parquet.write_table(pyarrow.table({"question": ["q1", "q2"], "answer": ["a1", "a2"]}), path)
    data = load(path)
    assert data.format == "parquet" and [(e.question, e.answer) for e in data] == [("q1", "a1"), ("q2", "a2")]


def test_parquet_without_pyarrow_names_the_pip_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "qa.parquet"
    path.write_bytes(b"PAR1 not really")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes `import pyarrow...` raise ImportError
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(DataError) as caught:
        load(path)
    assert "pip install pyarrow" in str(caught.value) and "qa.parquet" in str(caught.value)


def test_unknown_extension_and_missing_file_and_bad_options(tmp_path: Path) -> None:
    odd = tmp_path / "rows.txt"
    odd.write_text('{"question": "q"}\n', encoding="utf-8")
    with pytest.raises(DataError, match="format="):
        load(odd)
    assert load(odd, format="jsonl")[0].question == "q"
    with pytest.raises(DataError, match="file not found"):
        load(tmp_path / "missing.jsonl")
    with pytest.raises(InputError, match="unknown dataset format"):
        load(odd, format="xlsx")
    with pytest.raises(InputError, match="on_error"):
        load(FIXTURES / "qa.jsonl", on_error="ignore")
    with pytest.raises(InputError, match="limit"):
        load(FIXTURES / "qa.jsonl", limit=0)


def test_all_rows_bad_is_an_error_even_when_skipping(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("not json\n[1]\n", encoding="utf-8")
    with pytest.raises(DataError, match="no usable rows"):
        load(path, on_error="skip")


def test_limit_keeps_the_first_rows() -> None:
    data = load(FIXTURES / "qa.jsonl", limit=3)
    assert [e.answer for e in data] == ["Paris", "William Shakespeare", "4"]


def test_sampling_is_reproducible_and_keeps_file_order() -> None:
    first = load(FIXTURES / "qa.jsonl", sample=4, seed=7)
    again = load(FIXTURES / "qa.jsonl", sample=4, seed=7)
    other = [load(FIXTURES / "qa.jsonl", sample=4, seed=seed).lines for seed in range(8, 14)]
    assert first.lines == again.lines and len(first) == 4
    assert first.lines == sorted(line for line in first.lines if line is not None)
    assert any(lines != first.lines for lines in other)  # the seed matters
    assert len(load(FIXTURES / "qa.jsonl", sample=0.5)) == 5
    assert len(load(FIXTURES / "qa.jsonl", sample=100)) == 10  # asking for more keeps everything
    with pytest.raises(InputError):
        load(FIXTURES / "qa.jsonl", sample=1.5)


def test_split_by_fractions_and_sizes_is_reproducible() -> None:
    data = load(FIXTURES / "qa.jsonl")
    train, dev = split(data, (0.8, 0.2), seed=1)
    assert len(train) == 8 and len(dev) == 2
    assert {e.question for e in train} | {e.question for e in dev} == {e.question for e in data}
    assert not {e.question for e in train} & {e.question for e in dev}
    again_train, _ = split(data, (0.8, 0.2), seed=1)
    assert [e.question for e in again_train] == [e.question for e in train]
    shuffles = {tuple(e.question for e in split(data, (0.5, 0.5), seed=s)[0]) for s in range(5)}
    assert len(shuffles) > 1
    a, b, c = split(data, (3, 3, 2), seed=0)
    assert (len(a), len(b), len(c)) == (3, 3, 2)
    head, tail = split(data, (0.3, 0.7), seed=None)
    assert [e.answer for e in head] == ["Paris", "William Shakespeare", "4"] and len(tail) == 7
    with pytest.raises(InputError, match="only 10"):
        split(data, (8, 8))
    with pytest.raises(InputError):
        split(data, (0.9, 0.9))


def test_repr_is_short() -> None:
    text = repr(load(FIXTURES / "qa.jsonl"))
    assert "10 examples" in text and "skipped=0" in text and len(text) < 200


def test_rows_are_json_serialisable_after_loading() -> None:
    data = load(FIXTURES / "qa.jsonl")
    assert json.loads(json.dumps(dict(data[0]))) == dict(data[0])
