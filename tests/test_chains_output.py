"""Parsing a step's reply: text, lists, JSON (extraction, repair, schema and pydantic validation)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from promptkit.chains import ChainSpecError
from promptkit.chains.output import OutputInvalid, build_output_spec, extract_json, parse_list


class Verdict(BaseModel):
    label: str
    score: float


def test_text_output_is_stripped_and_empty_text_is_invalid() -> None:
    spec = build_output_spec("text")
    assert spec.parse("  \n Hello there.\n\n") == ("Hello there.", False)
    with pytest.raises(OutputInvalid, match="empty"):
        spec.parse(" \n\t ")


@pytest.mark.parametrize(
    ("raw", "separator", "expected"),
    [
        ("Slow internet; double billing; rude agent", "auto", ["Slow internet", "double billing", "rude agent"]),
        ("- Slow\n- double billing\n\n* rude agent", "auto", ["Slow", "double billing", "rude agent"]),
        ("1. Slow internet;\n2) double billing;\n", "auto", ["Slow internet", "double billing"]),
        ("a, b ,c", "comma", ["a", "b", "c"]),
        ("a; b", "lines", ["a; b"]),
        ("first issue is\nlong; second", ";", ["first issue is long", "second"]),
        ("x | y | z", " | ", ["x", "y", "z"]),
        ("- no semicolons\n- just lines", ";", ["no semicolons", "just lines"]),
        ('```json\n["one", "two"]\n```', "auto", ["one", "two"]),
    ],
)
def test_list_separators(raw: str, separator: str, expected: list[str]) -> None:
    assert parse_list(raw, separator) == expected


def test_list_without_items_is_invalid() -> None:
    with pytest.raises(OutputInvalid, match="no list items"):
        parse_list(" ; ; ", ";")


def test_json_is_found_in_fences_and_prose() -> None:
    assert extract_json('Sure! ```json\n{"a": 1}\n```') == ({"a": 1}, False)
    assert extract_json('Here you go: {"a": [1, 2]} hope it helps') == ({"a": [1, 2]}, False)
    assert extract_json("[1, 2]") == ([1, 2], False)


def test_broken_json_is_repaired_and_flagged() -> None:
    value, repaired = extract_json('{"billing": "pricing concerns", "outage": "service reliability"')
    assert repaired is True
    assert value == {"billing": "pricing concerns", "outage": "service reliability"}


def test_repair_can_be_turned_off() -> None:
    with pytest.raises(OutputInvalid, match="not valid JSON"):
        extract_json('{"a": 1', repair=False)


def test_prose_without_json_is_not_repaired_into_a_value() -> None:
    with pytest.raises(OutputInvalid, match="no JSON object or array"):
        extract_json("I am sorry, I cannot help with that.")


def test_schema_validation_names_the_failing_key() -> None:
    spec = build_output_spec(
        "json",
        schema={"type": "object", "additionalProperties": {"type": "string", "enum": ["a", "b"]}},
    )
    assert spec.parse('{"x": "a"}') == ({"x": "a"}, False)
    with pytest.raises(OutputInvalid, match=r'at \["y"\]: \'c\' is not one of'):
        spec.parse('{"x": "a", "y": "c"}')


def test_json_without_schema_must_be_an_object_or_array() -> None:
    spec = build_output_spec("json")
    assert spec.parse('{"k": 1}')[0] == {"k": 1}
    with pytest.raises(OutputInvalid, match="got a string"):
        spec.parse('"just a string"')


def test_pydantic_model_validates_and_dumps_plain_json() -> None:
    spec = build_output_spec("json", schema=Verdict)
    value, _ = spec.parse('{"label": "ok", "score": "0.5"}')
    assert value == {"label": "ok", "score": 0.5}
    assert json.dumps(value)  # plain data
    with pytest.raises(OutputInvalid, match="Verdict: at score"):
        spec.parse('{"label": "ok", "score": "high"}')
    assert spec.json_schema is not None and "score" in spec.json_schema["properties"]


def test_pydantic_model_by_import_path() -> None:
    spec = build_output_spec("json", schema=f"{__name__}:Verdict")
    assert spec.model is Verdict
    with pytest.raises(ChainSpecError, match="not a pydantic model"):
        build_output_spec("json", schema="json:dumps")
    with pytest.raises(ChainSpecError, match="cannot import module"):
        build_output_spec("json", schema="no_such_module_xyz:Model")


def test_schema_file_is_loaded_relative_to_base_dir(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text('{"type": "array", "items": {"type": "string"}}', encoding="utf-8")
    spec = build_output_spec("json", schema="s.json", base_dir=tmp_path)
    assert spec.type_name == "list[str]"
    with pytest.raises(OutputInvalid, match="is not of type 'string'"):
        spec.parse("[1]")
    with pytest.raises(ChainSpecError, match="not found"):
        build_output_spec("json", schema="missing.json", base_dir=tmp_path)


def test_invalid_json_schema_is_refused_by_meta_validation() -> None:
    with pytest.raises(ChainSpecError, match="not a valid JSON Schema") as caught:
        build_output_spec("json", schema={"type": "objekt"})
    assert caught.value.key_path == ("schema",)


def test_bad_output_kind_and_schema_on_text_are_spec_errors() -> None:
    with pytest.raises(ChainSpecError, match="unknown output kind 'yaml'"):
        build_output_spec("yaml")
    with pytest.raises(ChainSpecError, match="only applies to output: json"):
        build_output_spec("list", schema={"type": "array"})
