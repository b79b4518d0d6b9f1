"""The one YAML loader (promptkit/yaml_files.py): data and line numbers from one parse, for every reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptkit.errors import DataError, TemplateError
from promptkit.yaml_files import parse_yaml_document

TEXT = """\
name: demo
steps:
  - name: a
    prompt: |
      line one
      line two
  - name: b
    prompt: hi
"""


def test_lines_of_keys_and_items_are_file_lines() -> None:
    document = parse_yaml_document(TEXT, path="x.yaml")
    assert document.data["steps"][1]["name"] == "b"
    assert document.lines[("name",)] == 1
    assert document.lines[("steps", 0)] == 3 and document.lines[("steps", 1)] == 7
    assert document.lines[("steps", 1, "prompt")] == 8
    assert document.block_starts[("steps", 0, "prompt")] == 5  # the block's first content line
    assert document.line_of(("steps", 1, "missing", 3)) == 7  # nearest located parent
    shifted = parse_yaml_document(TEXT, path="x.yaml", first_line=10)  # a header starting on line 10
    assert shifted.lines[("steps", 1)] == 16


def test_duplicates_are_recorded_and_syntax_errors_name_the_line() -> None:
    document = parse_yaml_document("a: 1\nb:\n  c: 1\n  c: 2\n", path="x.yaml")
    assert document.duplicates == [(("b", "c"), 4)] and document.data == {"a": 1, "b": {"c": 2}}
    with pytest.raises(DataError) as caught:
        parse_yaml_document("a: 1\nb: [1, 2\nc: 3\n", path="x.yaml")
    assert caught.value.line == 2 and "x.yaml:2:" in str(caught.value)  # where the [ opened
    with pytest.raises(KeyError):
        parse_yaml_document("a: [", path="x", error=lambda message, line: KeyError((message, line)))


def test_front_matter_errors_name_the_template_line() -> None:
    from promptkit.prompts import TemplateEnv

    env = TemplateEnv()
    with pytest.raises(TemplateError) as caught:
        env.from_string("\n\n{#---\ninputs:\n  q: {type: strng}\n---#}\n{{ q }}", name="t")
    assert caught.value.line == 5 and "strng" in str(caught.value)
    with pytest.raises(TemplateError) as bad:
        env.from_string("{#---\ninputs:\n  q: [str\n---#}\n{{ q }}", name="t")
    assert bad.value.line == 3


def test_router_config_errors_name_the_entry_line(tmp_path: Path) -> None:
    from promptkit.errors import ConfigError
    from promptkit.lm.router_config import load_router_config

    path = tmp_path / "router.yaml"
    path.write_text(
        "model_list:\n"
        "  - model_name: a\n    litellm_params: {model: openai/x}\n"
        "  - model_name: b\n    litellm_params: {}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_router_config(path, timeout=5, num_retries=0)
    assert f"{path}:4: model_list[1]" in str(caught.value)


def test_a_chain_schema_file_error_names_its_line(tmp_path: Path) -> None:
    from promptkit.chains import ChainSpecError
    from promptkit.chains.output import build_output_spec

    (tmp_path / "schema.yaml").write_text("type: object\nproperties: [1, 2\nx: 3\n", encoding="utf-8")
    with pytest.raises(ChainSpecError, match=r"schema file 'schema.yaml', line 2: invalid YAML"):
        build_output_spec("json", schema="schema.yaml", base_dir=tmp_path)
