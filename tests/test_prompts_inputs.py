"""Front matter, declared inputs (missing / unknown / mistyped / pydantic) and the undeclared-variable check."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptkit.errors import TemplateError, TemplateInputError
from promptkit.prompts import Example, TemplateEnv

# A pydantic model importable by one module path (test modules may be imported under two names).
MODEL = "promptkit.prompts.structured:Example"

HEADER = """{#---
name: typed
description: Every kind of input.
version: "2.1"
inputs:
  text: {type: str, description: "some text"}
  count: {type: int}
  ratio: {type: float, default: 0.5}
  flag: {type: bool, default: false}
  items: {type: list, default: []}
  words: {type: "list[str]", default: []}
  table: {type: dict, default: {}}
  anything: {type: any, default: null}
  person: {type: "promptkit.prompts.structured:Example", required: false}
  people: {type: "list[promptkit.prompts.structured.Example]", default: []}
---#}
"""
BODY = (
    "{{ text }}|{{ count }}|{{ ratio }}|{{ flag }}|{{ items|length }}|{{ words|join(',') }}|{{ table|length }}"
    "|{{ anything }}|{{ person.input if person else '-' }}|"
    "{% for p in people %}{{ p.input }}:{{ p.output }}{% endfor %}"
)


@pytest.fixture
def env(tmp_path: Path) -> TemplateEnv:
    (tmp_path / "typed.j2").write_text(HEADER + BODY)
    return TemplateEnv([tmp_path], include_bundled=False)


def test_front_matter_is_exposed(env: TemplateEnv) -> None:
    template = env.get("typed.j2")
    assert template.description == "Every kind of input."
    assert template.meta_version == "2.1"
    assert list(template.inputs) == [
        "text",
        "count",
        "ratio",
        "flag",
        "items",
        "words",
        "table",
        "anything",
        "person",
        "people",
    ]
    text = template.inputs["text"]
    assert (text.type_name, text.required, text.description) == ("str", True, "some text")
    ratio = template.inputs["ratio"]
    assert (ratio.required, ratio.default) == (False, 0.5)
    assert template.inputs["person"].required is False and template.inputs["person"].default is None


def test_defaults_are_filled_in(env: TemplateEnv) -> None:
    values = env.get("typed.j2").validate({"text": "hi", "count": 3})
    assert values == {
        "text": "hi",
        "count": 3,
        "ratio": 0.5,
        "flag": False,
        "items": [],
        "words": [],
        "table": {},
        "anything": None,
        "person": None,
        "people": [],
    }
    assert env.get("typed.j2").render_text(text="hi", count=3) == "hi|3|0.5|False|0||0|None|-|"


def test_default_containers_are_not_shared_between_renders(env: TemplateEnv) -> None:
    template = env.get("typed.j2")
    first = template.validate({"text": "a", "count": 1})
    first["items"].append("mutated")
    assert template.validate({"text": "a", "count": 1})["items"] == []


def test_missing_required_input_names_template_variable_and_type(env: TemplateEnv) -> None:
    with pytest.raises(TemplateInputError) as info:
        env.get("typed.j2").render_messages(text="hi")
    err = info.value
    assert (err.template, err.variable, err.expected) == ("typed.j2", "count", "int")
    assert "template 'typed.j2'" in str(err) and "'count'" in str(err)


def test_unknown_input_is_refused(env: TemplateEnv) -> None:
    with pytest.raises(TemplateInputError, match="unknown input 'colour'") as info:
        env.get("typed.j2").render_messages(text="hi", count=1, colour="red")
    assert info.value.variable == "colour"
    assert "text, count" in str(info.value)  # lists what is declared


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"text": 5}, "input 'text' expected str, got int"),
        ({"count": True}, "input 'count' expected int, got bool"),
        ({"count": 1.5}, "input 'count' expected int, got float"),
        ({"ratio": "0.5"}, "input 'ratio' expected float, got str"),
        ({"flag": 1}, "input 'flag' expected bool, got int"),
        ({"items": "abc"}, "input 'items' expected list, got str"),
        ({"words": ["a", 2]}, r"input 'words\[1\]' expected str, got int"),
        ({"table": [1]}, "input 'table' expected dict, got list"),
        ({"person": "Ann"}, f"input 'person' expected {MODEL}, got str"),
        ({"person": {"input": "a", "output": 3}}, r"input 'person.output' expected .*Example, got an invalid value"),
        ({"person": {"input": "a", "output": "b", "extra": 1}}, r"input 'person.extra' expected .*Example"),
        ({"people": [{"input": "a", "output": "b"}, {"input": "c"}]}, r"input 'people\[1\].output' expected"),
        ({"text": None}, "input 'text' expected str, got NoneType"),
    ],
)
def test_wrong_types_are_refused(env: TemplateEnv, values: dict[str, object], message: str) -> None:
    full = {"text": "hi", "count": 1, **values}
    with pytest.raises(TemplateInputError, match=message) as info:
        env.get("typed.j2").render_messages(full)
    assert info.value.template == "typed.j2"
    assert info.value.variable == next(iter(values))


def test_accepted_types(env: TemplateEnv) -> None:
    text = env.get("typed.j2").render_text(
        text="hi",
        count=2,
        ratio=1,
        flag=True,
        items=("a", "b"),
        words=["x", "y"],
        table={"k": 1},
        anything=object.__name__,
        person={"input": "Ann", "output": "7"},
        people=[Example(input="Bo", output="3"), {"input": "Cy", "output": "4"}],
    )
    assert text == "hi|2|1|True|2|x,y|1|object|Ann|Bo:3Cy:4"


def test_pydantic_instance_is_passed_through(env: TemplateEnv) -> None:
    person = Example(input="Ann", output="7")
    assert env.get("typed.j2").validate({"text": "a", "count": 1, "person": person})["person"] is person


# -- front matter errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "message", "line"),
    [
        ("{#---\ninputs:\n  x: {type: str\n---#}\n", "not valid YAML", None),
        ("{#---\ninputs:\n  x: {type: strng}\n---#}\n", "unknown type 'strng'", 3),
        ("{#---\ninputs:\n  x: {type: str, requird: true}\n---#}\n", "unknown key 'requird'", 3),
        ("{#---\ntitle: x\n---#}\n", "unknown key 'title'", 2),
        ("{#---\ninputs:\n  x: {type: int, default: 'a'}\n---#}\n", "default of input 'x' is not a int", 3),
        ("{#---\ninputs:\n  x: {type: str, required: true, default: 'a'}\n---#}\n", "required and has a default", 3),
        ("{#---\ninputs:\n  x: {type: no.such.module:Model}\n---#}\n", "cannot import module", 3),
        ("{#---\ninputs:\n  x: {type: 'pathlib:Path'}\n---#}\n", "not a pydantic model", 3),
        ("{#---\ninputs:\n  config: str\n---#}\n", "input name 'config' is not allowed", 3),
        ("{#---\ninputs: [a, b]\n---#}\n", "inputs must be a mapping", 2),
        ("{#---\n- a\n---#}\n", "must be a YAML mapping", None),
        ("{#---\ninputs:\n  x: str\n", "not closed", 1),
    ],
)
def test_invalid_front_matter_is_a_template_error(tmp_path: Path, header: str, message: str, line: int | None) -> None:
    (tmp_path / "bad.j2").write_text(header + "body\n")
    env = TemplateEnv([tmp_path], include_bundled=False)
    with pytest.raises(TemplateError, match=message) as info:
        env.get("bad.j2")
    assert info.value.template == "bad.j2"
    if line is not None:
        assert info.value.line == line


def test_yaml_error_line_points_into_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.j2").write_text("\n\n{#---\nname: x\ninputs:\n  a: {type: str\n  b: str\n---#}\n")
    with pytest.raises(TemplateError, match="not valid YAML") as info:
        TemplateEnv([tmp_path], include_bundled=False).get("bad.j2")
    assert info.value.line is not None and 6 <= info.value.line <= 8


def test_shorthand_type_and_header_keep_line_numbers(tmp_path: Path) -> None:
    (tmp_path / "t.j2").write_text("{#---\ninputs:\n  x: str\n---#}\nline5\n{{ x.missing }}\n")
    env = TemplateEnv([tmp_path], include_bundled=False)
    assert env.get("t.j2").inputs["x"].type_name == "str"
    with pytest.raises(TemplateError) as info:
        env.get("t.j2").render_text(x="a")
    assert info.value.line == 6  # the header did not shift line numbers


# -- undeclared variables ----------------------------------------------------------------


def test_undeclared_variable_is_reported_at_load_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "t.j2").write_text("{#---\ninputs:\n  question: str\n---#}\nQ: {{ question }}\nC: {{ context }}\n")
    with pytest.raises(TemplateInputError, match="'context'") as info:
        TemplateEnv([tmp_path], include_bundled=False).get("t.j2")
    assert (info.value.variable, info.value.line, info.value.template) == ("context", 6, "t.j2")


def test_template_without_header_declares_nothing(tmp_path: Path) -> None:
    env = TemplateEnv([tmp_path], include_bundled=False)
    assert env.from_string("static text").inputs == {}
    with pytest.raises(TemplateInputError, match="'name'"):
        env.from_string("Hello {{ name }}")
    with pytest.raises(TemplateInputError, match="unknown input"):
        env.from_string("static").render_messages(name="x")


def test_locals_loop_helpers_and_globals_are_not_undeclared(tmp_path: Path) -> None:
    env = TemplateEnv([tmp_path], include_bundled=False)
    source = (
        "{#---\ninputs:\n  xs: list\n---#}\n"
        "{% set total = xs|length %}{% set ns = namespace(n=0) %}"
        "{% macro item(v) %}[{{ v }}{{ caller() }}]{% endmacro %}"
        "{% for x in xs %}{{ loop.index }}{% call item(x) %}c{% endcall %}{% set ns.n = ns.n + 1 %}{% endfor %}"
        "{{ total }}{{ ns.n }}{{ range(2)|list }}{{ dict(a=1) }}"
    )
    assert env.from_string(source).render_text(xs=["a"]) == "1[ac]11[0, 1]{'a': 1}"


def test_partials_are_checked_against_their_own_declaration(tmp_path: Path) -> None:
    (tmp_path / "part.j2").write_text("{{ undeclared_in_partial }}")
    (tmp_path / "main.j2").write_text("{#---\ninputs:\n  undeclared_in_partial: str\n---#}\n{% include 'part.j2' %}")
    env = TemplateEnv([tmp_path], include_bundled=False)
    with pytest.raises(TemplateInputError) as info:
        env.get("main.j2")  # loading main loads its partials
    assert (info.value.template, info.value.variable) == ("part.j2", "undeclared_in_partial")


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("text", "42", "42"),
        ("count", "42", 42),
        ("ratio", "2.5", 2.5),
        ("flag", "Yes", True),
        ("flag", "false", False),
        ("items", "[1, two]", [1, "two"]),
        ("words", '["a", "b"]', ["a", "b"]),
        ("table", "{k: v}", {"k": "v"}),
        ("person", "{input: a, output: b}", Example(input="a", output="b")),
    ],
)
def test_command_line_strings_are_parsed_by_type(env: TemplateEnv, name: str, text: str, value: object) -> None:
    assert env.get("typed.j2").inputs[name].parse(text) == value


@pytest.mark.parametrize(("name", "text"), [("count", "4.5"), ("flag", "maybe"), ("words", "[1, 2]"), ("items", "[")])
def test_unparseable_command_line_strings_name_the_input(env: TemplateEnv, name: str, text: str) -> None:
    with pytest.raises(TemplateInputError, match=f"input '{name}' expected") as info:
        env.get("typed.j2").inputs[name].parse(text, template="typed.j2")
    assert info.value.variable == name


def test_values_must_be_a_mapping(env: TemplateEnv) -> None:
    with pytest.raises(TemplateInputError, match="must be a mapping"):
        env.get("typed.j2").render_messages(["text", "count"])  # type: ignore[arg-type]
