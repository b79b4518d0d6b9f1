"""FakeLM fault injection, exhaustion and bad scripts: the errors a user sees are the real ones."""

from __future__ import annotations

import asyncio

import dspy
import pytest
from dspy.utils.exceptions import LMError, LMRateLimitError, LMServerError, LMTimeoutError

from promptkit.errors import BackendUnavailableError, FakeLMError, InputError
from promptkit.lm import FakeLM

QA = "question -> answer"
TRANSIENT = [("rate_limit", LMRateLimitError), ("timeout", LMTimeoutError), ("server_error", LMServerError)]


@pytest.mark.parametrize(("fault", "dspy_error"), TRANSIENT)
def test_transient_fault_is_retried_by_dspy_then_succeeds(fault: str, dspy_error: type[LMError]) -> None:
    fake = FakeLM([{"answer": "after retry"}], faults=[fault])
    with dspy.context(lm=fake):
        assert dspy.Predict(QA)(question="q").answer == "after retry"
    assert [c.fault for c in fake.calls] == [fault, None]
    assert fake.calls[0].reply is None and fake.remaining == 0


@pytest.mark.parametrize(("fault", "dspy_error"), TRANSIENT)
def test_transient_fault_surfaces_as_retryable_dspy_error(fault: str, dspy_error: type[LMError]) -> None:
    fake = FakeLM([{"answer": "unused"}], faults=[fault], num_retries=0)
    with dspy.context(lm=fake), pytest.raises(Exception) as info:
        dspy.Predict(QA)(question="q")
    error = info.value
    if fault == "timeout":
        # Same as a real route: a timeout that outlasts DSPy's retries is reported as promptkit's
        # BackendUnavailableError, raised from DSPy's (retryable) LMTimeoutError.
        assert isinstance(error, BackendUnavailableError) and "timeout" in str(error)
        error = error.__cause__  # type: ignore[assignment]
    assert isinstance(error, dspy_error)
    assert dspy.is_retryable_lm_error(error)
    assert fake.remaining == 1  # a fault never consumes a scripted answer


def test_retries_are_bounded() -> None:
    fake = FakeLM([{"answer": "never"}], faults=["rate_limit"] * 3, num_retries=2)
    with dspy.context(lm=fake), pytest.raises(LMRateLimitError):
        dspy.Predict(QA)(question="q")
    assert len(fake.calls) == 3


def test_faults_apply_in_sequence() -> None:
    fake = FakeLM([{"answer": "a"}, {"answer": "b"}], faults=[None, "timeout"])
    with dspy.context(lm=fake):
        assert dspy.Predict(QA)(question="1").answer == "a"
        assert dspy.Predict(QA)(question="2").answer == "b"
    assert [c.fault for c in fake.calls] == [None, "timeout", None]


@pytest.mark.parametrize(
    "adapter",
    [
        dspy.ChatAdapter(use_json_adapter_fallback=False),
        dspy.JSONAdapter(),
        dspy.XMLAdapter(use_json_adapter_fallback=False),
    ],
)
def test_malformed_output_is_a_parse_error(adapter: dspy.Adapter) -> None:
    fake = FakeLM([{"answer": "kept"}], faults=["malformed"])
    with dspy.context(lm=fake, adapter=adapter), pytest.raises(dspy.AdapterParseError):
        dspy.Predict(QA)(question="q")
    assert fake.remaining == 1  # malformed does not consume a scripted answer


def test_malformed_output_triggers_chat_adapters_json_fallback() -> None:
    fake = FakeLM([{"answer": 5}], faults=["malformed"])
    with dspy.context(lm=fake):
        assert dspy.Predict("question -> answer: int")(question="q").answer == 5
    assert [(c.adapter, c.fault) for c in fake.calls] == [("ChatAdapter", "malformed"), ("JSONAdapter", None)]


def test_inject_queues_faults_before_scripted_ones() -> None:
    fake = FakeLM([{"answer": "ok"}], faults=["server_error"], num_retries=3)
    fake.inject("timeout", times=2)
    with dspy.context(lm=fake):
        assert dspy.Predict(QA)(question="q").answer == "ok"
    assert [c.fault for c in fake.calls] == ["timeout", "timeout", "server_error", None]


def test_unknown_fault_name_is_rejected() -> None:
    with pytest.raises(InputError, match="rate_limit"):
        FakeLM([{"answer": "x"}], faults=["ratelimit"])
    with pytest.raises(InputError):
        FakeLM([{"answer": "x"}]).inject("explode")


# -- exhaustion and script errors reach the user as FakeLMError ---------------------------------------
def test_running_out_of_answers_raises_fake_lm_error() -> None:
    fake = FakeLM([{"answer": "one"}, {"answer": "two"}])
    qa = dspy.Predict(QA)
    with dspy.context(lm=fake):
        qa(question="1")
        qa(question="2")
        with pytest.raises(FakeLMError, match="ran out of answers after 2 calls; add more answers") as info:
            qa(question="3")
    assert not isinstance(info.value, LMError)  # not wrapped as DSPy's LMUnexpectedError
    with pytest.raises(FakeLMError):
        fake("direct call")
    with pytest.raises(FakeLMError):
        asyncio.run(fake.acall("async call"))


def test_copy_keeps_error_unwrapping() -> None:
    copied = FakeLM([]).copy(temperature=0.5)
    with pytest.raises(FakeLMError):
        copied("hi")


def test_answer_missing_an_output_field_names_it() -> None:
    fake = FakeLM([{"answer": "no reasoning given"}])
    with dspy.context(lm=fake), pytest.raises(FakeLMError, match="reasoning"):
        dspy.ChainOfThought(QA)(question="q")


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {}),  # nothing scripted
        (("just a string",), {}),  # a bare string, not a list
        (([{"answer": "x"}],), {"fn": lambda call: "y"}),  # two modes at once
    ],
)
def test_bad_scripts_are_input_errors(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    with pytest.raises(InputError, match="FakeLM"):
        FakeLM(*args, **kwargs)  # type: ignore[arg-type]


def test_answer_of_wrong_type_is_reported() -> None:
    fake = FakeLM([123])  # type: ignore[list-item]
    with dspy.context(lm=fake), pytest.raises(FakeLMError, match="int"):
        dspy.Predict(QA)(question="q")
