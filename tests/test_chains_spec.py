"""YAML chain specs: loading, and errors that name the file and the line of the offending key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from promptkit.chains import Chain, ChainSpecError, load_chain
from promptkit.errors import EXIT_INPUT, TemplateSecurityError
from promptkit.lm import FakeLM

ROOT = Path(__file__).resolve().parents[1]
GOOD = """\
name: demo
inputs:
  text: {type: str, description: some text}
steps:
  - name: extract
    prompt: "List the problems in {{ text }}"
    output: list
  - name: classify
    prompt: |
      Classify:
      {% for p in problems %}- {{ p }}
      {% endfor %}
    output: json
    schema: {type: object}
    inputs:
      problems: extract
output: classify
"""


def write(tmp_path: Path, text: str, name: str = "chain.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def line_of(path: Path, marker: str, occurrence: int = 1) -> int:
    """1-based line of the ``occurrence``-th line containing ``marker`` (so tests never hard-code lines)."""
    hits = [n for n, line in enumerate(path.read_text().splitlines(), 1) if marker in line]
    return hits[occurrence - 1]


def spec_error(path: Path) -> ChainSpecError:
    with pytest.raises(ChainSpecError) as caught:
        load_chain(path)
    error = caught.value
    assert error.path == str(path) and error.exit_code == EXIT_INPUT
    assert str(error).startswith(f"{path}:{error.line}: ")
    return error


def test_a_valid_spec_loads_and_runs(tmp_path: Path) -> None:
    chain = load_chain(write(tmp_path, GOOD))
    assert isinstance(chain, Chain) and chain.name == "demo" and chain.order == ["extract", "classify"]
    assert chain.inputs["text"].description == "some text"
    result = chain.run(FakeLM(["a; b", '{"a": "x"}']), text="t")
    assert result.output == {"a": "x"} and "- a\n- b" in result["classify"].messages[0]["content"]


def test_unknown_step_reference_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("problems: extract", "problems: extrct"))
    error = spec_error(path)
    assert error.line == line_of(path, "problems: extrct")
    assert "'extrct' is neither a chain input nor a step" in str(error)


def test_cycle_names_the_line_and_the_steps(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        steps:
          - name: a
            prompt: "{{ x }}"
            inputs: {x: b}
          - name: b
            prompt: "{{ y }}"
            inputs:
              y: a
        """,
    )
    error = spec_error(path)
    assert "cycle: a -> b -> a" in str(error)
    assert error.line == line_of(path, "inputs: {x: b}")


def test_self_reference_is_a_cycle(tmp_path: Path) -> None:
    path = write(tmp_path, "steps:\n  - name: a\n    prompt: '{{ a }}'\n")
    error = spec_error(path)
    assert "cycle: a -> a" in str(error) and error.line == 3


def test_missing_chain_input_names_the_prompt_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("  text: {type: str, description: some text}\n", "  other: str\n"))
    error = spec_error(path)
    assert "needs input 'text'" in str(error) and "no input and no step of that name" in str(error)
    assert error.line == line_of(path, 'prompt: "List the problems')


def test_bad_output_kind(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("output: list", "output: yaml"))
    error = spec_error(path)
    assert "unknown output kind 'yaml'" in str(error) and error.line == line_of(path, "output: yaml")


def test_bad_schema_is_meta_validated(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("schema: {type: object}", "schema: {type: objekt}"))
    error = spec_error(path)
    assert "not a valid JSON Schema" in str(error) and error.line == line_of(path, "schema:")


def test_missing_schema_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("schema: {type: object}", "schema: schemas/none.json"))
    error = spec_error(path)
    assert "schema file 'schemas/none.json' not found" in str(error) and error.line == line_of(path, "schema:")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("name: demo", "name: demo\nstpes: []", "unknown key 'stpes' in the chain spec"),
        ("    output: list", "    outptu: list", "did you mean 'output'?"),
    ],
)
def test_unknown_keys(tmp_path: Path, old: str, new: str, expected: str) -> None:
    path = write(tmp_path, GOOD.replace(old, new))
    error = spec_error(path)
    assert expected in str(error)
    assert error.line == line_of(path, new.split("\n")[-1].strip())


def test_unknown_input_key_and_type(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("{type: str, description: some text}", "{type: string}"))
    error = spec_error(path)
    assert "unknown type 'string'" in str(error) and error.line == line_of(path, "{type: string}")
    path = write(tmp_path, GOOD.replace("description: some text", "descr: x"))
    assert "unknown key 'descr'" in str(spec_error(path))


def test_duplicate_keys_are_errors(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("    output: list", "    output: list\n    output: text"))
    error = spec_error(path)
    assert "duplicate key 'output'" in str(error) and error.line == line_of(path, "output: text")


def test_invalid_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("  - name: classify", "  - name: [classify"))
    error = spec_error(path)
    assert "invalid YAML" in str(error)
    assert error.line is not None and line_of(path, "[classify") <= error.line <= line_of(path, "[classify") + 2


def test_unknown_dependency_and_output(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("    output: json", "    output: json\n    depends: [extract, later]"))
    error = spec_error(path)
    assert "depends on unknown step 'later'" in str(error) and error.line == line_of(path, "depends:")
    path = write(tmp_path, GOOD.replace("output: classify", "output: [classify, summary]"))
    error = spec_error(path)
    assert "output names unknown step 'summary'" in str(error) and error.line == line_of(path, "output: [classify")


def test_type_mismatch_between_steps(tmp_path: Path) -> None:
    (tmp_path / "t.j2").write_text("{#---\ninputs:\n  problems: {type: str}\n---#}\n{{ problems }}\n")
    path = write(tmp_path, GOOD.replace("prompt: |", "template: t.j2\n    unused: |"))
    assert "unknown key 'unused'" in str(spec_error(path))
    text = GOOD.split("  - name: classify")[0] + (
        "  - name: classify\n    template: t.j2\n    inputs: {problems: extract}\noutput: classify\n"
    )
    path = write(tmp_path, text)
    error = spec_error(path)
    assert "expects str, but step 'extract' (extract) gives list[str]" in str(error)
    assert error.line == line_of(path, "inputs: {problems: extract}")


def test_unmapped_template_input_and_unknown_template(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("problems: extract", "problems: extract\n      extra: text"))
    error = spec_error(path)
    assert "maps 'extra', which template" in str(error) and error.line == line_of(path, "extra: text")
    path = write(tmp_path, GOOD.replace('prompt: "List the problems in {{ text }}"', "template: nowhere.j2"))
    error = spec_error(path)
    assert "template 'nowhere.j2'" in str(error) and "not found" in str(error)
    assert error.line == line_of(path, "template: nowhere.j2")


def test_inline_prompt_errors_point_into_the_block(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("{% endfor %}", "{% endfor"))
    error = spec_error(path)
    assert "not valid Jinja" in str(error)
    assert error.line == line_of(path, "{% endfor")


def test_sandbox_escapes_in_inline_prompts_stay_security_errors(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("List the problems in {{ text }}", "{{ text.__class__ }}"))
    with pytest.raises(TemplateSecurityError):
        load_chain(path)


def test_structural_errors(tmp_path: Path) -> None:
    assert "steps must be a non-empty list" in str(spec_error(write(tmp_path, "name: x\nsteps: []\n")))
    assert "has no name" in str(spec_error(write(tmp_path, "steps:\n  - prompt: hi\n")))
    assert "must be a YAML mapping" in str(spec_error(write(tmp_path, "- just\n- a list\n")))
    error = spec_error(write(tmp_path, "steps:\n  - name: a\n    prompt: hi\n    template: t.j2\n"))
    assert "exactly one of template" in str(error)
    error = spec_error(write(tmp_path, "steps:\n  - name: a\n    prompt: hi\n    retries: 99\n"))
    assert "retries must be an integer from 0 to 10" in str(error) and error.line == 4
    error = spec_error(write(tmp_path, "steps:\n  - name: a\n    prompt: hi\n  - name: a\n    prompt: ho\n"))
    assert "step name 'a' is used twice" in str(error) and error.line == 4
    with pytest.raises(ChainSpecError, match="chain spec not found"):
        load_chain(tmp_path / "missing.yaml")


def test_the_shipped_telecom_spec_is_valid() -> None:
    chain = load_chain(ROOT / "pipelines" / "telecom_feedback.yaml")
    assert chain.order == ["extract", "classify", "recommend"]
    assert chain.needs("classify") == ["extract"] and chain.needs("recommend") == ["classify"]
    assert list(chain.inputs) == ["feedback"]
