"""The Router route against three real llama.cpp servers (the bundled SmolLM2 GGUF) on 127.0.0.1.

One evaluation runs while a server is SIGKILLed: every row finishes, none twice, and the report shows the
split. Then every server dies: the run stops with a typed error and ``--resume`` finishes it on a server
that came back. The servers share the machine's cores, so rows are few and answers short.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dspy
import pytest

pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server]")

from promptkit.adapter import TemplateAdapter
from promptkit.config import load_settings
from promptkit.errors import BackendDownError
from promptkit.evaluation.runner import evaluate
from promptkit.lm import RouterLM, lm
from tests.servers.llamacpp import LlamaCppServer

pytestmark = [pytest.mark.local, pytest.mark.server, pytest.mark.slow, pytest.mark.usefixtures("memory_only_cache")]

ROWS = 12


@pytest.fixture(scope="module")
def servers() -> Iterator[list[LlamaCppServer]]:
    started: list[LlamaCppServer] = []
    try:
        with ThreadPoolExecutor(3) as pool:  # start side by side: each loads the GGUF
            started = list(pool.map(lambda _: LlamaCppServer(n_ctx=1024).start(), range(3)))
        yield started
    finally:
        for server in started:
            server.stop()


def write_config(path: Path, servers: list[LlamaCppServer], prefix: str = "llama") -> Path:
    entries = "".join(
        f"  - model_name: smol\n    litellm_params: {{model: openai/smollm2, api_base: {s.api_base}, api_key: none}}\n"
        f"    model_info: {{id: {prefix}-{i}, structured_output: json_object_schema}}\n"
        for i, s in enumerate(servers)
    )
    path.write_text(
        f"model_list:\n{entries}router_settings: {{num_retries: 3, allowed_fails: 1, cooldown_time: 120}}\n",
        encoding="utf-8",
    )
    return path


def router(config: Path) -> RouterLM:
    built = lm("smol", router=config, max_tokens=24, cache=False, settings=load_settings(environ={}))
    assert isinstance(built, RouterLM)
    return built


def questions() -> list[dspy.Example]:
    return [
        dspy.Example(question=f"What is {i} plus {i}?", answer=str(2 * i)).with_inputs("question") for i in range(ROWS)
    ]


def results(out: Path) -> list[dict[str, Any]]:
    path = out / "results.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def kill_when(out: Path, done: int, victims: list[LlamaCppServer]) -> threading.Thread:
    def watch() -> None:
        deadline = time.monotonic() + 300
        while len(results(out)) < done and time.monotonic() < deadline:
            time.sleep(0.05)
        for server in victims:
            server.kill()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def run(model: RouterLM, out: Path, **options: Any) -> Any:
    with dspy.context(lm=model, adapter=TemplateAdapter()):
        return evaluate(
            dspy.Predict("question -> answer"),
            questions(),
            ["exact_match"],
            num_threads=3,
            out=out,
            progress=False,
            **options,
        )


def test_killing_one_of_three_servers_mid_run_loses_and_repeats_nothing(
    tmp_path: Path, servers: list[LlamaCppServer]
) -> None:
    out = tmp_path / "run"
    watcher = kill_when(out, 3, [servers[1]])
    result = run(router(write_config(tmp_path / "router.yaml", servers)), out)
    watcher.join(timeout=5)
    rows = results(out)
    assert len(rows) == ROWS and len({r["row_id"] for r in rows}) == ROWS
    assert not any(r["error"] for r in rows), [r["error"] for r in rows if r["error"]]
    split = json.loads((out / "summary.json").read_text(encoding="utf-8"))["deployments"]
    assert sum(v["rows"] for v in split.values()) == ROWS == result.summary["rows_done"]
    assert split.get("llama-1", {}).get("rows", 0) < ROWS / 2  # it stopped answering when it died
    assert split.get("llama-0") and split.get("llama-2")
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "llama-0" in report and "llama-2" in report


def test_all_servers_down_stops_the_run_and_resume_finishes_it(tmp_path: Path, servers: list[LlamaCppServer]) -> None:
    alive = [s for s in servers if s._process is not None and s._process.poll() is None]
    out = tmp_path / "run"
    watcher = kill_when(out, 2, alive)
    with pytest.raises(BackendDownError, match="router group 'smol'"):
        run(router(write_config(tmp_path / "router.yaml", alive)), out)
    watcher.join(timeout=5)
    done = results(out)
    assert 2 <= len(done) < ROWS and not any(r["error"] for r in done)
    with LlamaCppServer(n_ctx=1024) as back:
        resumed = run(router(write_config(tmp_path / "router2.yaml", [back], prefix="back")), out, resume=True)
    rows = results(out)
    assert len(rows) == ROWS and len({r["row_id"] for r in rows}) == ROWS and not any(r["error"] for r in rows)
    assert resumed.summary["rows_this_run"] == ROWS - len(done)
    assert resumed.summary["deployments"]["back-0"]["rows"] == ROWS - len(done)
