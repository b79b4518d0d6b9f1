"""``promptkit.lm.choose_lm``: the one function that picks the LM to run with, and its precedence."""

from __future__ import annotations

import dspy
import pytest

from promptkit.lm import FakeLM, choose_lm


def test_an_lm_object_is_used_as_is() -> None:
    given = FakeLM(["x"])
    with dspy.context(lm=FakeLM(["configured"])):
        assert choose_lm(given) is given


def test_nothing_named_means_the_configured_lm_else_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    configured = FakeLM(["configured"])
    monkeypatch.setenv("PROMPTKIT_MODEL", "fake")
    with dspy.context(lm=configured):
        assert choose_lm() is configured
        assert choose_lm(None, configured=False) is not configured  # promptkit.configure(None): the settings' model
        assert isinstance(choose_lm(None, configured=False), FakeLM)
        named = choose_lm("fake")  # a model string is built even when an LM is configured
        assert named is not configured and named.model == "fake/echo"
        assert choose_lm(None, temperature=0.5) is not configured  # an option names a new LM too
    with dspy.context(lm=None):
        assert choose_lm().model == "fake/echo"  # nothing configured: PROMPTKIT_MODEL


def test_a_bad_model_string_is_still_the_factorys_error() -> None:
    from promptkit.errors import InputError

    with pytest.raises(InputError):
        choose_lm("")
