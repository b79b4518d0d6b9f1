"""FakeLM answer modes under each DSPy adapter and module, plus n, recording, cache, usage, history, async, threads."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import dspy
import pytest

from promptkit.errors import FakeLMError
from promptkit.lm import FakeCall, FakeLM

ADAPTERS = [dspy.ChatAdapter, dspy.JSONAdapter, dspy.XMLAdapter]


class CapitalQA(dspy.Signature):
    """Answer in French."""

    question: str = dspy.InputField()
    answer: str = dspy.OutputField()


def reply_has_adapter_format(adapter: str, reply: str, field: str) -> bool:
    """The text the FakeLM sent is in the format the adapter parses (so parsing really ran)."""
    if adapter == "ChatAdapter":
        return f"[[ ## {field} ## ]]" in reply
    if adapter == "JSONAdapter":
        return field in json.loads(reply)
    return f"<{field}>" in reply


def build(module_kind: str, signature: str) -> dspy.Module:
    return dspy.Predict(signature) if module_kind == "predict" else dspy.ChainOfThought(signature)


# -- (a) list -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("adapter_cls", ADAPTERS)
@pytest.mark.parametrize("module_kind", ["predict", "cot"])
def test_list_answers_parse_into_typed_outputs(adapter_cls: type[dspy.Adapter], module_kind: str) -> None:
    extra = {"reasoning": "six times seven"} if module_kind == "cot" else {}
    fake = FakeLM([{**extra, "answer": 42}, {**extra, "answer": "7"}])
    program = build(module_kind, "question -> answer: int")
    with dspy.context(lm=fake, adapter=adapter_cls()):
        first = program(question="6*7?")
        second = program(question="3+4?")
    assert (first.answer, second.answer) == (42, 7)
    assert isinstance(first.answer, int)
    if module_kind == "cot":
        assert first.reasoning == "six times seven"
    calls = fake.calls
    assert [c.adapter for c in calls] == [adapter_cls.__name__] * 2
    assert [c.index for c in calls] == [0, 1]
    assert calls[0].inputs == {"question": "6*7?"}
    assert calls[0].output_fields == (["reasoning", "answer"] if module_kind == "cot" else ["answer"])
    assert all(reply_has_adapter_format(adapter_cls.__name__, c.reply or "", "answer") for c in calls)
    assert fake.remaining == 0


def test_raw_string_answers_are_returned_verbatim() -> None:
    fake = FakeLM(["[[ ## answer ## ]]\nverbatim\n\n[[ ## completed ## ]]"])
    with dspy.context(lm=fake):
        assert dspy.Predict("question -> answer")(question="q").answer == "verbatim"


def test_outside_an_adapter_dict_answers_become_key_value_lines() -> None:
    fake = FakeLM([{"answer": 1, "note": "x"}, "plain"])
    assert fake("hi") == ["answer: 1\nnote: x"]
    assert fake("again") == ["plain"]
    assert fake.calls[0].adapter is None and fake.calls[0].inputs == {}


# -- (b) mapping --------------------------------------------------------------------------------------
@pytest.mark.parametrize("adapter_cls", ADAPTERS)
def test_mapping_matches_prompt_substrings(adapter_cls: type[dspy.Adapter]) -> None:
    fake = FakeLM({"France": {"answer": "Paris"}, "Spain": {"answer": "Madrid"}})
    qa = dspy.Predict("question -> answer")
    with dspy.context(lm=fake, adapter=adapter_cls()):
        assert qa(question="Capital of Spain?").answer == "Madrid"
        assert qa(question="Capital of France?").answer == "Paris"


def test_mapping_prefers_the_last_user_message_then_the_whole_prompt() -> None:
    # "French" occurs only in the system prompt (the signature's instructions), "Italy" in the user turn.
    fake = FakeLM(mapping={"French": {"answer": "from-instructions"}, "Italy": {"answer": "Rome"}})
    qa = dspy.Predict(CapitalQA)
    with dspy.context(lm=fake):
        assert qa(question="Capital of Italy?").answer == "Rome"
        assert qa(question="Capital of Peru?").answer == "from-instructions"


def test_mapping_without_a_match_lists_the_keys() -> None:
    fake = FakeLM({"France": {"answer": "Paris"}, "Spain": {"answer": "Madrid"}})
    with dspy.context(lm=fake), pytest.raises(FakeLMError) as info:
        dspy.Predict("question -> answer")(question="Capital of Peru?")
    assert "'France'" in str(info.value) and "'Spain'" in str(info.value)


# -- (c) callable -------------------------------------------------------------------------------------
@pytest.mark.parametrize("adapter_cls", ADAPTERS)
@pytest.mark.parametrize("module_kind", ["predict", "cot"])
def test_callable_receives_the_call(adapter_cls: type[dspy.Adapter], module_kind: str) -> None:
    seen: list[FakeCall] = []

    def answer(call: FakeCall) -> dict[str, Any]:
        seen.append(call)
        words = call.inputs["text"].split()
        return {"reasoning": "counted", "count": len(words)}

    program = build(module_kind, "text -> count: int")
    with dspy.context(lm=FakeLM(answer), adapter=adapter_cls()):
        result = program(text="one two three", config={"temperature": 0.4})
    assert result.count == 3
    call = seen[0]
    assert call.signature is not None and "count" in call.signature.output_fields
    assert call.adapter == adapter_cls.__name__
    assert call.config["temperature"] == 0.4 and call.config["n"] == 1
    assert [m["role"] for m in call.messages][:1] == ["system"] and call.messages[-1]["role"] == "user"
    assert "one two three" in call.last_user_message


def test_callable_may_return_raw_text() -> None:
    fake = FakeLM(fn=lambda call: "[[ ## answer ## ]]\n" + call.inputs["question"][::-1])
    with dspy.context(lm=fake):
        assert dspy.Predict("question -> answer")(question="abc").answer == "cba"


# -- (d) echo -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("adapter_cls", ADAPTERS)
def test_echo_fills_every_field_deterministically(adapter_cls: type[dspy.Adapter]) -> None:
    question = "Why is the sky blue on a clear day, and why are sunsets red instead of blue? " * 2
    qa = dspy.Predict("question, context -> answer, confidence: float, sources: list[str]")
    with dspy.context(lm=FakeLM.echo(), adapter=adapter_cls()):
        first = qa(question=question, context="ignored")
        again = qa(question=question, context="ignored")
    expected = "[fake] " + " ".join(question.split())[:60].rstrip()
    assert first.answer == expected
    assert first.sources == [expected]
    assert isinstance(first.confidence, float)
    assert (again.answer, again.confidence) == (first.answer, first.confidence)


def test_echo_outside_an_adapter() -> None:
    assert FakeLM.echo()("ping") == ["[fake] ping"]


# -- n > 1 --------------------------------------------------------------------------------------------
def test_each_of_n_samples_consumes_its_own_answer() -> None:
    fake = FakeLM([{"answer": 1}, {"answer": 2}, {"answer": 3}])
    with dspy.context(lm=fake):
        result = dspy.Predict("question -> answer: int")(question="q", config={"n": 3})
    assert result.completions.answer == [1, 2, 3]
    assert [c.config["n"] for c in fake.calls] == [3, 3, 3]
    assert fake.remaining == 0


# -- cache, usage, history ----------------------------------------------------------------------------
def test_cache_is_off_by_default() -> None:
    fake = FakeLM([{"answer": "a"}, {"answer": "b"}])
    qa = dspy.Predict("question -> answer")
    with dspy.context(lm=fake):
        assert [qa(question="same").answer, qa(question="same").answer] == ["a", "b"]


def test_cache_on_serves_repeated_calls_without_the_engine() -> None:
    fake = FakeLM([{"answer": "first"}, {"answer": "second"}], cache=True)
    qa = dspy.Predict("question -> answer")
    with dspy.context(lm=fake):
        assert qa(question="cached?").answer == "first"
        assert qa(question="cached?").answer == "first"
        assert len(fake.calls) == 1
        assert qa(question="a different question").answer == "second"
    assert len(fake.calls) == 2
    # Another FakeLM with the same script must not be served this one's cached answers.
    other = FakeLM([{"answer": "other"}], cache=True)
    with dspy.context(lm=other):
        assert qa(question="cached?").answer == "other"


def test_explicit_request_calls_are_cached_per_fake() -> None:
    from dspy.lm15 import Message, Request

    first = FakeLM(["one", "two"], cache=True)
    request = Request(model=first.model, messages=(Message.user("explicit request"),))
    assert first(request).text == "one"
    assert first(request).text == "one"  # served from DSPy's cache
    assert len(first.calls) == 1
    second = FakeLM(["other"], cache=True)  # same model name and request, different FakeLM
    assert second(request).text == "other"


def test_usage_counts_whitespace_tokens() -> None:
    fake = FakeLM([{"answer": "four"}, {"answer": "five"}])
    qa = dspy.Predict("question -> answer")
    with dspy.context(lm=fake), dspy.track_usage() as tracker:
        qa(question="two plus two?")
    call = fake.calls[0]
    usage = tracker.get_total_tokens()[fake.model]
    assert usage["prompt_tokens"] == len(call.prompt.split())
    assert usage["completion_tokens"] == len((call.reply or "").split())
    with dspy.context(lm=fake, track_usage=True):
        prediction = qa(question="two plus three?")
    assert prediction.get_lm_usage()[fake.model]["total_tokens"] > 0


def test_history_records_each_call() -> None:
    fake = FakeLM([{"answer": "x"}, {"answer": "y"}])
    qa = dspy.Predict("question -> answer")
    with dspy.context(lm=fake):
        qa(question="one")
        qa(question="two")
    assert len(fake.history) == 2
    assert fake.history[-1]["outputs"] == [fake.calls[-1].reply]
    assert "two" in fake.history[-1]["messages"][-1]["content"]


# -- async and threads --------------------------------------------------------------------------------
def test_async_calls_use_the_adapter_format() -> None:
    fake = FakeLM({"France": {"answer": 1}, "Spain": {"answer": 2}})
    qa = dspy.Predict("question -> answer: int")

    async def ask_both() -> tuple[int, int]:
        with dspy.context(lm=fake, adapter=dspy.JSONAdapter()):
            a, b = await asyncio.gather(qa.acall(question="France?"), qa.acall(question="Spain?"))
        return a.answer, b.answer

    assert asyncio.run(ask_both()) == (1, 2)
    assert [c.adapter for c in fake.calls] == ["JSONAdapter", "JSONAdapter"]


def test_threads_consume_each_answer_once() -> None:
    answers = [{"answer": i} for i in range(12)]
    fake = FakeLM(answers)
    qa = dspy.Predict("question -> answer: int")
    with dspy.context(lm=fake):
        results = dspy.Parallel(num_threads=4, disable_progress_bar=True)(
            [(qa, {"question": f"q{i}"}) for i in range(12)]
        )
    assert sorted(r.answer for r in results) == list(range(12))
    assert sorted(c.index for c in fake.calls) == list(range(12))


def test_copies_share_the_script_and_the_call_log() -> None:
    fake = FakeLM([{"answer": "a"}, {"answer": "b"}])
    warmer = fake.copy(temperature=0.9)
    assert isinstance(warmer, FakeLM)
    with dspy.context(lm=warmer):
        assert dspy.Predict("question -> answer")(question="q").answer == "a"
    assert len(fake.calls) == 1 and fake.calls[0].config["temperature"] == 0.9
    assert fake.remaining == 1
    program = dspy.Predict("question -> answer")
    program.lm = fake
    copied = program.deepcopy()  # what optimizers do to a student program
    assert copied.lm is not fake and copied.lm.calls is fake.calls
    assert copied(question="q").answer == "b" and fake.remaining == 0
