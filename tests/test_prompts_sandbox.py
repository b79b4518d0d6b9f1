"""Sandbox escapes, dangerous values and template-root confinement all raise TemplateSecurityError."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from promptkit.errors import TemplateSecurityError
from promptkit.prompts import TemplateEnv

ANY_INPUT = "{#---\ninputs:\n  x: {type: any}\n---#}\n"


@pytest.fixture
def env(tmp_path: Path) -> TemplateEnv:
    return TemplateEnv([tmp_path], include_bundled=False)


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ self._TemplateReference__context }}",
        "{{ config }}",
        "{{ request }}",
        "{{ lipsum.__globals__ }}",
        "{{ joiner }}",
        "{{ ''['__class__'] }}",
        "{{ ''|attr('__class__') }}",
        "{{ x.__class__ }}",
    ],
)
def test_escape_is_refused_at_load(env: TemplateEnv, source: str) -> None:
    with pytest.raises(TemplateSecurityError) as info:
        env.from_string(ANY_INPUT + source, name="evil.j2")
    assert info.value.template == "evil.j2"
    assert info.value.line == 5  # the line after the 4-line header


@pytest.mark.parametrize(
    ("source", "value"),
    [
        # Attribute names that only exist at render time: the load-time check cannot see them.
        ("{{ x|attr(name) }}", "__class__"),
        ("{{ x[name] }}", "__class__"),
        ("{{ ''|attr(name) }}", "__class__"),
        ("{{ (x|attr(name))|attr('mro') }}", "__class__"),
        # str.format escapes (CVE-2024-56326 / CVE-2025-27516 family).
        ("{{ ''.format }}", "unused"),
        ("{{ '{0.__class__}'.format(x) }}", "unused"),
        ("{{ name.format_map({}) }}", "{0}"),
        ("{{ (''|attr(name)) }}", "format"),
        # Filters that look attributes up by name go through the same check.
        ("{{ [x]|map(attribute=name)|list }}", "__class__"),
        ("{{ [x]|sort(attribute=name) }}", "__len__"),
        # Mutating the data is refused by the immutable sandbox, loudly.
        ("{{ [].append(1) }}", "unused"),
    ],
)
def test_escape_is_refused_at_render(env: TemplateEnv, source: str, value: str) -> None:
    template = env.from_string("{#---\ninputs:\n  x: {type: any}\n  name: str\n---#}\n" + source, name="evil.j2")
    with pytest.raises(TemplateSecurityError) as info:
        template.render_messages(x="text", name=value)
    assert info.value.template == "evil.j2"
    assert info.value.line == 6


def test_stock_undefined_fallback_is_not_available(env: TemplateEnv) -> None:
    # The stock sandbox returns an Undefined for unsafe attributes, which `is defined` can probe.
    template = env.from_string("{#---\ninputs:\n  name: str\n---#}\n{{ 'yes' if (''|attr(name)) is defined }}")
    with pytest.raises(TemplateSecurityError):
        template.render_text(name="__class__")


@pytest.mark.parametrize("value", [os, os.system, subprocess.run, sys, eval, open, subprocess.Popen])
def test_modules_and_system_functions_are_refused_as_values(env: TemplateEnv, value: object) -> None:
    template = env.from_string(ANY_INPUT + "{{ x }}")
    with pytest.raises(TemplateSecurityError, match="input 'x'"):
        template.render_messages(x=value)


def test_dangerous_values_nested_in_containers_are_refused(env: TemplateEnv) -> None:
    template = env.from_string("{#---\ninputs:\n  x: {type: dict}\n---#}\n{{ x.tools[0] }}")
    with pytest.raises(TemplateSecurityError, match=r"x\['tools'\]\[0\]"):
        template.render_messages(x={"tools": [os.popen]})


def test_plain_data_and_safe_methods_still_work(env: TemplateEnv) -> None:
    template = env.from_string(
        "{#---\ninputs:\n  x: {type: dict}\n---#}\n{{ x.name.upper() }} {{ x['items']|join(',') }} {{ dict(a=1).a }}"
        " {{ range(3)|list|length }} {{ '%s-%s'|format(1, 2) }}"
    )
    assert template.render_text(x={"name": "ab", "items": [1, 2]}) == "AB 1,2 1 3 1-2"


def test_values_are_never_compiled_as_templates(env: TemplateEnv) -> None:
    template = env.from_string("{#---\ninputs:\n  x: str\n---#}\n{{ x }}")
    payload = "{{ ''.__class__.__mro__ }}{% for a in range(10) %}A{% endfor %}"
    assert template.render_text(x=payload) == payload


# -- template roots ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../outside.j2", "sub/../../outside.j2", "/etc/passwd", "..", "a\\..\\b.j2"])
def test_names_that_leave_the_roots_are_refused(env: TemplateEnv, tmp_path: Path, name: str) -> None:
    (tmp_path.parent / "outside.j2").write_text("secret")
    with pytest.raises(TemplateSecurityError):
        env.get(name)


def test_include_that_leaves_the_roots_is_refused(env: TemplateEnv, tmp_path: Path) -> None:
    (tmp_path.parent / "outside.j2").write_text("secret")
    (tmp_path / "main.j2").write_text("{% include '../outside.j2' %}")
    with pytest.raises(TemplateSecurityError, match=r"\.\."):
        env.get("main.j2").render_text()


def test_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("the secret")
    (root / "link.j2").symlink_to(secret)
    (root / "dirlink").symlink_to(tmp_path)
    (root / "inside.j2").write_text("fine")
    (root / "alias.j2").symlink_to(root / "inside.j2")
    env = TemplateEnv([root], include_bundled=False)
    with pytest.raises(TemplateSecurityError, match="symlink"):
        env.get("link.j2")
    with pytest.raises(TemplateSecurityError, match="symlink"):
        env.get("dirlink/secret.txt")
    assert env.get("alias.j2").render_text() == "fine"  # a link that stays inside the root is fine


def test_model_fields_holding_callables_still_go_through_the_sandbox(env: TemplateEnv) -> None:
    from typing import Any

    from pydantic import BaseModel

    class Holder(BaseModel):
        text: str = "plain"
        fmt: Any = None
        fn: Any = None

    holder = Holder(fmt="{0.__class__}".format, fn=os.getcwd)
    template = env.from_string(ANY_INPUT + "{{ x.text }}")
    assert template.render_text(x=holder) == "plain"  # fast path for plain fields
    with pytest.raises(TemplateSecurityError, match="format"):
        env.from_string(ANY_INPUT + "{{ x.fmt('') }}").render_text(x=holder)
    with pytest.raises(TemplateSecurityError, match="getcwd"):
        env.from_string(ANY_INPUT + "{{ x.fn() }}").render_text(x=holder)
