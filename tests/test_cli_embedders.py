"""`promptkit index build` / `eval retrieval` with --embedder-backend and a served --embedder, as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers.fixtures import refused_url_fixture  # noqa: F401 - the refused_url fixture

pytestmark = [pytest.mark.retrieval, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
BEIR = ROOT / "tests" / "fixtures" / "beir_small"


def promptkit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "PROMPTKIT_MODEL": "",
        "PROMPTKIT_ONNX_CACHE": str(cwd / "onnx"),
        "PROMPTKIT_EMBED_CACHE": str(cwd / "embeddings.sqlite"),
    }
    env.pop("PROMPTKIT_DEBUG", None)
    env.pop("OPENAI_API_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "promptkit", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600
    )


def test_onnx_backend_builds_and_evaluates(tmp_path: Path) -> None:
    store = str(tmp_path / "index")
    built = promptkit(
        "index", "build", str(BEIR), "-c", "small", "--store", store, "--embedder-backend", "onnx", cwd=tmp_path
    )
    assert built.returncode == 0, built.stderr
    assert "15 added" in built.stdout and (tmp_path / "onnx").is_dir()
    scored = promptkit(
        "eval",
        "retrieval",
        "-c",
        "small",
        "--store",
        store,
        "--queries",
        str(BEIR / "queries.jsonl"),
        "--qrels",
        str(BEIR / "qrels" / "test.tsv"),
        "--embedder-backend",
        "onnx-int8",
        "--out",
        str(tmp_path / "run"),
        cwd=tmp_path,
    )
    assert scored.returncode == 0, scored.stderr
    assert "ndcg@10" in scored.stdout and list((tmp_path / "onnx").glob("*/model.int8.onnx"))


def test_bad_backend_and_unreachable_server_are_one_line(tmp_path: Path, refused_url: str) -> None:
    bad = promptkit(
        "index",
        "build",
        str(BEIR),
        "-c",
        "small",
        "--store",
        str(tmp_path / "index"),
        "--embedder-backend",
        "cuda",
        cwd=tmp_path,
    )
    assert bad.returncode == 2 and "unknown embedder backend 'cuda'" in bad.stderr
    assert "Traceback" not in bad.stderr
    down = promptkit(
        "index",
        "build",
        str(BEIR),
        "-c",
        "small",
        "--store",
        str(tmp_path / "index"),
        "--embedder",
        "openai/all-MiniLM-L6-v2",
        "--api-base",
        refused_url + "/v1",
        cwd=tmp_path,
    )
    assert down.returncode == 1 and "cannot connect" in down.stderr and "Traceback" not in down.stderr
    hosted = promptkit(
        "index",
        "build",
        str(BEIR),
        "-c",
        "small",
        "--store",
        str(tmp_path / "index"),
        "--embedder",
        "openai/text-embedding-3-small",
        cwd=tmp_path,
    )
    assert hosted.returncode == 2 and "OPENAI_API_KEY" in hosted.stderr


@pytest.mark.server
def test_served_embedder_from_the_command_line(tmp_path: Path) -> None:
    pytest.importorskip("fastapi", reason="needs the server extra (fastapi, uvicorn)")
    from tests.servers.embeddings import EmbeddingServer

    store = str(tmp_path / "index")
    with EmbeddingServer() as server:
        built = promptkit(
            "index",
            "build",
            str(BEIR),
            "-c",
            "small",
            "--store",
            store,
            "--embedder",
            "openai/all-MiniLM-L6-v2",
            "--api-base",
            server.api_base,
            cwd=tmp_path,
        )
        assert built.returncode == 0, built.stderr
        assert "15 added" in built.stdout
        info = promptkit("index", "info", "-c", "small", "--store", store, cwd=tmp_path)
        assert "embedder:   openai/all-MiniLM-L6-v2@" in info.stdout and server.api_base not in info.stdout
        scored = promptkit(
            "eval",
            "retrieval",
            "-c",
            "small",
            "--store",
            store,
            "--api-base",
            server.api_base,
            "--queries",
            str(BEIR / "queries.jsonl"),
            "--qrels",
            str(BEIR / "qrels" / "test.tsv"),
            "--out",
            str(tmp_path / "run"),
            cwd=tmp_path,
        )
        assert scored.returncode == 0, scored.stderr
        # rag embeds its query with the collection's model, at the server the option names
        rag = promptkit(
            "rag",
            "At what temperature does water boil?",
            "-c",
            "small",
            "--store",
            store,
            "--model",
            "fake",
            "--k",
            "1",
            "--embedder-api-base",
            server.api_base,
            cwd=tmp_path,
        )
        assert rag.returncode == 0, rag.stderr
        assert "boil" in rag.stdout.split("[1]", 1)[1]
    refused = promptkit(
        "rag",
        "At what temperature does water boil?",
        "-c",
        "small",
        "--store",
        store,
        "--model",
        "fake",
        "--embedder-api-base",
        server.api_base,
        cwd=tmp_path,
    )  # the server is gone
    assert refused.returncode == 1 and "cannot connect" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) <= 2  # the error line and its fix
