"""The ported examples run end to end on a scripted LM (no network, no model weights)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from test_evaluation_helpers import qa_lm

REPO = Path(__file__).resolve().parents[1]
MATH500 = REPO.parent / "shared" / "data" / "math" / "math500.jsonl"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", REPO / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not MATH500.exists(), reason="../shared/data/math/math500.jsonl is not available")
def test_math_algebra_eval(tmp_path: Path) -> None:
    example = load_example("math_algebra_eval")
    rows = example.load_algebra(MATH500)
    assert rows and all(r.subject == "Algebra" for r in rows)
    # a model that writes the gold answer boxed scores 1; one that is wrong on every other row fails the gate
    right, _ = qa_lm({r.question.strip(): f"\\boxed{{{r.answer}}}" for r in rows})
    code = example.main(["--limit", "6", "--out", str(tmp_path / "right"), "--threads", "2"], lm=right)
    summary = json.loads((tmp_path / "right" / "summary.json").read_text())
    assert code == 0 and summary["metrics"]["math_equiv"]["mean"] == 1.0 and summary["rows_total"] == 6
    half, _ = qa_lm({r.question.strip(): (r.answer if i % 2 else "42424242") for i, r in enumerate(rows)})
    code = example.main(["--limit", "6", "--out", str(tmp_path / "half"), "--fail-under", "0.9"], lm=half)
    summary = json.loads((tmp_path / "half" / "summary.json").read_text())
    assert code == 3 and summary["metrics"]["math_equiv"]["mean"] == 0.5


@pytest.mark.retrieval
@pytest.mark.slow
def test_compile_rag(tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    example = load_example("compile_rag")
    answers = {ex.question: ex.answer for ex in example.load_questions()}
    lm, _ = qa_lm(answers)
    assert example.main(["--out", str(tmp_path)], lm=lm) == 0
    saved = json.loads((tmp_path / "rag.json").read_text())
    assert saved["metadata"]["metric"] == "validate_context_and_answer" and saved["metadata"]["train_size"] == 8
    assert (tmp_path / "after" / "report.html").exists()
