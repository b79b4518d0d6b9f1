"""Running chains on FakeLM: data flow, result contents, re-asks, failures, concurrency, LM calls."""

from __future__ import annotations

import itertools
import json
import threading
import time
import warnings
from pathlib import Path

import dspy
import pytest

from promptkit.chains import Chain, ChainStepError, Step
from promptkit.chains.lmcall import build_request, request_slots
from promptkit.errors import FakeLMError, InputError
from promptkit.lm import FakeCall, FakeLM
from promptkit.parsing import response_format_for

pytestmark = pytest.mark.usefixtures("memory_only_cache")


MAPPING_SCHEMA = {"type": "object", "additionalProperties": {"type": "string"}, "minProperties": 1}


def two_step_chain(**classify: object) -> Chain:
    return Chain(
        steps=[
            Step(name="extract", prompt="List the problems in: {{ text }}", output="list", separator=";"),
            Step(
                name="classify",
                prompt="Categorize each:\n{% for p in problems %}- {{ p }}\n{% endfor %}",
                output="json",
                schema=MAPPING_SCHEMA,
                inputs={"problems": "extract"},
                **classify,  # type: ignore[arg-type]
            ),
        ],
        inputs=["text"],
    )


def test_each_step_sees_the_previous_output_and_the_result_records_everything() -> None:
    fake = FakeLM(["slow network; double charge", '{"slow network": "reliability", "double charge": "billing"}'])
    result = two_step_chain().run(fake, text="The network is slow and I was charged twice.")

    extract, classify = result["extract"], result["classify"]
    assert extract.messages == [
        {"role": "user", "content": "List the problems in: The network is slow and I was charged twice."}
    ]
    assert extract.raw == "slow network; double charge"
    assert extract.output == ["slow network", "double charge"]
    for item in extract.output:
        assert f"- {item}" in classify.messages[-1]["content"]
    assert classify.output == {"slow network": "reliability", "double charge": "billing"}
    assert result.output == classify.output  # the one step nothing else uses
    # tokens come from the LM's usage (FakeLM: whitespace-split counts of prompt and reply)
    assert extract.prompt_tokens == len(fake.calls[0].prompt.split())
    assert extract.completion_tokens == len(extract.raw.split())
    assert result.tokens["total"] == sum(s.tokens["total"] for s in result)
    assert 0 <= extract.started <= extract.finished <= classify.started <= classify.finished
    assert extract.latency == pytest.approx(extract.finished - extract.started)
    assert extract.retries == classify.retries == 0
    assert len(extract.template_version) == 12 and extract.template_version != classify.template_version
    assert result.model == fake.model
    data = json.loads(json.dumps(result.to_dict()))
    assert [s["name"] for s in data["steps"]] == ["extract", "classify"]
    assert data["steps"][1]["output"] == classify.output and data["inputs"] == {"text": result.inputs["text"]}


def test_lm_calls_use_the_request_api_without_deprecation_warnings() -> None:
    fake = FakeLM(["a; b", '{"a": "x"}'])
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        two_step_chain().run(fake, text="t")
    request = fake.history[-1]["request"]
    assert isinstance(request, dspy.lm15.Request)
    assert fake.history[-1]["usage"]  # DSPy saw the usage too


def test_invalid_json_is_reasked_with_the_validation_error() -> None:
    fake = FakeLM(["a; b", "no json here, sorry", '{"a": "x", "b": "y"}'])
    result = two_step_chain().run(fake, text="t")
    classify = result["classify"]
    assert classify.retries == 1
    assert classify.attempts == [{"raw": "no json here, sorry", "error": classify.attempts[0]["error"]}]
    assert "no JSON" in classify.attempts[0]["error"]
    reask = fake.calls[2].messages
    assert reask[:-2] == classify.messages
    assert reask[-2] == {"role": "assistant", "content": "no json here, sorry"}
    assert reask[-1]["role"] == "user" and classify.attempts[0]["error"] in reask[-1]["content"]
    assert '"additionalProperties"' in reask[-1]["content"]  # the schema is restated
    assert classify.output == {"a": "x", "b": "y"}
    assert classify.prompt_tokens == len(fake.calls[1].prompt.split()) + len(fake.calls[2].prompt.split())


def test_schema_violation_is_reasked_too() -> None:
    fake = FakeLM(["a", "{}", '{"a": "x"}'])
    result = two_step_chain().run(fake, text="t")
    assert "should be non-empty" in result["classify"].attempts[0]["error"]
    assert result.output == {"a": "x"}


def test_broken_json_is_repaired_without_a_second_call() -> None:
    fake = FakeLM(["a", '{"a": "x"'])
    result = two_step_chain().run(fake, text="t")
    assert result["classify"].repaired is True and result["classify"].retries == 0
    assert result.output == {"a": "x"} and len(fake.calls) == 2


def test_out_of_retries_raises_chain_step_error_with_raw_output_and_partial_result() -> None:
    fake = FakeLM(["a; b", "nope", "still [not json"], faults=[None, None, None])
    with pytest.raises(ChainStepError) as caught:
        two_step_chain().run(fake, text="t")
    error = caught.value
    assert error.step == "classify" and error.exit_code == 1
    assert "chain step 'classify'" in str(error) and "still [not json" in str(error)
    assert error.raw == "still [not json" and [a["raw"] for a in error.attempts] == ["nope", "still [not json"]
    assert error.partial is not None and list(error.partial.steps) == ["extract"]
    assert len(fake.calls) == 3  # 1 + retries(1): bounded


def test_retries_zero_means_one_call() -> None:
    fake = FakeLM(["a", "nope", '{"a": "never asked"}'])
    with pytest.raises(ChainStepError):
        two_step_chain(retries=0).run(fake, text="t")
    assert len(fake.calls) == 2


def test_malformed_fault_then_valid_reply() -> None:
    fake = FakeLM(["a", '{"a": "x"}'], faults=[None, "malformed"])
    result = two_step_chain().run(fake, text="t")
    assert result["classify"].retries == 1 and result.output == {"a": "x"}


def test_lm_failures_propagate_as_promptkit_errors() -> None:
    fake = FakeLM(["a"])  # runs out on the second step
    with pytest.raises(FakeLMError, match="ran out of answers"):
        two_step_chain().run(fake, text="t")


def test_inputs_are_checked_before_any_call() -> None:
    fake = FakeLM(["unused"])
    chain = two_step_chain()
    with pytest.raises(InputError, match="needs input 'text'"):
        chain.run(fake)
    with pytest.raises(InputError, match="has no input 'txt'"):
        chain.run(fake, text="t", txt="typo")
    with pytest.raises(InputError, match="input 'text' expected str, got int"):
        chain.run(fake, text=3)
    assert fake.calls == []


def test_lm_defaults_to_dspy_settings_and_call_syntax_works() -> None:
    fake = FakeLM(["a", '{"a": "x"}'])
    with dspy.context(lm=fake):
        result = two_step_chain()(text="t")
    assert result.output == {"a": "x"} and len(fake.calls) == 2


def test_references_to_raw_text_json_keys_and_literal_step_names() -> None:
    chain = Chain(
        steps=[
            Step(name="facts", prompt="Facts about {{ topic }}", output="json", schema={"type": "object"}),
            Step(
                name="summary",
                prompt="Raw: {{ raw }} | capital: {{ capital }} | {{ facts.size }}",
                inputs={"raw": "facts.raw", "capital": "facts.output.capital"},
            ),
        ],
        inputs={"topic": {"type": "str", "description": "what to ask about"}},
    )
    assert chain.bindings("summary") == {"raw": "facts.raw", "capital": "facts.output.capital", "facts": "facts"}
    fake = FakeLM(['{"capital": "Paris", "size": "big"}', "done"])
    result = chain.run(fake, topic="France")
    prompt = result["summary"].messages[0]["content"]
    assert prompt == 'Raw: {"capital": "Paris", "size": "big"} | capital: Paris | big'


def test_missing_json_key_at_run_time_names_the_reference() -> None:
    chain = Chain(
        steps=[
            Step(name="facts", prompt="Facts", output="json"),
            Step(name="use", prompt="{{ c }}", inputs={"c": "facts.output.capital"}),
        ]
    )
    with pytest.raises(ChainStepError, match=r"facts\.output\.capital.*no key 'capital'"):
        chain.run(FakeLM(['{"other": 1}', "x"]))


def test_step_settings_and_structured_output_reach_the_request() -> None:
    fake = FakeLM(["a", '{"a": "x"}'])
    fake.structured_output = "json_schema"  # what promptkit's factory states for a schema-enforcing backend
    two_step_chain(temperature=0.7, max_tokens=64).run(fake, text="t")
    list_call, json_call = fake.calls
    assert "response_format" not in list_call.config  # only JSON steps constrain decoding
    assert json_call.config["temperature"] == 0.7 and json_call.config["max_tokens"] == 64
    assert json_call.config["response_format"]["schema"] == MAPPING_SCHEMA


def test_a_llama_cpp_dialect_response_format_travels_in_the_request_extensions() -> None:
    closed = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "required": ["a"],
        "additionalProperties": False,
    }
    fmt, ext = request_slots(response_format_for(closed, "json_schema"))
    assert ext is None and fmt["json_schema"]["schema"] == closed
    assert request_slots(response_format_for(closed, "none")) == (None, None)
    fmt, ext = request_slots(response_format_for(closed, "json_object_schema"))
    assert fmt is None and ext is not None and ext["response_format"]["type"] == "json_object"
    request = build_request(FakeLM(["x"]), [{"role": "user", "content": "hi"}], extensions=ext)
    assert request.config.extensions["response_format"]["schema"]["properties"]["a"]["type"] == "string"


def test_cached_replies_stay_with_their_lm() -> None:
    first = FakeLM(["a", '{"a": "x"}'], cache=True)
    chain = two_step_chain()
    assert chain.run(first, text="same").output == {"a": "x"}
    assert chain.run(first, text="same").output == {"a": "x"}
    assert len(first.calls) == 2  # the second run was served by DSPy's cache
    other = FakeLM(["b", '{"b": "y"}'], cache=True)
    assert chain.run(other, text="same").output == {"b": "y"}  # never the first FakeLM's answers


def sleepy_fan_out(delay: float) -> tuple[Chain, FakeLM, list[tuple[str, float, float]]]:
    spans: list[tuple[str, float, float]] = []
    lock = threading.Lock()

    def answer(call: FakeCall) -> str:
        start = time.perf_counter()
        time.sleep(delay)
        text = call.last_user_message
        with lock:
            spans.append((text, start, time.perf_counter()))
        return "merged" if text.startswith("Merge") else f"{text} done"

    chain = Chain(
        steps=[
            Step(name="left", prompt="Left {{ topic }}"),
            Step(name="right", prompt="Right {{ topic }}"),
            Step(name="merge", prompt="Merge {{ left }} + {{ right }}"),
        ],
        inputs=["topic"],
    )
    return chain, FakeLM(fn=answer), spans


def test_independent_steps_run_concurrently_and_results_keep_their_order() -> None:
    chain, fake, spans = sleepy_fan_out(0.3)
    with dspy.context(track_usage=True), dspy.track_usage() as usage:
        result = chain.run(fake, topic="x", max_workers=2)
    assert chain.order == ["left", "right", "merge"] and list(result.steps) == ["left", "right", "merge"]
    (_, a_start, a_end), (_, b_start, b_end) = sorted(s for s in spans if not s[0].startswith("Merge"))
    assert a_start < b_end and b_start < a_end  # the two LM calls overlapped in time
    left, right, merge = result["left"], result["right"], result["merge"]
    assert left.started < right.finished and right.started < left.finished
    assert merge.started >= max(left.finished, right.finished)
    assert merge.messages[0]["content"] == "Merge Left x done + Right x done"
    # the usage tracker (a ContextVar) was seen by the worker threads: the context was copied into them
    assert usage.get_total_tokens()[fake.model]["prompt_tokens"] == result.tokens["prompt"]


def test_max_workers_one_runs_steps_one_after_another() -> None:
    chain, fake, spans = sleepy_fan_out(0.05)
    chain.run(fake, topic="x", max_workers=1)
    ordered = sorted(spans, key=lambda s: s[1])
    assert all(earlier[2] <= later[1] for earlier, later in itertools.pairwise(ordered))


def test_a_failing_branch_stops_new_steps_and_keeps_finished_ones() -> None:
    def answer(call: FakeCall) -> str:
        if call.last_user_message.startswith("Right"):
            return "   "  # empty: unusable
        time.sleep(0.05)
        return "fine"

    chain = Chain(
        steps=[
            Step(name="left", prompt="Left {{ topic }}"),
            Step(name="right", prompt="Right {{ topic }}", retries=0),
            Step(name="merge", prompt="Merge {{ left }} {{ right }}"),
        ],
        inputs=["topic"],
    )
    fake = FakeLM(fn=answer)
    with pytest.raises(ChainStepError, match=r"'right'.*empty") as caught:
        chain.run(fake, topic="x", max_workers=2)
    assert caught.value.partial is not None and list(caught.value.partial.steps) == ["left"]
    assert not any(c.last_user_message.startswith("Merge") for c in fake.calls)


def test_file_templates_resolve_from_base_dir(tmp_path: Path) -> None:
    (tmp_path / "ask.j2").write_text(
        '{#---\ninputs:\n  question: {type: str}\n---#}\n{% message "system" %}Be brief.{% endmessage %}\n'
        '{% message "user" %}{{ question }}{% endmessage %}\n',
        encoding="utf-8",
    )
    chain = Chain([Step(name="answer", template="ask.j2")], inputs=["question"], base_dir=tmp_path)
    result = chain.run(FakeLM(["42"]), question="Meaning of life?")
    assert result["answer"].messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Meaning of life?"},
    ]
    assert result["answer"].template == "ask.j2" and result.output == "42"


def test_several_output_steps_give_a_mapping() -> None:
    chain = Chain(
        steps=[Step(name="a", prompt="A {{ x }}"), Step(name="b", prompt="B {{ x }}")],
        inputs=["x"],
    )
    assert chain.output_steps == ["a", "b"]
    fake = FakeLM({"A ": "alpha", "B ": "beta"})
    assert chain.run(fake, x="1").output == {"a": "alpha", "b": "beta"}
    single = Chain(steps=list(chain.steps), inputs=["x"], output="b")
    assert single.run(fake, x="1").output == "beta"
