"""promptkit.datasets: GSM8K, MATH, HotPotQA and BEIR readers, and Hugging Face loading offline."""

from __future__ import annotations

import json
import socket
import time
import types
from pathlib import Path
from typing import Any

import pytest

from promptkit.datasets import extract_boxed, extract_gsm8k_answer, hub, load, read_corpus
from promptkit.errors import DataError, InputError
from tests.shared_data import shared

FIXTURES = Path(__file__).parent / "fixtures" / "data"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# --- GSM8K -------------------------------------------------------------------------------------


def test_gsm8k_shipped_sample_every_row() -> None:
    path = shared("gsm8k/train.jsonl")
    raw = read_jsonl(path)
    data = load(path)
    assert data.format == "gsm8k" and len(data) == len(raw) >= 500 and not data.errors
    for example, row in zip(data, raw, strict=True):
        final = row["answer"].split("####")[-1].strip().replace(",", "")
        assert example.answer == final
        assert example.question == row["question"] and dict(example.inputs()) == {"question": row["question"]}
        assert example.rationale and "####" not in example.rationale
        assert row["answer"].startswith(example.rationale)


def test_gsm8k_fixture_commas_negative_and_missing_marker() -> None:
    data = load(FIXTURES / "gsm8k_mini.jsonl", format="gsm8k", on_error="skip")
    assert [e.answer for e in data] == ["3600", "3", "-5"]
    assert data[0].rationale.startswith("Pencils: 1,200 * 2") and data[0].rationale.endswith("3,600.")
    assert [(error.line, "####" in error.message) for error in data.errors] == [(4, True)]
    with pytest.raises(DataError) as caught:
        load(FIXTURES / "gsm8k_mini.jsonl", format="gsm8k")
    assert caught.value.line == 4


def test_gsm8k_wrong_type_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "gsm.jsonl"
    path.write_text(
        '{"question": "q", "answer": "1\\n#### 1"}\n{"question": 7, "answer": "#### 2"}\n', encoding="utf-8"
    )
    with pytest.raises(DataError) as caught:
        load(path, format="gsm8k")
    assert caught.value.line == 2 and "'question' must be a string" in str(caught.value)


def test_plain_jsonl_format_keeps_the_worked_solution() -> None:
    data = load(FIXTURES / "gsm8k_mini.jsonl", format="jsonl", limit=1)
    assert data.format == "jsonl" and data[0].answer.endswith("#### 3,600")


def test_extract_gsm8k_answer() -> None:
    assert extract_gsm8k_answer("work\n#### 1,234") == "1234"
    assert extract_gsm8k_answer("a #### 1\n#### 2") == "2"
    assert extract_gsm8k_answer("no marker") is None


# --- MATH ---------------------------------------------------------------------------------------


def test_math500_every_row_matches_its_answer_field() -> None:
    path = shared("math/math500.jsonl")
    raw = read_jsonl(path)
    data = load(path)
    assert data.format == "math" and len(data) == len(raw) == 500
    for example, row in zip(data, raw, strict=True):
        assert example.question == row["problem"] and "problem" not in example
        assert example.answer == row["answer"], row["unique_id"]
        assert example.solution == row["solution"] and example.subject == row["subject"]
        assert example.level == row["level"]


def test_math_original_format_nested_fbox_and_fallback() -> None:
    data = load(FIXTURES / "math_original.jsonl")
    assert data.format == "math"
    assert [e.answer for e in data] == ["\\frac{2}{3}", "\\{-1, 1\\}", "\\frac{3}{2}", "5", "42", "4"]
    assert data[0].type == "Prealgebra" and data[0].level == "Level 1"


def test_math_row_without_any_answer_is_bad(tmp_path: Path) -> None:
    path = tmp_path / "math.jsonl"
    path.write_text('{"problem": "p", "solution": "s \\\\boxed{1}"}\n{"problem": "p", "solution": "none"}\n')
    with pytest.raises(DataError) as caught:
        load(path)
    assert caught.value.line == 2 and "boxed" in str(caught.value)


def test_extract_boxed_cases() -> None:
    assert extract_boxed("a \\boxed{1} b \\boxed{\\frac{1}{\\sqrt{2}}} c") == "\\frac{1}{\\sqrt{2}}"
    assert extract_boxed("\\boxed{\\{1, 2\\}}") == "\\{1, 2\\}"
    assert extract_boxed("\\fbox{7}") == "7"
    assert extract_boxed("so $\\boxed 12$.") == "12"
    assert extract_boxed("\\boxed {3}") == "3"
    assert extract_boxed("\\boxed{never closed") is None
    assert extract_boxed("nothing here") is None


# --- HotPotQA -----------------------------------------------------------------------------------


def test_hotpotqa_shipped_jsonl_sample() -> None:
    path = shared("hotpotqa/hotpotqa_dev_500.jsonl")
    raw = read_jsonl(path)
    data = load(path)
    assert data.format == "hotpotqa" and len(data) == len(raw) == 500
    for example, row in zip(data, raw, strict=True):
        assert example.answer == row["answer"] and example.id == row["id"]
        assert example.type == row["type"] and example.level == row["level"]
        facts = row["supporting_facts"]
        assert example.supporting_facts == [list(p) for p in zip(facts["title"], facts["sent_id"], strict=True)]
        assert example.gold_titles == sorted(set(facts["title"]))
        assert len(example.context) == len(row["context"]["title"])
        assert all(" | " in passage for passage in example.context)


def test_hotpotqa_official_json_layout() -> None:
    data = load(FIXTURES / "hotpotqa_official.json")
    assert data.format == "hotpotqa" and [e.id for e in data] == ["fixture-1", "fixture-2"]
    first = data[0]
    assert first.answer == "the Silver River" and first.type == "bridge" and first.level == "medium"
    assert first.supporting_facts == [["Glass Museum", 0], ["Lumen City", 1]]
    assert first.gold_titles == ["Glass Museum", "Lumen City"]
    assert first.context[0] == "Glass Museum | The Glass Museum is a museum in Lumen City. It opened in 1901."
    assert data.lines == [2, 15]


def test_hotpotqa_both_layouts_give_the_same_examples(tmp_path: Path) -> None:
    """Rewrite shipped JSONL rows in the official layout: both readers must agree."""
    path = shared("hotpotqa/hotpotqa_dev_500.jsonl")
    rows = read_jsonl(path)[:5]
    official = [
        {
            "_id": row["id"],
            "question": row["question"],
            "answer": row["answer"],
            "type": row["type"],
            "level": row["level"],
            "supporting_facts": [list(p) for p in zip(*row["supporting_facts"].values(), strict=True)],
            "context": [list(p) for p in zip(row["context"]["title"], row["context"]["sentences"], strict=True)],
        }
        for row in rows
    ]
    official_path = tmp_path / "dev.json"
    official_path.write_text(json.dumps(official, indent=1), encoding="utf-8")
    from_official, from_jsonl = load(official_path), load(path, limit=5)
    assert [dict(e) for e in from_official] == [dict(e) for e in from_jsonl]


def test_hotpotqa_bad_context_shape(tmp_path: Path) -> None:
    path = tmp_path / "hp.jsonl"
    row = {"question": "q", "answer": "a", "supporting_facts": [["T", "zero"]], "context": [["T", ["s"]]]}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="integer sentence indices"):
        load(path, format="hotpotqa")


# --- BEIR ---------------------------------------------------------------------------------------


def test_beir_folder_gives_queries_with_graded_judgements() -> None:
    data = load(FIXTURES / "beir_mini")
    assert data.format == "beir" and [e.query_id for e in data] == ["q1", "q2"]  # q3 is judged only in dev
    q1 = data[0]
    assert q1.question == "capital of France" and dict(q1.inputs()) == {"question": "capital of France"}
    assert q1.relevance == {"d1": 2, "d3": 1, "d2": 0}
    assert q1.gold_ids == ["d1", "d3"]  # grade 0 is not relevant; most relevant first
    assert data[1].gold_ids == ["d2", "d4"]


def test_beir_split_choice_and_corpus_stream() -> None:
    dev = load(FIXTURES / "beir_mini", qrels_split="dev")
    assert [(e.query_id, e.gold_ids) for e in dev] == [("q3", ["d5"])]
    with pytest.raises(DataError, match="available"):
        load(FIXTURES / "beir_mini", qrels_split="train")
    corpus = list(read_corpus(FIXTURES / "beir_mini"))
    assert len(corpus) == 5 and corpus[0] == {"id": "d1", "title": "Paris", "text": "Paris is the capital of France."}


def test_beir_bad_qrels_lines_and_unknown_queries(tmp_path: Path) -> None:
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text('{"_id": "d1", "text": "t"}\n', encoding="utf-8")
    (folder / "queries.jsonl").write_text('{"_id": "q1", "text": "query one"}\n', encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text("q1\td1\t1\nq1\td2\thigh\nq9\td1\t1\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        load(folder)
    assert caught.value.line == 2 and caught.value.path is not None and caught.value.path.endswith("test.tsv")
    data = load(folder, on_error="skip")
    assert [e.gold_ids for e in data] == [["d1"]]
    assert [error.line for error in data.errors] == [2, None] and "'q9'" in data.errors[1].message


def test_a_folder_that_is_not_beir(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="BEIR"):
        load(tmp_path)


# --- Hugging Face -------------------------------------------------------------------------------


def test_hf_spec_parsing() -> None:
    assert hub.parse_hf_spec("hf:openai/gsm8k:main:test") == ("openai/gsm8k", "main", "test")
    assert hub.parse_hf_spec("hf:gsm8k:main") == ("gsm8k", "main", "train")
    assert hub.parse_hf_spec("hf:squad") == ("squad", None, "train")
    assert hub.parse_hf_spec("hf:squad::validation") == ("squad", None, "validation")
    with pytest.raises(InputError):
        hub.parse_hf_spec("hf:")


def test_hf_fails_fast_offline_in_this_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever is installed, an offline machine gets a DataError within seconds (no 25 s retries)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(DataError) as caught:
        load("hf:openai/gsm8k:main:test")
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert "pip install datasets" in message or "offline" in message
    assert "local file" in message


def test_hf_without_datasets_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub, "import_datasets", lambda: None)
    with pytest.raises(DataError, match="pip install datasets"):
        load("hf:openai/gsm8k:main")


def fake_datasets(rows: list[dict[str, Any]] | Exception, calls: list[tuple[Any, ...]]) -> types.ModuleType:
    module = types.ModuleType("datasets")

    def load_dataset(name: str, config: str | None = None, *, split: str) -> list[dict[str, Any]]:
        calls.append((name, config, split))
        if isinstance(rows, Exception):
            raise rows
        return rows

    module.load_dataset = load_dataset  # type: ignore[attr-defined]
    return module


def test_hf_unreachable_hub_fails_before_calling_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "import_datasets", lambda: fake_datasets([], calls))
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=3.0: False)
    with pytest.raises(DataError, match="offline"):
        load("hf:openai/gsm8k:main")
    assert calls == []


def test_hf_offline_setting_tries_the_cache_then_explains(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    missing = ConnectionError("Couldn't reach 'openai/gsm8k' on the Hub (OfflineModeIsEnabled)")
    monkeypatch.setattr(hub, "import_datasets", lambda: fake_datasets(missing, calls))
    with pytest.raises(DataError) as caught:
        load("hf:openai/gsm8k:main:test")
    assert calls == [("openai/gsm8k", "main", "test")]
    assert "HF_HUB_OFFLINE" in str(caught.value) and "local file" in str(caught.value)


def test_hf_rows_are_read_like_files(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    rows = [{"question": "q1", "answer": "work\n#### 1,000"}, {"question": "q2", "answer": "x\n#### 2"}]
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "import_datasets", lambda: fake_datasets(rows, calls))
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=3.0: True)
    data = load("hf:openai/gsm8k:main:test")
    assert data.format == "gsm8k" and [e.answer for e in data] == ["1000", "2"] and data.lines == [1, 2]


def test_hub_probe_is_bounded_and_sees_a_closed_port(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:  # find a free port, then close it so nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    started = time.monotonic()
    assert hub.hub_reachable(timeout=2.0) is False
    assert time.monotonic() - started < 3
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert hub.hub_reachable(timeout=2.0) is True
