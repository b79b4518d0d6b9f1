"""Route parsing, api_base normalization, settings precedence and secret hygiene of promptkit.lm (no network)."""

from __future__ import annotations

import json
import subprocess
import sys
import types
import warnings
from pathlib import Path

import dspy
import pytest

from promptkit.config import Settings, load_settings
from promptkit.errors import BackendError, BackendUnavailableError, ConfigError, FakeLMError
from promptkit.lm import FakeLM, PromptkitLM, lm, normalize_ollama_base, parse_route
from promptkit.lm.failures import translate_failure, unreachable_reason
from promptkit.lm.routes import DEFAULT_OLLAMA_BASE
from tests.servers import free_port

REPO = Path(__file__).resolve().parents[1]
EMPTY_ENV: dict[str, str] = {}


def settings_for(tmp_path: Path, env: dict[str, str] | None = None, toml: str | None = None) -> Settings:
    if toml is not None:
        (tmp_path / "promptkit.toml").write_text(toml, encoding="utf-8")
    return load_settings(environ=env or {}, cwd=tmp_path)


# -- parse_route ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "kind", "provider", "name"),
    [
        ("openai/gpt-4o-mini", "remote", "openai", "gpt-4o-mini"),
        ("hosted_vllm/meta-llama/Llama-3-8B", "remote", "hosted_vllm", "meta-llama/Llama-3-8B"),
        ("together_ai/mistralai/Mixtral", "remote", "together_ai", "mistralai/Mixtral"),
        ("ollama/llama3.2", "ollama", "ollama", "llama3.2"),
        ("ollama_chat/qwen2.5:0.5b", "ollama", "ollama_chat", "qwen2.5:0.5b"),
        ("fake", "fake", None, "fake"),
        ("local", "local", None, "local"),
    ],
)
def test_parse_route_classifies_model_strings(model: str, kind: str, provider: str | None, name: str) -> None:
    route = parse_route(model)
    assert (route.kind, route.provider, route.model_name) == (kind, provider, name)


def test_parse_route_local_path() -> None:
    route = parse_route("local:/models/tiny.gguf")
    assert route.kind == "local" and route.local_path == "/models/tiny.gguf"
    assert parse_route("local").local_path is None


@pytest.mark.parametrize(
    ("model", "expected_in_message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("gpt-4o-mini", "openai/gpt-4o-mini"),  # the hint shows the fixed spelling
        ("openai/", "PROVIDER/NAME"),
        ("/llama3", "PROVIDER/NAME"),
        ("local:", "local:/path/to/model.gguf"),
    ],
)
def test_unusable_model_strings_raise_config_error(model: str, expected_in_message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_route(model)
    assert expected_in_message in str(info.value)
    with pytest.raises(ConfigError):
        lm(model)


# -- Ollama base URLs ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, DEFAULT_OLLAMA_BASE),
        ("", DEFAULT_OLLAMA_BASE),
        ("http://localhost:11434", "http://localhost:11434"),
        ("http://localhost:11434/", "http://localhost:11434"),
        ("http://localhost:11434/v1", "http://localhost:11434"),
        ("http://localhost:11434/v1/", "http://localhost:11434"),
        ("localhost:11434", "http://localhost:11434"),
        (" http://gpu-box:11434/api/chat ", "http://gpu-box:11434"),
        ("https://example.org/ollama/v1", "https://example.org/ollama"),
    ],
)
def test_normalize_ollama_base(given: str | None, expected: str) -> None:
    assert normalize_ollama_base(given) == expected


def test_normalize_ollama_base_rejects_non_http() -> None:
    with pytest.raises(ConfigError, match="ftp://host"):
        normalize_ollama_base("ftp://host:11434")


@pytest.mark.parametrize("base", ["http://127.0.0.1:11434", "http://127.0.0.1:11434/", "http://127.0.0.1:11434/v1/"])
def test_ollama_route_on_litellm_engine_uses_root_and_no_empty_key(base: str) -> None:
    built = lm("ollama_chat/qwen2.5:0.5b", api_base=base, api_key="", settings=load_settings(environ=EMPTY_ENV))
    assert isinstance(built, PromptkitLM)
    assert built.kwargs["api_base"] == "http://127.0.0.1:11434"
    assert built.engine == "litellm"
    assert "api_key" not in built.kwargs  # an empty key is no key


def test_ollama_route_on_native_engine_uses_v1_base() -> None:
    built = lm("ollama/llama3.2", engine="auto", settings=load_settings(environ=EMPTY_ENV))
    assert built.kwargs["api_base"] == DEFAULT_OLLAMA_BASE + "/v1"
    assert built.engine == "auto"
    assert "api_key" not in built.kwargs


# -- what reaches dspy.LM -----------------------------------------------------------------------------
def test_remote_route_gets_bounded_timeout_and_retries(tmp_path: Path) -> None:
    built = lm("openai/gpt-4o-mini", settings=settings_for(tmp_path))
    assert built.kwargs["timeout"] == 60.0  # never LiteLLM's 6000 s default
    assert built.num_retries == 2
    assert built.engine == "litellm"
    tuned = lm(
        "openai/gpt-4o-mini", timeout=5, num_retries=0, temperature=0.1, max_tokens=12, settings=settings_for(tmp_path)
    )
    assert (tuned.kwargs["timeout"], tuned.num_retries) == (5, 0)
    assert (tuned.kwargs["temperature"], tuned.kwargs["max_tokens"]) == (0.1, 12)


def test_extra_kwargs_pass_through_to_dspy_lm(tmp_path: Path) -> None:
    built = lm("openai/gpt-4o-mini", top_p=0.5, stop=["END"], settings=settings_for(tmp_path))
    assert built.kwargs["top_p"] == 0.5 and built.kwargs["stop"] == ["END"]


@pytest.mark.parametrize("engine", ["bogus", object()])
def test_bad_engine_is_a_config_error(engine: object, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="litellm"):
        lm("openai/x", engine=engine, settings=settings_for(tmp_path))  # type: ignore[arg-type]


def test_engine_from_settings_is_used(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, env={"PROMPTKIT_ENGINE": "lm15"})
    assert lm("openai/x", settings=settings).engine == "lm15"


def test_openai_compatible_server_without_key_gets_placeholder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    built = lm("openai/x", api_base="http://127.0.0.1:8000/v1", settings=settings_for(tmp_path))
    assert built.kwargs["api_key"]  # the OpenAI client refuses to run without one


def test_hosted_provider_without_its_key_is_a_config_error_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("PROMPTKIT_API_KEY", raising=False)
    keyless = lm("anthropic/claude-x", settings=settings_for(tmp_path), cache=False)
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY is not set") as info:
        keyless("hi")  # no network: refused before LiteLLM is asked
    assert "export ANTHROPIC_API_KEY" in (info.value.hint or "")
    assert lm("anthropic/claude-x", api_key="sk-given", settings=settings_for(tmp_path))._preflight_problem() is None
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-from-env")
    assert keyless._preflight_problem() is None
    assert lm("together_ai/m", settings=settings_for(tmp_path))._preflight_problem() is None  # not a known variable


# -- cache namespace per endpoint ---------------------------------------------------------------------
def test_rollout_id_namespaces_the_endpoint(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    first = lm("openai/m", api_base="http://127.0.0.1:8001/v1", settings=settings)
    same = lm("openai/m", api_base="http://127.0.0.1:8001/v1/", settings=settings)
    other = lm("openai/m", api_base="http://127.0.0.1:8002/v1", settings=settings)
    hosted = lm("openai/m", settings=settings)
    assert isinstance(first.kwargs["rollout_id"], int)
    assert first.kwargs["rollout_id"] == same.kwargs["rollout_id"]
    assert first.kwargs["rollout_id"] != other.kwargs["rollout_id"]
    assert "rollout_id" not in hosted.kwargs


def test_internal_rollout_id_does_not_warn_at_temperature_zero(tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lm("openai/m", api_base="http://127.0.0.1:8001/v1", temperature=0.0, settings=settings_for(tmp_path))
    assert not [w for w in caught if "rollout_id" in str(w.message)]


def test_copy_keeps_subclass_and_rebinds_endpoint(tmp_path: Path) -> None:
    built = lm("openai/m", api_base="http://127.0.0.1:8001/v1", settings=settings_for(tmp_path))
    warmer = built.copy(temperature=0.7)
    assert type(warmer) is PromptkitLM
    assert warmer.kwargs["rollout_id"] == built.kwargs["rollout_id"]
    moved = built.copy(api_base="http://127.0.0.1:9009/v1")
    assert type(moved) is PromptkitLM
    assert moved.kwargs["rollout_id"] != built.kwargs["rollout_id"]
    assert moved.endpoint == "http://127.0.0.1:9009/v1"


# -- settings precedence ------------------------------------------------------------------------------
TOML = """
[promptkit]
model = "openai/from-toml"
api_base = "http://toml-host:8000/v1"
timeout = 11
"""


def test_precedence_explicit_over_env_over_toml(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, env={"PROMPTKIT_MODEL": "openai/from-env"}, toml=TOML)
    from_env = lm(settings=settings)
    assert from_env.model == "openai/from-env"  # env beats toml
    assert from_env.kwargs["api_base"] == "http://toml-host:8000/v1"  # toml beats defaults
    assert from_env.kwargs["timeout"] == 11
    explicit = lm("openai/explicit", timeout=3, settings=settings)
    assert explicit.model == "openai/explicit" and explicit.kwargs["timeout"] == 3  # arguments beat both
    assert lm(settings=settings_for(tmp_path, toml=TOML)).model == "openai/from-toml"


def test_without_settings_the_environment_and_toml_apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "promptkit.toml").write_text(TOML, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for name in ("PROMPTKIT_CONFIG", "PROMPTKIT_API_BASE", "PROMPTKIT_TIMEOUT", "PROMPTKIT_ENGINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PROMPTKIT_MODEL", "openai/from-env")
    built = lm()
    assert built.model == "openai/from-env"
    assert built.kwargs["timeout"] == 11
    assert lm("openai/explicit").model == "openai/explicit"


def test_invalid_setting_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="timeout"):
        lm("openai/x", timeout=-1, settings=settings_for(tmp_path))


# -- fake and local routes ----------------------------------------------------------------------------
def test_fake_route_echoes_offline(tmp_path: Path) -> None:
    fake = lm("fake", settings=settings_for(tmp_path))
    assert isinstance(fake, FakeLM)
    assert fake("hello there") == ["[fake] hello there"]
    with dspy.context(lm=fake):
        answer = dspy.Predict("question -> answer")(question="What is DSPy?").answer
    assert answer == "[fake] What is DSPy?"


def test_the_package_itself_is_callable(tmp_path: Path) -> None:
    import promptkit.lm

    built = promptkit.lm("openai/m", api_base="http://127.0.0.1:8001/v1", settings=settings_for(tmp_path))  # type: ignore[operator]
    assert isinstance(built, PromptkitLM) and built.model == "openai/m"


def test_no_model_configured_means_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def local_lm(path: str | None, *, settings: object, **kwargs: object) -> str:
        seen.update(path=path, settings=settings, kwargs=kwargs)
        return "the-local-lm"

    monkeypatch.setitem(sys.modules, "promptkit.lm.local", types.SimpleNamespace(local_lm=local_lm))
    settings = settings_for(tmp_path)
    assert lm(settings=settings, cache=False) == "the-local-lm"
    assert seen["path"] is None and seen["kwargs"] == {"cache": False, "default_chosen": True}
    assert lm("local:/m/tiny.gguf", settings=settings) == "the-local-lm"
    assert seen["path"] == "/m/tiny.gguf" and seen["kwargs"] == {}  # chosen explicitly: nothing to announce


def test_local_route_without_the_extra_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "promptkit.lm.local", None)  # makes the import fail
    with pytest.raises(ConfigError, match=r"promptkit\[local\]"):
        lm("local", settings=settings_for(tmp_path))


# -- secrets ------------------------------------------------------------------------------------------
SECRET = "sk-supersecret-0123456789"


def test_api_key_stays_out_of_repr_and_saved_state(tmp_path: Path) -> None:
    built = lm("openai/m", api_base="https://user:pw@example.org/v1", api_key=SECRET, settings=settings_for(tmp_path))
    assert SECRET not in repr(built) and "pw@" not in repr(built)
    state = built.dump_state()
    assert SECRET not in json.dumps(state)
    restored = dspy.BaseLM.load_state(state)  # loads as a plain dspy.LM: no unsafe-class permission needed
    assert restored.model == "openai/m" and restored.kwargs.get("api_key") is None


def test_translated_errors_redact_the_key() -> None:
    from dspy.utils.exceptions import LMAuthError

    error = LMAuthError(f"Incorrect API key provided: {SECRET}", model="openai/m", status=401)
    translated = translate_failure(error, model="openai/m", url="http://h/v1", secret=SECRET)
    assert isinstance(translated, BackendError)
    assert SECRET not in str(translated) and "PROMPTKIT_API_KEY" in str(translated)


# -- failure translation (synthetic DSPy errors) -------------------------------------------------------
def test_connection_error_reported_as_server_error_is_translated() -> None:
    from dspy.utils.exceptions import LMServerError

    # LiteLLM maps the OpenAI SDK's connection failure to InternalServerError("Connection error.").
    error = LMServerError("litellm.InternalServerError: OpenAIException - Connection error.", model="openai/m")
    translated = translate_failure(error, model="openai/m", url="http://127.0.0.1:9/v1")
    assert isinstance(translated, BackendUnavailableError)
    assert translated.url == "http://127.0.0.1:9/v1" and "http://127.0.0.1:9/v1" in str(translated)


def test_engine_promptkit_error_is_unwrapped_and_context_window_left_alone() -> None:
    from dspy.utils.exceptions import ContextWindowExceededError, LMUnexpectedError

    original = FakeLMError("ran out")
    try:
        try:
            raise original
        except FakeLMError as exc:
            raise LMUnexpectedError("wrapped") from exc
    except LMUnexpectedError as wrapped:
        assert translate_failure(wrapped, model="m", url=None) is original
    assert translate_failure(ContextWindowExceededError(message="too long"), model="m", url=None) is None


def test_unknown_provider_is_a_config_error() -> None:
    from dspy.utils.exceptions import LMInvalidRequestError

    error = LMInvalidRequestError("litellm.BadRequestError: LLM Provider NOT provided. You passed model=foo/bar")
    assert isinstance(translate_failure(error, model="foo/bar", url=None), ConfigError)


def test_unreachable_reason_reports_refused_port() -> None:
    assert unreachable_reason(f"http://127.0.0.1:{free_port()}/v1", timeout=2.0) == "connection refused"


# -- import weight ------------------------------------------------------------------------------------
def test_imports_stay_light() -> None:
    """The pytest plugin imports no DSPy; building a remote LM imports no LiteLLM (paid on first call)."""
    code = (
        "import sys\n"
        "import promptkit.lm.pytest_plugin\n"
        "assert 'dspy' not in sys.modules, 'plugin imported dspy'\n"
        "from promptkit.lm import lm\n"
        "built = lm('openai/m', api_base='http://127.0.0.1:1/v1')\n"
        "built = lm('ollama_chat/qwen2.5:0.5b')\n"
        "assert 'litellm' not in sys.modules, 'building an LM imported litellm'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(Path.home())},
    )
    assert result.returncode == 0, result.stderr
