"""The registry's template lists cannot drift: every template a technique renders while it is built
and run on FakeLM is listed in its entry of techniques.yaml, and every listed template is rendered
(some only under an option, given below)."""

from __future__ import annotations

from typing import Any

import pytest

from promptkit import prompts, techniques
from promptkit.adapter import TemplateAdapter
from promptkit.techniques.registry import example_options
from promptkit.techniques.sandbox import detect_sandbox
from tests.test_techniques_registry import _program_answer

# Options under which a technique renders the templates its defaults do not.
VARIANTS: dict[str, list[dict[str, Any]]] = {
    "rephrase_and_respond": [{"two_step": True}],
    "auto_cot": [{"questions": ["What is 2 + 3?", "What is 4 * 5?"], "k": 1}],
}


class RecordingEnv:
    """The template environment, noting every template asked for."""

    def __init__(self, env: Any, seen: set[str]) -> None:
        self.env, self.seen = env, seen

    def get(self, name: str) -> Any:
        self.seen.add(name)
        return self.env.get(name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)


@pytest.mark.parametrize("info", techniques.list(), ids=[t.id for t in techniques.list()])
def test_listed_templates_are_the_rendered_ones(
    info: techniques.TechniqueInfo, fake_lm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if "code interpreter" in info.needs and detect_sandbox() is None:
        pytest.skip("no sandbox on this machine")
    seen: set[str] = set()
    real = prompts.default_env
    monkeypatch.setattr(prompts, "default_env", lambda: RecordingEnv(real(), seen))
    fake_lm(fn=_program_answer, adapter=TemplateAdapter())
    for options in VARIANTS.get(info.id, [{}]) + ([{}] if info.id in VARIANTS and not info.requires else []):
        program = info.build(info.example_signature, **{**example_options(info), **options})
        if info.fits_question_answer and info.example_signature == techniques.DEFAULT_SIGNATURE:
            program(question="What is six times seven?")  # templates rendered at run time (e.g. mathprompter)
    rendered = {name for name in seen if name.startswith("techniques/") and "/_partials/" not in name}
    listed = set(info.templates)
    assert rendered == listed, (
        f"rendered, not listed: {sorted(rendered - listed)}; listed, not rendered: {sorted(listed - rendered)}"
    )
