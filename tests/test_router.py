"""The Router route against stub OpenAI-compatible servers on 127.0.0.1: LiteLLM's Router picks, promptkit wraps.

Each test writes a router.yaml in LiteLLM's own format and builds the LM the way a user does
(``promptkit.lm(GROUP, router=...)`` or ``--router``), so DSPy's cache, usage, the adapter and the
evaluation runner all run through it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dspy
import pytest

from promptkit.adapter import TemplateAdapter
from promptkit.config import load_settings
from promptkit.errors import BackendDownError, ConfigError, DataError
from promptkit.evaluation.runner import evaluate
from promptkit.lm import RouterLM, lm
from tests.servers import OpenAICompatServer
from tests.servers.base import Reply, free_port

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[1]
ANSWER = "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]"
NO_ENV = load_settings(environ={})


def write_config(
    path: Path, servers: Sequence[Any], *, settings: str = "", extra: Sequence[str] = (), **info: Any
) -> Path:
    entries = [
        f"  - model_name: qa\n    litellm_params: {{model: openai/m, api_base: {s.url}/v1, api_key: none}}\n"
        f"    model_info: {{id: dep{i}{info.get(f'info{i}', '')}}}"
        for i, s in enumerate(servers)
    ]
    text = "model_list:\n" + "\n".join([*entries, *extra]) + "\n"
    if settings:
        text += f"router_settings: {settings}\n"
    path.write_text(text, encoding="utf-8")
    return path


def rows(n: int) -> list[dspy.Example]:
    return [dspy.Example(question=f"q{i}", answer="Paris").with_inputs("question") for i in range(n)]


def read_rows(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def three_servers() -> Iterator[list[OpenAICompatServer]]:
    def slow(body: dict[str, Any]) -> str:
        time.sleep(0.03)  # long enough that rows overlap across deployments
        return ANSWER

    servers = [OpenAICompatServer(reply=slow).start() for _ in range(3)]
    yield servers
    for server in servers:
        server.stop()


def router_lm(config: Path, **kwargs: Any) -> RouterLM:
    built = lm("qa", router=config, settings=NO_ENV, **kwargs)
    assert isinstance(built, RouterLM)
    return built


# -- the route -------------------------------------------------------------------------------------------
def test_group_spreads_rows_and_the_run_records_the_split(
    tmp_path: Path, three_servers: list[OpenAICompatServer], memory_only_cache: None
) -> None:
    config = write_config(tmp_path / "router.yaml", three_servers, settings="{num_retries: 2}")
    model = router_lm(config)
    with dspy.context(lm=model, adapter=TemplateAdapter()):
        result = evaluate(
            dspy.Predict("question -> answer"),
            rows(30),
            ["exact_match"],
            num_threads=4,
            out=tmp_path / "run",
            progress=False,
        )
    assert result.scores["exact_match"] == 1.0
    written = read_rows(tmp_path / "run")
    assert all(len(row["deployments"]) == 1 for row in written)
    split = json.loads((tmp_path / "run" / "summary.json").read_text())["deployments"]
    assert sum(v["rows"] for v in split.values()) == 30 and set(split) <= {"dep0", "dep1", "dep2"}
    for i, server in enumerate(three_servers):
        assert len(server.chat_requests) == split.get(f"dep{i}", {}).get("calls", 0)
    assert written[0]["model"] == "router/qa" and written[0]["tokens"]["total"] > 0  # usage flows through


def test_dspy_cache_answers_a_repeated_call_without_a_server(
    tmp_path: Path, three_servers: list[OpenAICompatServer], memory_only_cache: None
) -> None:
    model = router_lm(write_config(tmp_path / "router.yaml", three_servers))
    predict = dspy.Predict("question -> answer")
    with dspy.context(lm=model, adapter=TemplateAdapter(), track_usage=True):
        first = predict(question="same")
        second = predict(question="same")
    assert first.answer == second.answer == "Paris"
    assert sum(len(s.chat_requests) for s in three_servers) == 1
    assert first.get_lm_usage()["router/qa"]["total_tokens"] > 0 and not second.get_lm_usage()


def test_each_deployment_gets_the_structured_output_it_supports(tmp_path: Path, memory_only_cache: None) -> None:
    reply = '{"answer": "Paris"}'
    with (
        OpenAICompatServer(reply=reply) as llama,
        OpenAICompatServer(reply=reply) as hosted,
        OpenAICompatServer(reply=reply) as plain,
    ):
        config = write_config(
            tmp_path / "router.yaml",
            [llama, hosted, plain],
            info0=", structured_output: json_object_schema",
            info1=", structured_output: json_schema",
        )
        model = router_lm(config, cache=False)
        assert model.structured_output == "json_schema"  # the adapter plans a schema for the group
        with dspy.context(lm=model, adapter=TemplateAdapter()):
            for i in range(24):
                assert dspy.Predict("question -> answer")(question=f"q{i}").answer == "Paris"
        kinds = {
            name: {(r.body.get("response_format") or {}).get("type") for r in server.chat_requests}
            for name, server in (("llama", llama), ("hosted", hosted), ("plain", plain))
        }
    assert kinds["llama"] == {"json_object"} and kinds["hosted"] == {"json_schema"} and kinds["plain"] == {None}
    assert all("schema" in r.body["response_format"] for r in llama.chat_requests)


# -- faults ----------------------------------------------------------------------------------------------
def test_a_deployment_killed_mid_run_loses_no_row_and_repeats_none(
    tmp_path: Path, three_servers: list[OpenAICompatServer], memory_only_cache: None
) -> None:
    config = write_config(
        tmp_path / "router.yaml", three_servers, settings="{num_retries: 2, allowed_fails: 1, cooldown_time: 60}"
    )
    model = router_lm(config, cache=False)

    def kill_dep1() -> None:
        while sum(len(s.chat_requests) for s in three_servers) < 15:
            time.sleep(0.005)
        three_servers[1].stop()

    killer = threading.Thread(target=kill_dep1, daemon=True)
    killer.start()
    with dspy.context(lm=model, adapter=TemplateAdapter()):
        result = evaluate(
            dspy.Predict("question -> answer"),
            rows(60),
            ["exact_match"],
            num_threads=4,
            out=tmp_path / "run",
            progress=False,
        )
    killer.join(timeout=5)
    written = read_rows(tmp_path / "run")
    assert len(written) == 60 and len({r["row_id"] for r in written}) == 60
    assert not any(r["error"] for r in written) and result.scores["exact_match"] == 1.0
    split = result.summary["deployments"]
    assert sum(v["rows"] for v in split.values()) == 60
    assert 0 < split["dep1"]["rows"] < split["dep0"]["rows"] + split["dep2"]["rows"]


def test_a_rate_limited_deployment_backs_off_while_others_carry_the_load(
    tmp_path: Path, three_servers: list[OpenAICompatServer], memory_only_cache: None
) -> None:
    limited = three_servers[0]
    limited.fail_next = [(429, {"error": {"message": "slow down"}})] * 100
    config = write_config(
        tmp_path / "router.yaml", three_servers, settings="{num_retries: 3, allowed_fails: 1, cooldown_time: 60}"
    )
    model = router_lm(config, cache=False)
    with dspy.context(lm=model, adapter=TemplateAdapter()):
        result = evaluate(
            dspy.Predict("question -> answer"),
            rows(40),
            ["exact_match"],
            num_threads=4,
            out=tmp_path / "run",
            progress=False,
        )
    assert result.scores["exact_match"] == 1.0 and "dep0" not in result.summary["deployments"]
    assert len(limited.chat_requests) <= 8  # cooled down after its first 429s, not asked 40 times


def test_a_429_cools_its_deployment_down_for_retry_after_not_cooldown_time(
    tmp_path: Path, memory_only_cache: None
) -> None:
    hits: list[float] = []  # when the limited deployment was asked
    with OpenAICompatServer(reply=ANSWER) as limited, OpenAICompatServer(reply=ANSWER) as other:

        def answer(request: Any) -> Reply:
            hits.append(time.monotonic())
            if len(hits) == 1:
                return Reply(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "2"})
            return limited._chat(request)

        limited.routes[("POST", "/v1/chat/completions")] = answer
        config = write_config(
            tmp_path / "router.yaml", [limited, other], settings="{num_retries: 2, allowed_fails: 0, cooldown_time: 60}"
        )
        model = router_lm(config, cache=False)
        deadline = time.monotonic() + 20
        while (not hits or time.monotonic() < hits[0] + 4) and time.monotonic() < deadline:
            model(f"q {time.monotonic()}")  # every call answers: the other deployment carries the load
            time.sleep(0.05)
    assert len(hits) >= 2, "the limited deployment was never asked again within 4 s (cooldown_time is 60 s)"
    assert hits[1] - hits[0] >= 1.8  # backed off for the server's Retry-After


def test_rpm_limits_are_respected_under_usage_based_routing(
    tmp_path: Path, three_servers: list[OpenAICompatServer], memory_only_cache: None
) -> None:
    small, big = three_servers[:2]
    path = tmp_path / "router.yaml"
    path.write_text(
        "model_list:\n"
        f"  - model_name: qa\n    litellm_params: {{model: openai/m, api_base: {small.url}/v1, api_key: x, rpm: 5}}\n"
        f"  - model_name: qa\n    litellm_params: {{model: openai/m, api_base: {big.url}/v1, api_key: x, rpm: 1000}}\n"
        "router_settings: {num_retries: 2, routing_strategy: usage-based-routing-v2}\n",
        encoding="utf-8",
    )
    model = router_lm(path, cache=False)
    with dspy.context(lm=model, adapter=TemplateAdapter()):
        result = evaluate(dspy.Predict("question -> answer"), rows(30), ["exact_match"], num_threads=4, progress=False)
    assert result.scores["exact_match"] == 1.0
    assert len(small.chat_requests) <= 5 and len(small.chat_requests) + len(big.chat_requests) == 30
    assert set(result.summary["deployments"]) == {f"openai/m@127.0.0.1:{s.port}" for s in (small, big)} & {
        f"openai/m@127.0.0.1:{s.port}" for s in (small, big) if s.chat_requests
    }  # derived names (no model_info.id) in the report


def test_all_deployments_down_stops_the_run_and_resume_finishes_it(tmp_path: Path, memory_only_cache: None) -> None:
    served = 0

    def counting(body: dict[str, Any]) -> str:
        nonlocal served
        served += 1
        return ANSWER

    first = [OpenAICompatServer(reply=counting).start() for _ in range(2)]
    config = write_config(tmp_path / "router.yaml", first, settings="{num_retries: 1, cooldown_time: 60}")
    model = router_lm(config, cache=False)

    def kill_all() -> None:
        while served < 10:
            time.sleep(0.005)
        for server in first:
            server.stop()

    threading.Thread(target=kill_all, daemon=True).start()
    started = time.monotonic()
    with dspy.context(lm=model, adapter=TemplateAdapter()), pytest.raises(BackendDownError) as info:
        evaluate(
            dspy.Predict("question -> answer"),
            rows(40),
            ["exact_match"],
            num_threads=2,
            out=tmp_path / "run",
            progress=False,
        )
    assert time.monotonic() - started < 30
    assert "router group 'qa'" in str(info.value) and "--resume" in str(info.value)
    done = read_rows(tmp_path / "run")
    assert 10 <= len(done) < 40 and not any(r["error"] for r in done)  # finished rows kept, none failed

    with OpenAICompatServer(reply=ANSWER) as back:  # the servers come back (here: on a new port)
        write_config(tmp_path / "router2.yaml", [back])
        with dspy.context(lm=router_lm(tmp_path / "router2.yaml", cache=False), adapter=TemplateAdapter()):
            resumed = evaluate(
                dspy.Predict("question -> answer"),
                rows(40),
                ["exact_match"],
                num_threads=2,
                out=tmp_path / "run",
                resume=True,
                progress=False,
            )
        assert len(back.chat_requests) == 40 - len(done)  # only the rows not yet done
    final = read_rows(tmp_path / "run")
    assert len(final) == 40 and len({r["row_id"] for r in final}) == 40 and resumed.scores["exact_match"] == 1.0


def test_promptkit_timeout_bounds_the_whole_router_call(tmp_path: Path, memory_only_cache: None) -> None:
    def hang(body: dict[str, Any]) -> str:
        time.sleep(6)
        return ANSWER

    with OpenAICompatServer(reply=hang) as first, OpenAICompatServer(reply=hang) as second:
        config = write_config(tmp_path / "router.yaml", [first, second], settings="{num_retries: 3}")
        settings = load_settings(environ={"PROMPTKIT_TIMEOUT": "1.5"})
        model = lm("qa", router=config, settings=settings, cache=False)
        started = time.monotonic()
        with pytest.raises(BackendDownError) as info:
            model("q")
        assert time.monotonic() - started < 3.5  # not 4 attempts x 1.5 s
    assert "within 1.5 s in total" in str(info.value)


def test_a_key_from_the_router_config_never_appears_in_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-router-only-5e6f7a8b9c0d"
    monkeypatch.setenv("MY_LLAMA_CREDENTIAL_VAR", key)  # a name the environment scan would not catch
    with OpenAICompatServer(reply=ANSWER) as server:
        server.fail_next = [(401, {"error": {"message": f"Incorrect API key provided: {key}"}})] * 5
        path = tmp_path / "router.yaml"
        path.write_text(
            "model_list:\n  - model_name: qa\n    litellm_params: {model: openai/m, api_base: "
            f"{server.url}/v1, api_key: os.environ/MY_LLAMA_CREDENTIAL_VAR}}\n",
            encoding="utf-8",
        )
        result = subprocess.run(
            [sys.executable, "-m", "promptkit", "ask", "q", "--router", str(path), "--model", "qa"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
            env={**os.environ, "PROMPTKIT_MODEL": "", "MY_LLAMA_CREDENTIAL_VAR": key},
        )
    assert result.returncode == 1, result.stderr
    assert key not in result.stderr + result.stdout and "Traceback" not in result.stderr
    assert "router group 'qa'" in result.stderr


# -- bad configs -------------------------------------------------------------------------------------------
def test_bad_router_configs_name_the_file_line_and_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    path = tmp_path / "router.yaml"
    cases = [
        (
            "model_list:\n  - model_name: qa\n    litellm_params:\n"
            "      {model: openai/m, api_key: os.environ/NOT_SET_ANYWHERE}\n",
            ConfigError,
            "router.yaml:2: model_list[0]: api_key reads the environment variable NOT_SET_ANYWHERE",
        ),
        (
            "model_list:\n  - model_name: qa\n    litellm_params: {model: openai/m}\nrouter_settings: {num_retry: 2}\n",
            ConfigError,
            "did you mean num_retries?",
        ),
        (
            "model_list:\n  - model_name: qa\n    litellm_params: {model: openai/m}\n"
            "router_settings: {fallbacks: [{qa: [backup]}]}\n",
            ConfigError,
            "'backup', which is no model_name",
        ),
        (
            "model_list:\n  - model_name: qa\n    litellm_params: {model: [openai/m\n",
            DataError,
            "router.yaml:3: invalid YAML",
        ),
        ("model_list: []\n", ConfigError, "non-empty model_list"),
    ]
    for text, error, words in cases:
        path.write_text(text, encoding="utf-8")
        with pytest.raises(error) as info:
            lm("qa", router=path, settings=NO_ENV)
        assert words in str(info.value), str(info.value)
    path.write_text("model_list:\n  - model_name: qa\n    litellm_params: {model: openai/m}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"(?s)'qb' is not a model_name .* \(its groups: qa\).*--model qa"):
        lm("qb", router=path, settings=NO_ENV)
    assert lm("fake", router=path, settings=NO_ENV).model == "fake/echo"  # an ordinary route still works
    with pytest.raises(ConfigError, match="api_key cannot be given for the Router group 'qa'"):
        lm("qa", router=path, api_key="sk-not-for-a-group-123", settings=NO_ENV)


def test_router_from_the_environment_and_the_toml(tmp_path: Path, three_servers: list[OpenAICompatServer]) -> None:
    config = write_config(tmp_path / "router.yaml", three_servers)
    from_env = lm(settings=load_settings(environ={"PROMPTKIT_ROUTER": str(config)}))
    (tmp_path / "promptkit.toml").write_text('[promptkit]\nrouter = "router.yaml"\nmodel = "qa"\n', encoding="utf-8")
    from_toml = lm(settings=load_settings(environ={}, cwd=tmp_path))
    assert isinstance(from_env, RouterLM) and isinstance(from_toml, RouterLM)
    assert from_toml.router_config.path == config.resolve()
    result = subprocess.run(
        [sys.executable, "-m", "promptkit", "ask", "q", "--router", str(tmp_path / "nope.yaml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "PROMPTKIT_MODEL": ""},
    )
    assert result.returncode == 2 and "router config not found" in result.stderr and "Traceback" not in result.stderr


def test_doctor_shows_each_deployment_and_whether_it_answers(tmp_path: Path) -> None:
    with OpenAICompatServer(reply=ANSWER) as up:
        down = SimpleNamespace(url=f"http://127.0.0.1:{free_port()}")  # nothing listens there
        config = write_config(tmp_path / "router.yaml", [up, down], info1=", structured_output: json_object_schema")
        result = subprocess.run(
            [sys.executable, "-m", "promptkit", "doctor", "--router", str(config)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
            env={**os.environ, "PROMPTKIT_MODEL": "", "COLUMNS": "250"},
        )
        assert len(up.chat_requests) == 1  # asked for one token
        up_url = up.url
    assert result.returncode == 0, result.stderr
    lines = {line.split("│")[2].strip(): line for line in result.stdout.splitlines() if "│ dep" in line}
    assert set(lines) == {"dep0", "dep1"}
    assert "yes" in lines["dep0"] and "no" in lines["dep1"] and "refused" in lines["dep1"]
    assert "json_object_schema" in lines["dep1"] and up_url in lines["dep0"]


@pytest.mark.retrieval
def test_rag_answers_through_a_router_group(tmp_path: Path) -> None:
    from promptkit.retrieval import Passage, build_index

    store = tmp_path / "store"
    build_index([Passage("Paris is the capital of France.", title="Paris")], "facts", store=str(store))
    with OpenAICompatServer(reply=ANSWER) as first, OpenAICompatServer(reply=ANSWER) as second:
        config = write_config(tmp_path / "router.yaml", [first, second])
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "promptkit",
                "rag",
                "What is the capital of France?",
                "--collection",
                "facts",
                "--store",
                str(store),
                "--router",
                str(config),
                "--model",
                "qa",
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=180,
            env={**os.environ, "PROMPTKIT_MODEL": ""},
        )
        served = len(first.requests_to("/v1/chat/completions")) + len(second.requests_to("/v1/chat/completions"))
    assert result.returncode == 0, result.stderr
    assert "answer: Paris" in result.stdout and served == 1
