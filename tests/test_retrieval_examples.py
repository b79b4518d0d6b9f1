"""The two ported seed examples run end to end offline (real MiniLM + Qdrant engines, promptkit's fake LM)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import dspy
import pytest

from promptkit.retrieval import Embedder

pytestmark = pytest.mark.retrieval

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Examples call dspy.configure: restore DSPy's globals, keep caches out of the home folder."""
    monkeypatch.setenv("PROMPTKIT_EMBED_CACHE", str(tmp_path / "embeddings.sqlite"))
    saved = {"lm": dspy.settings.lm, "rm": dspy.settings.rm, "adapter": dspy.settings.adapter}
    yield
    dspy.configure(**saved)


def test_bioasq_retriever_keeps_the_seed_filter_and_finds_the_anemia_passage(tmp_path: Path) -> None:
    example = load_example("rag_bioasq")
    retriever = example.build_retriever(str(tmp_path / "idx"), k=2, embedder=Embedder(cache=False))
    top = retriever("Which cell may suffer from anemia?")
    assert top[0].source_id == "anemia-rbc" and len(top) == 2
    assert retriever.store.count("bioasq") == 39  # 42 passages, 3 with 20 words or fewer
    retriever.store.close()
    dataset = example.load_dataset()
    assert len(dataset) == 12 and set(dataset[0].inputs().keys()) == {"question"}


def test_bioasq_example_runs_with_the_fake_lm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("promptkit.lm.fake")
    saved = tmp_path / "compiled.json"
    assert load_example("rag_bioasq").main(["--model", "fake", "--save", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "[anemia-rbc]" in out and "Predicted Answer:" in out and "Evaluation after compiling" in out
    assert saved.is_file()


def test_multihop_phones_example_runs_with_the_fake_lm(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("promptkit.lm.fake")
    assert load_example("multihop_phones").main(["--model", "fake", "--hops", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("hop 1: query=") == 2 and out.count("hop 2: query=") == 2
    assert "distinct passages" in out and "indexed 30 reviews" in out


def test_multihop_metric_rejects_long_or_repeated_queries() -> None:
    example = load_example("multihop_phones")
    question = dspy.Example(question="Which phones have good cameras?", answer="x")

    def trace(*queries: str) -> list[tuple[None, dict[str, str], dspy.Prediction]]:
        return [(None, {}, dspy.Prediction(query=q)) for q in queries]

    assert example.validate_answer_and_hops(question, None, trace("low light camera", "front camera selfies"))
    assert not example.validate_answer_and_hops(question, None, trace("x" * 120))
    assert not example.validate_answer_and_hops(question, None, trace("front camera", "front camera"))
