"""Render budgets: output size and render time are bounded; normal templates are unaffected."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from promptkit.errors import ConfigError, TemplateBudgetError
from promptkit.prompts import TemplateEnv

N = "{#---\ninputs:\n  n: {type: int, default: 100000}\n---#}\n"


@pytest.fixture
def env(tmp_path: Path) -> TemplateEnv:
    return TemplateEnv([tmp_path], include_bundled=False, timeout=0.5, max_bytes=1_000_000)


def _elapsed(fn: object) -> float:
    start = time.monotonic()
    with pytest.raises(TemplateBudgetError) as info:
        fn()  # type: ignore[operator]
    elapsed = time.monotonic() - start
    assert info.value.template is not None
    return elapsed


def test_nested_loops_without_output_stop_at_the_deadline(env: TemplateEnv) -> None:
    # 10^10 iterations: minutes of CPU, and not one byte of output for the collector to see.
    template = env.from_string(N + "{% for a in range(n) %}{% for b in range(n) %}{% endfor %}{% endfor %}", "spin.j2")
    assert _elapsed(template.render_messages) < 2.0


def test_loops_over_data_and_recursive_loops_are_bounded(env: TemplateEnv) -> None:
    data = "{#---\ninputs:\n  xs: list\n---#}\n"
    loops = "{% for a in xs %}{% for b in xs %}{% for c in xs %}{% endfor %}{% endfor %}{% endfor %}"
    template = env.from_string(data + loops)
    assert _elapsed(lambda: template.render_messages(xs=list(range(3000)))) < 2.0
    tree: dict[str, Any] = {"children": []}
    node = tree
    for _ in range(50):  # a wide tree walked by a recursive loop: each level fans out
        node["children"] = [{"children": []} for _ in range(3)]
        node = node["children"][0]
    recursive = env.from_string(
        "{#---\ninputs:\n  t: dict\n---#}\n"
        "{% for a in range(100000) %}{% for n in [t] recursive %}{{ loop(n.children) }}{% endfor %}{% endfor %}"
    )
    assert _elapsed(lambda: recursive.render_messages(t=tree)) < 2.0


def test_infinite_macro_recursion_is_a_budget_error(env: TemplateEnv) -> None:
    template = env.from_string("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "rec.j2")
    # Either limit may trip first on a loaded machine: the recursion depth or the time budget.
    with pytest.raises(TemplateBudgetError, match=r"recursion|time") as info:
        template.render_messages()
    assert info.value.template == "rec.j2"


def test_large_output_fails_fast(env: TemplateEnv) -> None:
    # Ten megabytes wanted, one allowed: the collector stops at the first megabyte.
    template = env.from_string(N + "{% for i in range(n) %}{{ 'x' * 100 }}{% endfor %}", "big.j2")
    start = time.monotonic()
    with pytest.raises(TemplateBudgetError, match="larger than 1000000 bytes"):
        template.render_messages()
    assert time.monotonic() - start < 0.5


def test_large_values_are_counted_in_bytes(env: TemplateEnv) -> None:
    template = env.from_string("{#---\ninputs:\n  x: str\n---#}\n{{ x }}")
    assert template.render_text(x="é" * 400_000)  # 800 KB in UTF-8: under the limit
    with pytest.raises(TemplateBudgetError):
        template.render_text(x="é" * 600_000)  # 1.2 MB in UTF-8, though only 600k characters


def test_string_and_power_operators_cannot_build_huge_values(env: TemplateEnv) -> None:
    for source in ["{{ 'x' * 10**9 }}", "{{ [1] * 10**9 }}", "{{ 10 ** (10 ** 8) }}"]:
        with pytest.raises(TemplateBudgetError):
            env.from_string(source).render_messages()
    assert env.from_string("{{ 'ab' * 3 }} {{ 2 ** 10 }} {{ 3 * 4 }}").render_text() == "ababab 1024 12"


def test_per_call_limits_override_the_env(env: TemplateEnv) -> None:
    template = env.from_string(N + "{% for i in range(n) %}x{% endfor %}")
    assert len(template.render_text(n=5000)) == 5000
    with pytest.raises(TemplateBudgetError, match="larger than 100 bytes"):
        template.with_limits(max_bytes=100).render_text(n=5000)
    assert len(template.render_text(n=5000)) == 5000  # the original keeps the env's budget
    slow = env.from_string(N + "{% for a in range(n) %}{% for b in range(n) %}{% endfor %}{% endfor %}")
    start = time.monotonic()
    with pytest.raises(TemplateBudgetError, match=r"longer than 0\.05 s"):
        slow.with_limits(timeout=0.05).render_text()
    assert time.monotonic() - start < 0.5


def test_normal_templates_are_unaffected(env: TemplateEnv) -> None:
    template = env.from_string(N + "{% for i in range(n) %}{{ i }},{% endfor %}")
    text = template.render_text(n=50_000)
    assert text.startswith("0,1,2,") and text.endswith("49999,")
    assert len(text.encode()) < 1_000_000


def test_invalid_limits_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must be positive"):
        TemplateEnv([tmp_path], timeout=0)
    with pytest.raises(ConfigError, match="must be positive"):
        TemplateEnv([tmp_path]).get("qa.j2").with_limits(max_bytes=-1)


def test_inputs_may_be_named_like_budget_settings(env: TemplateEnv) -> None:
    template = env.from_string("{#---\ninputs:\n  timeout: int\n  max_bytes: int\n---#}\n{{ timeout }}/{{ max_bytes }}")
    assert template.render_text(timeout=3, max_bytes=10) == "3/10"
