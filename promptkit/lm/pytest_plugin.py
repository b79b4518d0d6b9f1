"""pytest plugin (entry point ``pytest11: promptkit``): the ``fake_lm`` fixture.

pytest loads this module for every test run of any project that has promptkit installed, so it imports
nothing heavy at load time: DSPy and the FakeLM are imported when a test first uses the fixture.

    def test_answer(fake_lm):
        fake = fake_lm([{"answer": "Paris"}])          # active via dspy.context for the rest of the test
        assert dspy.Predict("question -> answer")(question="France?").answer == "Paris"
        assert fake.calls[0].inputs == {"question": "France?"}
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from promptkit.lm.fake import FakeLM

FakeLMFactory = Callable[..., "FakeLM"]


@pytest.fixture
def fake_lm() -> Iterator[FakeLMFactory]:
    """A factory ``fake_lm(answers=None, *, mapping=None, fn=None, faults=(), adapter=None, **kw) -> FakeLM``.

    The FakeLM it builds is activated with ``dspy.context(lm=fake, adapter=adapter)`` until the test ends
    (``adapter=None`` keeps the adapter already configured). With no answers, mapping or fn it echoes.
    """
    contexts = contextlib.ExitStack()

    def factory(
        answers: Any = None,
        *,
        mapping: Mapping[str, Any] | None = None,
        fn: Callable[..., Any] | None = None,
        faults: Iterable[str | None] = (),
        adapter: Any = None,
        **kwargs: Any,
    ) -> FakeLM:
        import dspy

        from promptkit.lm.fake import FakeLM

        if answers is None and mapping is None and fn is None:
            fake = FakeLM.echo(faults=faults, **kwargs)
        else:
            fake = FakeLM(answers, mapping=mapping, fn=fn, faults=faults, **kwargs)
        overrides: dict[str, Any] = {"lm": fake}
        if adapter is not None:
            overrides["adapter"] = adapter
        contexts.enter_context(dspy.context(**overrides))
        return fake

    yield factory
    # ValueError: the factory ran inside another context (an async test's task); that context, and the
    # DSPy settings set in it, are already gone, so there is nothing left to restore.
    with contextlib.suppress(ValueError):
        contexts.close()
