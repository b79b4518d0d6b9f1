"""compile (DSPy optimizers), save_program (JSON, atomic, no secrets) and load (metadata checks)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import dspy
import pytest
from test_evaluation_helpers import exact, qa_examples, qa_lm

from promptkit.errors import DataError, InputError, MissingDependencyError
from promptkit.optimize import ProgramVersionWarning, compile, load, read_metadata, save_program

SECRET = "sk-test-0123456789abcdefSECRET"


class TwoStep(dspy.Module):
    """A small two-predictor program (importable, no-arg constructor: load() can rebuild it)."""

    def __init__(self) -> None:
        super().__init__()
        self.rephrase = dspy.Predict("question -> answer")
        self.answer = dspy.ChainOfThought("question -> answer")

    def forward(self, question: str) -> dspy.Prediction:
        self.rephrase(question=question)
        return self.answer(question=question)


class NeedsArgs(dspy.Module):
    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k
        self.answer = dspy.Predict("question -> answer")

    def forward(self, question: str) -> dspy.Prediction:
        return self.answer(question=question)


@pytest.fixture()
def lm() -> Any:
    _, table = qa_examples(30)
    model, _ = qa_lm(table)
    with dspy.context(lm=model):
        yield model


def test_compile_save_load_round_trip_gives_identical_predictions(lm: Any, tmp_path: Path) -> None:
    train, _ = qa_examples(8)
    dev, _ = qa_examples(30)
    path = tmp_path / "two_step.json"
    compiled = compile(
        TwoStep(),
        train,
        exact,
        max_bootstrapped_demos=2,
        max_labeled_demos=3,
        valset=dev[20:],
        save=path,
        progress=False,
    )
    assert len(compiled.answer.predict.demos) == 3
    loaded = load(path)  # class recorded as module:QualName, rebuilt without arguments
    assert type(loaded) is TwoStep and loaded is not compiled
    assert [dict(d) for d in loaded.answer.predict.demos] == [dict(d) for d in compiled.answer.predict.demos]
    for example in dev[20:25]:
        first = compiled(question=example.question)
        sent_first = lm.history[-1]["messages"]
        second = loaded(question=example.question)
        assert second.toDict() == first.toDict()
        assert lm.history[-1]["messages"] == sent_first  # same prompt, demos included
    meta = read_metadata(path)
    assert meta["optimizer"] == "bootstrap_fewshot" and meta["metric"] == "exact" and meta["train_size"] == 8
    assert meta["score"] == 1.0 and meta["model"] == "local/qa" and meta["dspy_version"] == dspy.__version__
    assert meta["options"] == {"max_bootstrapped_demos": 2, "max_labeled_demos": 3}
    assert meta["saved_at"] and meta["promptkit_version"]
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temp file


def test_saved_file_holds_no_secret(lm: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_secret = "env-secret-value-987654321"
    monkeypatch.setenv("SOMEPROVIDER_API_KEY", env_secret)
    train, _ = qa_examples(4)
    program = compile(TwoStep(), train, exact, optimizer="labeled_fewshot", k=2, progress=False)
    program.rephrase.lm = dspy.LM(
        "openai/gpt-4o-mini",
        api_key=SECRET,
        api_base="http://admin:hunter2pass@10.0.0.1:8000/v1",
        extra_headers={"Authorization": f"Bearer {SECRET}"},
    )
    program.answer.predict.demos[0]["question"] = f"leaked {env_secret} in a demo"
    path = save_program(program, tmp_path / "p.json")
    text = path.read_text()
    for secret in (SECRET, env_secret, "hunter2pass"):
        assert secret not in text
    state = json.loads(text)
    assert state["rephrase"]["lm"]["model"] == "openai/gpt-4o-mini"  # the LM settings themselves are kept
    assert "10.0.0.1:8000" in text


def test_load_warns_when_versions_differ(lm: Any, tmp_path: Path) -> None:
    class VersionedAdapter(dspy.ChatAdapter):
        template_version = "v1"

    train, _ = qa_examples(3)
    program = compile(TwoStep(), train, exact, optimizer="labeled_fewshot", k=2, progress=False)
    with dspy.context(adapter=VersionedAdapter()):
        path = save_program(program, tmp_path / "p.json")
    assert read_metadata(path)["template_versions"] == {"adapter": "v1"}
    document = json.loads(path.read_text())
    document["metadata"]["dspy_version"] = "2.4.0"
    path.write_text(json.dumps(document))
    VersionedAdapter.template_version = "v2"
    with dspy.context(adapter=VersionedAdapter()), pytest.warns(ProgramVersionWarning) as caught:
        load(path)
    messages = " ".join(str(w.message) for w in caught)
    assert "DSPy 2.4.0" in messages and "templates changed" in messages


def test_load_needs_an_instance_when_the_class_takes_arguments(lm: Any, tmp_path: Path) -> None:
    program = NeedsArgs(3)
    program.answer.demos = [dspy.Example(question="q1", answer="a1")]
    path = save_program(program, tmp_path / "n.json")
    with pytest.raises(InputError, match="program=MyProgram"):
        load(path)
    loaded = load(path, program=NeedsArgs(3))
    assert loaded.answer.demos[0]["answer"] == "a1"  # DSPy restores demos as dicts
    with pytest.raises(DataError, match="does not fit"), pytest.warns(ProgramVersionWarning, match="saved from"):
        load(path, program=TwoStep())


def test_bad_files_and_options(lm: Any, tmp_path: Path) -> None:
    train, _ = qa_examples(3)
    with pytest.raises(InputError, match="JSON only"):
        save_program(TwoStep(), tmp_path / "p.pkl")
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(DataError, match="not a program saved by promptkit"):
        load(tmp_path / "other.json")
    with pytest.raises(InputError, match=r"known options: .*max_bootstrapped_demos"):
        compile(TwoStep(), train, exact, max_demos=2, progress=False)
    with pytest.raises(InputError, match="unknown optimizer"):
        compile(TwoStep(), train, exact, optimizer="nope", progress=False)
    with pytest.raises(InputError, match="needs a metric"):
        compile(TwoStep(), train, None, progress=False)


def test_a_missing_optional_dependency_names_the_extra(lm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "optuna" else real(name, *a))
    train, _ = qa_examples(3)
    with pytest.raises(MissingDependencyError, match=r"needs optuna.*\n.*pip install 'promptkit\[optimize\]'"):
        compile(TwoStep(), train, exact, optimizer="miprov2", progress=False)


def test_random_search_compiles_with_a_valset(lm: Any) -> None:
    train, _ = qa_examples(6)
    dev, _ = qa_examples(10)
    compiled = compile(
        TwoStep(),
        train,
        exact,
        optimizer="bootstrap_random_search",
        valset=dev[6:],
        num_candidate_programs=2,
        max_bootstrapped_demos=1,
        max_labeled_demos=2,
        num_threads=2,
        progress=False,
    )
    assert compiled(question="q7").answer == "a7"
    assert hasattr(compiled, "candidate_programs") and compiled.candidate_programs


def test_long_demo_text_survives_save_and_load(tmp_path: Path) -> None:
    program = TwoStep()
    long_context = "word " * 6000  # 30,000 characters: result rows cut such strings, saved programs must not
    program.rephrase.demos = [dspy.Example(question=long_context, answer="a")]
    loaded = load(save_program(program, tmp_path / "long.json"))
    assert loaded.rephrase.demos[0]["question"] == long_context
