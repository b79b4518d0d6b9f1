"""`promptkit index build|info|drop`, `promptkit rag` and `promptkit quickstart` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.retrieval, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]


def promptkit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PROMPTKIT_MODEL": ""}
    env.pop("PROMPTKIT_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "promptkit", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600
    )


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    rows = [
        {"id": "p1", "title": "Paris", "text": "Paris is the capital and largest city of France, on the Seine."},
        {"id": "p2", "title": "Madrid", "text": "Madrid is the capital of Spain and its largest city."},
        {"id": "p3", "title": "Rome", "text": "Rome is the capital city of Italy, founded in 753 BC."},
    ]
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_index_build_info_rag_drop(tmp_path: Path, corpus: Path) -> None:
    store = str(tmp_path / "index")
    built = promptkit("index", "build", str(corpus), "--collection", "cities", "--store", store, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert "3 added, 3 passages in total" in built.stdout
    again = promptkit("index", "build", str(corpus), "--collection", "cities", "--store", store, cwd=tmp_path)
    assert "0 added, 3 passages in total" in again.stdout  # content-hash ids: re-indexing adds nothing

    info = promptkit("index", "info", "--collection", "cities", "--store", store, cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert "passages:   3" in info.stdout and "all-MiniLM-L6-v2" in info.stdout and "edge" in info.stdout

    rag = promptkit(
        "rag",
        "What is the capital of Spain?",
        "--collection",
        "cities",
        "--store",
        store,
        "--model",
        "fake",
        "--k",
        "2",
        "--show-prompt",
        cwd=tmp_path,
    )
    assert rag.returncode == 0, rag.stderr
    assert "answer:" in rag.stdout and "[fake]" in rag.stdout
    assert rag.stdout.index("Madrid is the capital of Spain") < rag.stdout.index("[2]")  # best passage first
    assert "<TASK>" in rag.stdout  # --show-prompt

    dropped = promptkit("index", "drop", "--collection", "cities", "--store", store, cwd=tmp_path)
    assert dropped.returncode == 0
    missing = promptkit("index", "info", "--collection", "cities", "--store", store, cwd=tmp_path)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_index_build_names_the_fields_format_and_chunk_unit(tmp_path: Path) -> None:
    table = tmp_path / "pages.data"  # a suffix that says nothing: --format decides
    table.write_text(
        "doc,heading,body\n"
        "d1,Paris,Paris is the capital and largest city of France on the Seine and has many museums.\n"
        "d2,Madrid,Madrid is the capital of Spain.\n"
    )
    store = str(tmp_path / "index")
    base = ["index", "build", str(table), "--collection", "pages", "--store", store, "--format", "csv"]
    missing = promptkit(*base, cwd=tmp_path)
    assert missing.returncode == 2 and "no 'text' column" in missing.stderr and "--text-field" in missing.stderr
    built = promptkit(
        *base,
        "--text-field",
        "body",
        "--title-field",
        "heading",
        "--id-field",
        "doc",
        "--chunk-size",
        "8",
        "--chunk-unit",
        "tokens",
        cwd=tmp_path,
    )
    assert built.returncode == 0, built.stderr
    assert "2 read, 2 kept, 4 chunks" in built.stdout  # Paris: 3 chunks of 8 embedder tokens; Madrid: 1
    rag = promptkit(
        "rag",
        "capital of Spain",
        "--collection",
        "pages",
        "--store",
        store,
        "--model",
        "fake",
        "--k",
        "1",
        cwd=tmp_path,
    )
    assert rag.returncode == 0, rag.stderr
    assert "[1]" in rag.stdout and "Madrid" in rag.stdout.split("[1]")[1]  # the title came from --title-field
    multihop = promptkit(
        "rag",
        "capital of Spain",
        "--collection",
        "pages",
        "--store",
        store,
        "--model",
        "fake",
        "--k",
        "1",
        "--hops",
        "2",
        cwd=tmp_path,
    )
    assert multihop.returncode == 0, multihop.stderr  # it printed "internal error" (no passages) once
    assert "hop 2 query:" in multihop.stderr and "[1]" in multihop.stdout
    bad_unit = promptkit(*base, "--text-field", "body", "--chunk-unit", "chars", cwd=tmp_path)
    assert bad_unit.returncode == 2 and "--chunk-unit 'chars'" in bad_unit.stderr


def test_index_build_bad_input(tmp_path: Path) -> None:
    result = promptkit("index", "build", str(tmp_path / "nope.jsonl"), "--collection", "x", cwd=tmp_path)
    assert result.returncode == 2 and "nope.jsonl" in result.stderr and "Traceback" not in result.stderr


def test_quickstart_on_the_fake_model(tmp_path: Path) -> None:
    result = promptkit("quickstart", "Which planet has the Great Red Spot?", "--model", "fake", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "answer:" in result.stdout
    assert "[1]" in result.stdout and "Great Red Spot" in result.stdout


def test_index_build_modes_embed_template_info_and_rag_modes(tmp_path: Path, corpus: Path) -> None:
    store = str(tmp_path / "index")
    built = promptkit(
        "index",
        "build",
        str(corpus),
        "--collection",
        "cities",
        "--store",
        store,
        "--embed-template",
        "{title}: {text}",
        cwd=tmp_path,
    )
    assert built.returncode == 0, built.stderr
    assert "vectors: dense 384-d cosine + sparse bm25 (IDF)" in built.stdout  # hybrid by default
    info = promptkit("index", "info", "--collection", "cities", "--store", store, cwd=tmp_path)
    assert "modes:      dense, sparse, hybrid" in info.stdout and "embeds:     '{title}: {text}'" in info.stdout
    assert "bm25:" in info.stdout and "language=english" in info.stdout and "avg_len=" in info.stdout
    rag = promptkit(
        "rag",
        "Which city is the capital of Spain?",
        "--collection",
        "cities",
        "--store",
        store,
        "--model",
        "fake",
        "--k",
        "1",
        "--mode",
        "sparse",
        cwd=tmp_path,
    )
    assert rag.returncode == 0, rag.stderr
    assert "Madrid is the capital of Spain" in rag.stdout

    dense = promptkit(
        "index", "build", str(corpus), "--collection", "old", "--store", store, "--mode", "dense", cwd=tmp_path
    )
    assert dense.returncode == 0 and "vectors: dense 384-d cosine" in dense.stdout and "bm25" not in dense.stdout
    wrong = promptkit(
        "rag", "capital?", "--collection", "old", "--store", store, "--model", "fake", "--mode", "hybrid", cwd=tmp_path
    )
    assert wrong.returncode == 2 and "--mode dense" in wrong.stderr and "Traceback" not in wrong.stderr
    unknown = promptkit(
        "index", "build", str(corpus), "--collection", "x", "--store", store, "--mode", "bm25", cwd=tmp_path
    )
    assert unknown.returncode == 2 and "unknown search mode" in unknown.stderr
    template = promptkit(
        "index", "build", str(corpus), "--collection", "x", "--store", store, "--embed-template", "{body}", cwd=tmp_path
    )
    assert template.returncode == 2 and "{body}" in template.stderr
