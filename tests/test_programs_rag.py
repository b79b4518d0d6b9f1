"""RAG and MultiHopRAG with a scripted LM (DSPy's DummyLM, dict mode: replies chosen by prompt substrings).

Most tests use a keyword retriever (fast, no model); the last ones use the real MiniLM retriever.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import dspy
import pytest
from dspy.utils import DummyLM

from promptkit.errors import ConfigError, InputError
from promptkit.programs import RAG, MultiHopRAG
from promptkit.retrieval import Embedder, Passage, Retriever, build_index

DATA = Path(__file__).resolve().parents[1] / "examples" / "data"

CORPUS = {
    "anemia": "Anemia is a shortage of red blood cells.",
    "insulin": "Insulin is made by the beta cells of the pancreas.",
    "pixel night": "Pixel 8 Pro: best low-light camera.",
    "pixel selfie": "Pixel 8 Pro: autofocus front camera for great selfies.",
    "galaxy": "Galaxy S23 Ultra: superb night photos and a sharp 12 MP front camera.",
}


class KeywordRetriever:
    """Passages whose key shares a word with the query, in corpus order; records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def __call__(self, query: str, k: int = 3, **_: Any) -> list[Passage]:
        self.calls.append((query, k))
        words = set(re.findall(r"\w+", query.lower()))
        hits = [
            Passage(text=text, source_id=key, score=1.0) for key, text in CORPUS.items() if words & set(key.split())
        ]
        return hits[:k]


def qa_lm() -> DummyLM:
    return DummyLM(
        {
            "anemia": {"reasoning": "The context says red blood cells.", "answer": "red blood cells"},
            "insulin": {"reasoning": "The context names beta cells.", "answer": "beta cells"},
        }
    )


def test_rag_retrieves_then_answers_from_the_context() -> None:
    retriever = KeywordRetriever()
    rag = RAG(retriever, k=2)
    lm = qa_lm()
    with dspy.context(lm=lm):
        prediction = rag(question="Which cell may suffer from anemia?")
    assert prediction.answer == "red blood cells"
    assert prediction.context == [CORPUS["anemia"]] and prediction.passages[0].source_id == "anemia"
    assert retriever.calls == [("Which cell may suffer from anemia?", 2)]
    prompt = lm.history[-1]["messages"][-1]["content"]
    assert CORPUS["anemia"] in prompt  # the passages reached the LM as context
    assert "short factoid" in lm.history[-1]["messages"][0]["content"]  # GenerateAnswer's instructions


def test_rag_uses_the_configured_rm_when_given_no_retriever() -> None:
    rag = RAG(k=1)
    with dspy.context(lm=qa_lm(), rm=KeywordRetriever()):
        assert rag(question="what makes insulin?").context == [CORPUS["insulin"]]
    with dspy.context(lm=qa_lm()), pytest.raises(ConfigError, match="no DSPy rm"):
        rag(question="what makes insulin?")
    with pytest.raises(InputError):
        RAG(KeywordRetriever(), k=0)


def test_rag_works_with_the_json_adapter() -> None:
    adapter = dspy.JSONAdapter()
    lm = DummyLM({"anemia": {"reasoning": "r", "answer": "red blood cells"}}, adapter=adapter)
    with dspy.context(lm=lm, adapter=adapter):
        assert RAG(KeywordRetriever(), k=1)(question="anemia?").answer == "red blood cells"


def multihop_lm() -> DummyLM:
    # First matching key wins: hop 1 sees an empty context, hop 2 a filled one, then the answer step.
    return DummyLM(
        {
            "[[ ## context ## ]]\n[]": {"reasoning": "Start with night photos.", "query": "pixel night galaxy"},
            "`[[ ## query ## ]]`": {"reasoning": "Now the front camera.", "query": "pixel selfie galaxy"},
            "`[[ ## answer ## ]]`": {"reasoning": "Both hops name them.", "answer": "Pixel 8 Pro, Galaxy S23 Ultra"},
        }
    )


def test_multihop_writes_a_query_per_hop_retrieves_and_deduplicates() -> None:
    retriever = KeywordRetriever()
    program = MultiHopRAG(retriever, passages_per_hop=3, max_hops=2)
    lm = multihop_lm()
    with dspy.context(lm=lm):
        prediction = program(question="Which phones have great low-light and front cameras?")
    assert [hop["query"] for hop in prediction.hops] == ["pixel night galaxy", "pixel selfie galaxy"]
    assert retriever.calls == [("pixel night galaxy", 3), ("pixel selfie galaxy", 3)]
    first, second = ([p.source_id for p in hop["passages"]] for hop in prediction.hops)
    assert set(first) & set(second)  # the hops overlap...
    assert len(prediction.context) == len(set(prediction.context)) == len(set(first) | set(second))  # ...deduped
    assert prediction.answer == "Pixel 8 Pro, Galaxy S23 Ultra"
    hop2_prompt = lm.history[1]["messages"][-1]["content"]
    assert CORPUS["pixel night"] in hop2_prompt  # hop 2 saw what hop 1 found
    assert len(lm.history) == 3


def test_multihop_rejects_bad_sizes() -> None:
    with pytest.raises(InputError):
        MultiHopRAG(KeywordRetriever(), passages_per_hop=0)


def exact_answer(example: dspy.Example, prediction: dspy.Prediction, trace: Any = None) -> bool:
    return bool(example.answer.lower() == prediction.answer.lower())


def test_compile_save_and_load_rag(tmp_path: Path) -> None:
    trainset = [
        dspy.Example(question="Which cell may suffer from anemia?", answer="red blood cells").with_inputs("question"),
        dspy.Example(question="Which cells make insulin?", answer="beta cells").with_inputs("question"),
    ]
    retriever = KeywordRetriever()
    with dspy.context(lm=qa_lm()):
        compiled = dspy.BootstrapFewShot(metric=exact_answer, max_bootstrapped_demos=2, max_labeled_demos=2).compile(
            RAG(retriever, k=2), trainset=trainset
        )
    demos = compiled.generate_answer.predict.demos
    assert len(demos) == 2 and all(d.get("augmented") for d in demos)
    assert demos[0]["context"] == [CORPUS["anemia"]]  # demos include the retrieved context
    assert compiled.retriever is retriever  # DSPy's deep copies share the retriever, never copy it
    path = tmp_path / "rag.json"
    compiled.save(str(path))
    state = json.loads(path.read_text(encoding="utf-8"))
    assert "generate_answer.predict" in state and "retriever" not in json.dumps(list(state))
    loaded = RAG(KeywordRetriever(), k=2)
    loaded.load(str(path))
    assert [d["answer"] for d in loaded.generate_answer.predict.demos] == [d["answer"] for d in demos]
    lm = qa_lm()
    with dspy.context(lm=lm):
        assert loaded(question="Which cells make insulin?").answer == "beta cells"
    assert CORPUS["anemia"] in json.dumps(lm.history[-1]["messages"])  # the loaded demo is in the prompt


def test_compile_save_and_load_multihop(tmp_path: Path) -> None:
    trainset = [
        dspy.Example(
            question="Which phones have great low-light and front cameras?", answer="Pixel 8 Pro, Galaxy S23 Ultra"
        ).with_inputs("question")
    ]
    with dspy.context(lm=multihop_lm()):
        compiled = dspy.BootstrapFewShot(metric=exact_answer, max_bootstrapped_demos=1).compile(
            MultiHopRAG(KeywordRetriever()), trainset=trainset
        )
    assert compiled.generate_query[1].predict.demos[0]["query"] == "pixel selfie galaxy"
    compiled.save(str(tmp_path / "multihop.json"))
    loaded = MultiHopRAG(KeywordRetriever())
    loaded.load(str(tmp_path / "multihop.json"))
    assert loaded.generate_query[0].predict.demos[0]["query"] == "pixel night galaxy"


@pytest.mark.retrieval
def test_rag_and_multihop_over_the_real_retriever(tmp_path: Path) -> None:
    embedder = Embedder(cache=tmp_path / "c.sqlite")
    spec = f"memory:{uuid.uuid4().hex}"
    build_index(DATA / "phone_reviews.jsonl", "phones", store=spec, embedder=embedder)
    retriever = Retriever(spec, embedder, "phones", k=3)
    with dspy.context(lm=multihop_lm()):
        prediction = MultiHopRAG(retriever, passages_per_hop=3)(question="low-light and front camera phones?")
    assert all(len(hop["passages"]) == 3 for hop in prediction.hops)
    assert all(isinstance(p.score, float) for hop in prediction.hops for p in hop["passages"])
    assert len(prediction.context) == len(set(prediction.context)) <= 6
    with dspy.context(lm=DummyLM({"camera": {"reasoning": "r", "answer": "Pixel"}}), rm=retriever):
        rag = RAG(k=2)  # via dspy.configure(rm=...), as the seed did
        assert len(rag(question="Which phone has the best night camera?").context) == 2


def test_rag_and_multihop_through_the_template_adapter_with_fake_lm() -> None:
    """The programs' prompts go through promptkit's TemplateAdapter: passages numbered in the TASK."""
    from promptkit.adapter import TemplateAdapter
    from promptkit.lm import FakeLM

    retriever = KeywordRetriever()
    fake = FakeLM(
        fn=lambda call: (
            {"reasoning": "context", "answer": "red blood cells"}
            if "answer" in call.output_fields
            else {"reasoning": "search", "query": "anemia blood"}
        )
    )
    with dspy.context(lm=fake, adapter=TemplateAdapter()):
        single = RAG(retriever, k=2)(question="Which cell may suffer from anemia?")
        multi = MultiHopRAG(retriever, passages_per_hop=2, max_hops=2)(question="Which cell may suffer from anemia?")
    assert single.answer == multi.answer == "red blood cells"
    answer_prompt = fake.calls[0].messages[-1]["content"]
    assert "<TASK>" in answer_prompt and "[1] Anemia is a shortage of red blood cells." in answer_prompt
    assert [hop["query"] for hop in multi.hops] == ["anemia blood", "anemia blood"]
    assert multi.context.count("Anemia is a shortage of red blood cells.") == 1  # deduplicated across hops
