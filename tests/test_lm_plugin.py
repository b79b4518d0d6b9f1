"""The pytest plugin's ``fake_lm`` fixture: activates a FakeLM for the test and restores DSPy's settings after."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

INNER_TESTS = """
import asyncio

import dspy

from promptkit.lm import FakeLM

BEFORE = (dspy.settings.lm, dspy.settings.adapter)


def test_scripted_answers_with_an_adapter(fake_lm):
    fake = fake_lm([{"answer": 3}], adapter=dspy.JSONAdapter())
    assert isinstance(fake, FakeLM)
    assert dspy.settings.lm is fake and isinstance(dspy.settings.adapter, dspy.JSONAdapter)
    assert dspy.Predict("question -> answer: int")(question="1+2?").answer == 3
    assert fake.calls[0].adapter == "JSONAdapter"


def test_settings_restored_after_the_previous_test():
    assert (dspy.settings.lm, dspy.settings.adapter) == BEFORE


def test_mapping_fn_faults_and_echo(fake_lm):
    mapped = fake_lm(mapping={"France": {"answer": "Paris"}})
    assert dspy.Predict("question -> answer")(question="France?").answer == "Paris"
    computed = fake_lm(fn=lambda call: {"answer": call.inputs["question"].upper()}, faults=["rate_limit"])
    assert dspy.settings.lm is computed  # the latest factory call wins
    assert dspy.Predict("question -> answer")(question="abc").answer == "ABC"
    assert [c.fault for c in computed.calls] == ["rate_limit", None] and len(mapped.calls) == 1
    echo = fake_lm()
    assert echo.mode == "echo"


def test_async_test_body(fake_lm):
    async def body():
        fake_lm([{"answer": "inside a task"}])
        return (await dspy.Predict("question -> answer").acall(question="q")).answer

    assert asyncio.run(body()) == "inside a task"


def test_settings_restored_at_the_end():
    assert (dspy.settings.lm, dspy.settings.adapter) == BEFORE
"""


def test_fake_lm_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=INNER_TESTS)
    # Block the installed entry point (if any) so the plugin is registered exactly once, by module name.
    result = pytester.runpytest_inprocess("-p", "no:promptkit", "-p", "promptkit.lm.pytest_plugin", "-q")
    result.assert_outcomes(passed=5)
