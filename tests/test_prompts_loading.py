"""Template roots, include/extends/import across roots, overrides, caching and content versions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from promptkit.config import load_settings
from promptkit.errors import ConfigError, TemplateError
from promptkit.prompts import (
    TemplateEnv,
    bundled_pipelines_dir,
    bundled_templates_dir,
    default_env,
    render,
)

REPO = Path(__file__).resolve().parents[1]


def _write(path: Path, text: str) -> None:
    """Write and move the mtime forward, so a rewrite within one clock tick is still seen as an edit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    existed = path.exists()
    before = path.stat().st_mtime_ns if existed else 0
    path.write_text(text)
    if existed:
        os.utime(path, ns=(before + 10**9, before + 10**9))


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "first", tmp_path / "second"
    _write(
        second / "base.j2",
        '{% message "system" %}{% block rules %}base rules{% endblock %}{% endmessage %}\n'
        '{% message "user" %}{% block question %}{% endblock %}{% endmessage %}',
    )
    _write(second / "macros.j2", "{% macro bullet(items) %}{% for i in items %}- {{ i }}\n{% endfor %}{% endmacro %}")
    _write(second / "partials" / "sig.j2", "{#---\ninputs:\n  who: str\n---#}\n-- {{ who }}")
    _write(
        first / "main.j2",
        "{#---\ninputs:\n  who: str\n  items: list\n  question: str\n---#}\n"
        "{% extends 'base.j2' %}{% import 'macros.j2' as m %}{% from 'macros.j2' import bullet %}"
        "{% block rules %}{{ super() }}\n{{ m.bullet(items) }}{{ bullet(['z']) }}"
        "{% include 'partials/sig.j2' %}{% endblock %}"
        "{% block question %}{{ question }}{% endblock %}",
    )
    # A user template composed with a bundled one (qa.j2 brings its own system + user messages).
    _write(
        first / "qa_plus.j2",
        "{#---\ninputs:\n  question: str\n---#}\n"
        '{% message "system" %}House rules.{% endmessage %}\n{% include "qa.j2" %}',
    )
    return first, second


def test_paths_point_at_the_repository_folders() -> None:
    assert bundled_templates_dir() == REPO / "templates"
    assert (bundled_templates_dir() / "structured.j2").is_file()
    assert bundled_pipelines_dir() == REPO / "pipelines"


def test_include_extends_import_and_macros_across_roots(roots: tuple[Path, Path]) -> None:
    env = TemplateEnv(roots)
    messages = env.get("main.j2").render_messages(who="Ann", items=["a", "b"], question="Why?")
    assert messages == [
        {"role": "system", "content": "base rules\n- a\n- b\n- z\n-- Ann"},
        {"role": "user", "content": "Why?"},
    ]
    composed = env.get("qa_plus.j2").render_messages(question="Why?")
    assert [m["role"] for m in composed] == ["system", "system", "user"]
    assert composed[0]["content"] == "House rules." and composed[2]["content"] == "Question: Why?"
    assert env.get("qa_plus.j2").dependencies == ["qa.j2"]


def test_user_root_overrides_bundled_template(tmp_path: Path) -> None:
    bundled_text = TemplateEnv().get("qa.j2").render_text(question="Q?")
    _write(tmp_path / "qa.j2", "{#---\ninputs:\n  question: str\n---#}\nMine: {{ question }}")
    env = TemplateEnv([tmp_path])
    assert env.get("qa.j2").render_text(question="Q?") == "Mine: Q?"
    assert env.get("qa.j2").path == tmp_path / "qa.j2"
    assert "Question: Q?" in bundled_text
    listed = {info.name: info for info in env.list_templates()}
    assert listed["qa.j2"].root == str(tmp_path)
    assert listed["structured.j2"].root == "bundled"


def test_list_templates_reports_metadata_and_broken_files(tmp_path: Path) -> None:
    _write(tmp_path / "good.j2", "{#---\ndescription: Good one.\ninputs:\n  x: int\n---#}\n{{ x }}")
    _write(tmp_path / "sub" / "broken.j2", "{{ undeclared }}")
    _write(tmp_path / "notes.txt", "not a template")
    _write(tmp_path / ".hidden.j2", "hidden")
    infos = {info.name: info for info in TemplateEnv([tmp_path], include_bundled=False).list_templates()}
    assert set(infos) == {"good.j2", "sub/broken.j2"}
    good = infos["good.j2"]
    assert (good.description, good.error, list(good.inputs)) == ("Good one.", None, ["x"])
    assert good.version is not None and len(good.version) == 12
    assert infos["sub/broken.j2"].error is not None and "undeclared" in infos["sub/broken.j2"].error


def test_missing_template_and_missing_root(tmp_path: Path) -> None:
    env = TemplateEnv([tmp_path], include_bundled=False)
    with pytest.raises(TemplateError, match=r"'nope\.j2': not found") as info:
        env.get("nope.j2")
    assert str(tmp_path) in str(info.value)
    with pytest.raises(ConfigError, match="does not exist"):
        TemplateEnv([tmp_path / "missing"])


def test_missing_parent_template_is_a_template_error(tmp_path: Path) -> None:
    env = TemplateEnv([tmp_path], include_bundled=False)
    with pytest.raises(TemplateError, match=r"extends 'nope\.j2', which was not found"):
        env.from_string("{% extends 'nope.j2' %}", name="child")


def test_syntax_error_names_template_and_line(tmp_path: Path) -> None:
    _write(tmp_path / "bad.j2", "line1\nline2\n{% if %}\n")
    with pytest.raises(TemplateError) as info:
        TemplateEnv([tmp_path], include_bundled=False).get("bad.j2")
    assert (info.value.template, info.value.line) == ("bad.j2", 3)


# -- caching and versions ----------------------------------------------------------------


def test_second_get_returns_the_same_compiled_template(roots: tuple[Path, Path]) -> None:
    env = TemplateEnv(roots)
    first = env.get("main.j2")
    assert env.get("main.j2") is first
    assert env.from_string("hi {{ 1 }}") is env.from_string("hi {{ 1 }}")


def test_editing_the_file_invalidates_the_cache_and_changes_the_version(tmp_path: Path) -> None:
    _write(tmp_path / "t.j2", "one")
    env = TemplateEnv([tmp_path], include_bundled=False)
    before = env.get("t.j2")
    assert before.render_text() == "one"
    _write(tmp_path / "t.j2", "two")
    after = env.get("t.j2")
    assert after is not before
    assert after.render_text() == "two"
    assert after.version != before.version
    assert not before.is_current() and after.is_current()


def test_version_changes_when_an_included_partial_changes(roots: tuple[Path, Path]) -> None:
    _, second = roots
    env = TemplateEnv(roots)
    before = env.get("main.j2")
    assert before.dependencies == ["base.j2", "macros.j2", "partials/sig.j2"]
    _write(second / "partials" / "sig.j2", "{#---\ninputs:\n  who: str\n---#}\n~~ {{ who }}")
    after = env.get("main.j2")
    assert after is not before and after.version != before.version
    assert after.render_messages(who="Ann", items=[], question="Q")[0]["content"].endswith("~~ Ann")


def test_version_is_a_deterministic_content_hash(roots: tuple[Path, Path], tmp_path: Path) -> None:
    one, two = TemplateEnv(roots), TemplateEnv(roots)
    assert one.get("main.j2").version == two.get("main.j2").version
    assert len(one.get("main.j2").version) == 12
    assert one.from_string("a").version != one.from_string("b").version
    # A dynamic include cannot be resolved at load: its marker is part of the hash.
    dynamic_source = "{#---\ninputs:\n  name: str\n  who: str\n---#}\n{% include name %}"
    dynamic = one.from_string(dynamic_source)
    assert dynamic.render_text(name="partials/sig.j2", who="x") == "-- x"
    assert dynamic.dependencies == []
    # Same source, hashed with the "dynamic" marker: differs from the bare source hash, stable across envs.
    import hashlib

    assert dynamic.version != hashlib.sha256(dynamic_source.encode()).hexdigest()[:12]
    assert dynamic.version == two.from_string(dynamic_source).version


def test_a_partial_appearing_later_invalidates_the_parent(tmp_path: Path) -> None:
    _write(tmp_path / "t.j2", "A{% include 'late.j2' ignore missing %}")
    env = TemplateEnv([tmp_path], include_bundled=False)
    before = env.get("t.j2")
    assert before.render_text() == "A"
    _write(tmp_path / "late.j2", "B")
    after = env.get("t.j2")
    assert after.render_text() == "AB" and after.version != before.version


def test_default_env_and_render_use_settings(tmp_path: Path) -> None:
    _write(tmp_path / "hello.j2", "{#---\ninputs:\n  name: str\n---#}\nHello {{ name }}")
    settings = load_settings({"template_dirs": (str(tmp_path),), "render_timeout": 2.0}, environ={}, cwd=tmp_path)
    env = default_env(settings)
    assert env is default_env(settings)
    assert env.timeout == 2.0 and env.roots[0].path == tmp_path.resolve()
    assert env.get("hello.j2").render_text(name="Ann") == "Hello Ann"
    assert render("qa.j2", question="Why?")[-1] == {"role": "user", "content": "Question: Why?"}


def test_child_template_inherits_the_inputs_of_its_parent(tmp_path: Path) -> None:
    _write(
        tmp_path / "base.j2",
        "{#---\ninputs:\n  question: str\n  tone: {type: str, default: plain}\n---#}\n"
        '{% message "system" %}Tone: {{ tone }}.{% block extra %}{% endblock %}{% endmessage %}\n'
        '{% message "user" %}{% block user %}{{ question }}{% endblock %}{% endmessage %}',
    )
    _write(
        tmp_path / "child.j2",
        "{#---\ninputs:\n  extra: {type: str, default: ''}\n---#}\n"
        "{% extends 'base.j2' %}{% block extra %} {{ extra }}{% endblock %}"
        "{% block user %}Q: {{ question }}{% endblock %}",
    )
    child = TemplateEnv([tmp_path], include_bundled=False).get("child.j2")
    assert list(child.inputs) == ["question", "tone", "extra"]
    assert child.render_messages(question="Why?", extra="Be kind.") == [
        {"role": "system", "content": "Tone: plain. Be kind."},
        {"role": "user", "content": "Q: Why?"},
    ]
    with pytest.raises(TemplateError, match="missing required input 'question'"):
        child.render_messages()


def test_included_partial_gets_defaults_for_its_optional_inputs(tmp_path: Path) -> None:
    _write(
        tmp_path / "part.j2",
        "{#---\ninputs:\n  name: str\n  greeting: {type: str, default: Hello}\n---#}\n{{ greeting }} {{ name }}",
    )
    _write(tmp_path / "main.j2", "{#---\ninputs:\n  name: str\n---#}\n{% include 'part.j2' %}")
    _write(tmp_path / "main2.j2", "{#---\ninputs:\n  name: str\n  greeting: str\n---#}\n{% include 'part.j2' %}")
    env = TemplateEnv([tmp_path], include_bundled=False)
    assert env.get("main.j2").render_text(name="Ann") == "Hello Ann"
    assert env.get("main2.j2").render_text(name="Ann", greeting="Hi") == "Hi Ann"  # the includer's value wins


def test_circular_extends_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path / "a.j2", "{% extends 'b.j2' %}")
    _write(tmp_path / "b.j2", "{% extends 'a.j2' %}")
    with pytest.raises(TemplateError, match=r"circle: a.j2 -> b.j2 -> a.j2"):
        TemplateEnv([tmp_path], include_bundled=False).get("a.j2")
