"""Building a chain in Python: references, inline prompts, type checks and ordering, all before any LM call."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from promptkit.chains import Chain, ChainInput, ChainSpecError, Step
from promptkit.chains.plan import inline_variables
from promptkit.lm import FakeLM
from promptkit.prompts import TemplateEnv
from promptkit.prompts.types import compatible


def template_dir(tmp_path: Path, **templates: str) -> Path:
    for name, text in templates.items():
        (tmp_path / f"{name}.j2").write_text(text, encoding="utf-8")
    return tmp_path


def test_inline_prompt_inputs_are_declared_from_the_variables_it_uses() -> None:
    source = (
        '{% message "system" %}Be terse.{% endmessage %}{% message "user" %}{{ a }} {% for x in items %}{{ x }}'
        "{% endfor %}{{ range(2) | list }}{% endmessage %}"
    )
    assert inline_variables(source) == ["a", "items"]  # loop variables and globals are not inputs
    chain = Chain([Step(name="items", prompt="list", output="list"), Step(name="use", prompt=source)], inputs=["a"])
    assert chain.bindings("use") == {"a": "a", "items": "items"}
    assert chain.order == ["items", "use"]


def test_unknown_reference_is_located_at_the_mapping() -> None:
    expected = "input 'x' = 'extrct': 'extrct' is neither a chain input nor a step (known: text, extract, use)"
    with pytest.raises(ChainSpecError, match=re.escape(expected)) as caught:
        Chain(
            [Step(name="extract", prompt="{{ text }}"), Step(name="use", prompt="{{ x }}", inputs={"x": "extrct"})],
            inputs=["text"],
        )
    assert caught.value.key_path == ("steps", 1, "inputs", "x")


def test_reference_syntax_mistakes_are_explained() -> None:
    with pytest.raises(ChainSpecError, match=r"did you mean 'a.output.key'"):
        Chain([Step(name="a", prompt="hi", output="json"), Step(name="b", prompt="{{ v }}", inputs={"v": "a.key"})])


def test_missing_chain_input_is_refused_when_built() -> None:
    with pytest.raises(ChainSpecError, match="needs input 'topic'") as caught:
        Chain([Step(name="a", prompt="Tell me about {{ topic }}")])
    assert caught.value.key_path == ("steps", 0, "prompt") and "declare 'topic'" in str(caught.value)


def test_cycles_through_depends_are_refused() -> None:
    with pytest.raises(ChainSpecError, match="cycle: a -> b -> a") as caught:
        Chain([Step(name="a", prompt="x", depends=["b"]), Step(name="b", prompt="{{ a }}")])
    assert caught.value.key_path == ("steps", 0, "depends", 0)


def test_depends_orders_steps_without_data(tmp_path: Path) -> None:
    chain = Chain([Step(name="report", prompt="report", depends=["setup"]), Step(name="setup", prompt="setup")])
    assert chain.order == ["setup", "report"] and chain.needs("report") == ["setup"]
    fake = FakeLM({"setup": "ok", "report": "done"})
    chain.run(fake)
    assert [c.last_user_message for c in fake.calls] == ["setup", "report"]


def test_types_must_be_compatible_between_steps(tmp_path: Path) -> None:
    root = template_dir(
        tmp_path,
        wants_str="{#---\ninputs:\n  issues: {type: str}\n---#}\n{{ issues }}",
        wants_list="{#---\ninputs:\n  issues: {type: 'list[str]'}\n---#}\n{{ issues | join(', ') }}",
        wants_ints="{#---\ninputs:\n  issues: {type: 'list[int]'}\n---#}\n{{ issues }}",
    )
    env = TemplateEnv([root])
    extract = Step(name="extract", prompt="extract", output="list")
    Chain([extract, Step(name="b", template="wants_list.j2", inputs={"issues": "extract"})], env=env)
    Chain([extract, Step(name="b", template="wants_str.j2", inputs={"issues": "extract.raw"})], env=env)
    for template, expected in (("wants_str.j2", "expects str"), ("wants_ints.j2", "expects list[int]")):
        with pytest.raises(ChainSpecError, match=re.escape(f"{expected}, but step 'extract'")):
            Chain([extract, Step(name="b", template=template, inputs={"issues": "extract"})], env=env)


def test_schema_types_flow_into_the_check(tmp_path: Path) -> None:
    env = TemplateEnv([template_dir(tmp_path, t="{#---\ninputs:\n  n: {type: int}\n---#}\n{{ n }}")])
    schema = {"type": "object", "properties": {"n": {"type": "integer"}, "s": {"type": "string"}}}
    source = Step(name="facts", prompt="facts", output="json", schema=schema)
    Chain([source, Step(name="use", template="t.j2", inputs={"n": "facts.output.n"})], env=env)
    with pytest.raises(ChainSpecError, match=r"expects int, but step 'facts' .* gives str"):
        Chain([source, Step(name="use", template="t.j2", inputs={"n": "facts.output.s"})], env=env)


def test_optional_template_inputs_may_stay_unbound(tmp_path: Path) -> None:
    source = "{#---\ninputs:\n  tone: {type: str, default: calm}\n---#}\n{{ tone }}"
    env = TemplateEnv([template_dir(tmp_path, t=source)])
    chain = Chain([Step(name="say", template="t.j2")], env=env)
    assert chain.bindings("say") == {}
    assert chain.run(FakeLM(["ok"]))["say"].messages[0]["content"] == "calm"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "has space", "prompt": "x"}, "step name 'has space' is not allowed"),
        ({"name": "lm", "prompt": "x"}, "step name 'lm' is not allowed"),
        ({"name": "a"}, "exactly one of template"),
        ({"name": "a", "prompt": "x", "output": "xml"}, "unknown output kind 'xml'"),
        ({"name": "a", "prompt": "x", "retries": -1}, "retries must be an integer"),
        ({"name": "a", "prompt": "x", "inputs": {"v": 3}}, "must be a reference string"),
        ({"name": "a", "prompt": "x", "depends": "b"}, "depends must be a list"),
        ({"name": "a", "prompt": "x", "temperature": -1}, "temperature must be a non-negative number"),
    ],
)
def test_step_arguments_are_checked(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ChainSpecError, match=message):
        Step(**kwargs)  # type: ignore[arg-type]


def test_names_are_unique_across_steps_and_inputs() -> None:
    with pytest.raises(ChainSpecError, match="has the name of a chain input"):
        Chain([Step(name="text", prompt="x")], inputs=["text"])
    with pytest.raises(ChainSpecError, match="declared twice"):
        Chain([Step(name="a", prompt="{{ t }}")], inputs=["t", ChainInput("t")])
    with pytest.raises(ChainSpecError, match="not allowed"):
        ChainInput("values")


def test_compatibility_rules() -> None:
    assert compatible("list[str]", "list") and compatible("list", "list[str]") and compatible("int", "float")
    assert compatible("dict", "mymodule:Model") and compatible("any", "int") and compatible("str", "any")
    assert not compatible("list[str]", "str") and not compatible("dict", "list") and not compatible("float", "int")
    assert not compatible("list[str]", "list[int]") and not compatible("str", "mymodule:Model")


def test_a_longer_cycle_is_named_in_needs_order_from_the_first_declared_step() -> None:
    with pytest.raises(ChainSpecError, match=r"cycle: c -> a -> b -> c \(step 'c' needs 'a'\)") as caught:
        Chain(
            [
                Step(name="c", prompt="{{ a }}"),
                Step(name="a", prompt="{{ b }}"),
                Step(name="b", prompt="{{ c }}"),
            ]
        )
    assert caught.value.key_path[:2] == ("steps", 0)


def test_a_step_runs_as_soon_as_its_needs_are_done_in_declaration_order() -> None:
    chain = Chain(
        [
            Step(name="x", prompt="x", depends=["y"]),
            Step(name="y", prompt="y"),
            Step(name="z", prompt="z"),
        ]
    )
    assert chain.order == ["y", "x", "z"]  # x (declared first) runs once y is done, before z


def test_chain_inputs_take_the_template_type_names() -> None:
    from promptkit.errors import InputError

    tags = ChainInput("tags", type="list[str]")
    assert tags.coerce('["a", "b"]', "c") == ["a", "b"] and tags.check(("x",), "c") == ["x"]
    with pytest.raises(InputError, match=r"input 'tags\[1\]' expected str, got int"):
        tags.check(["a", 2], "c")
    with pytest.raises(InputError, match="is not a valid int"):
        ChainInput("n", type="int").coerce("three", "c")
    assert ChainInput("on", type="bool").coerce("yes", "c") is True
    with pytest.raises(ChainSpecError, match="unknown type 'strng'") as caught:
        ChainInput("x", type="strng")
    assert "list[T]" in str(caught.value)  # the hint lists the one set of names


def test_an_inline_prompt_with_a_non_literal_role_is_refused_where_it_is_parsed() -> None:
    with pytest.raises(ChainSpecError, match="takes a literal role"):
        inline_variables("{% message role %}{{ a }}{% endmessage %}")
