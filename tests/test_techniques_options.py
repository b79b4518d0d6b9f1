"""Family options: one declaration and one set of defaults per family, checked once, listed by the
registry; the retrieval family's routing; the CoT trigger phrase written in one place."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptkit import techniques
from promptkit.errors import InputError
from promptkit.prompts import bundled_templates_dir
from promptkit.techniques.options import Retrieval

VOTERS = ["self_consistency", "ensemble_refinement", "federated_sc", "verify_and_edit", "cok", "complex_cot"]


@pytest.mark.parametrize("technique_id", VOTERS)
def test_the_sampling_family_has_one_set_of_defaults(technique_id: str) -> None:
    sampling = techniques.build(technique_id).sampling
    # complex_cot is one call unless asked to sample; every other default is shared.
    n = 1 if technique_id == "complex_cot" else 5
    assert (sampling.n, sampling.temperature, sampling.num_threads) == (n, 0.7, 1)
    assert sampling.voted == "answer"
    assert {"n", "temperature", "field", "normalize", "num_threads"} <= set(techniques.get(technique_id).option_names())


def test_a_technique_in_two_families_lists_and_checks_both() -> None:
    names = techniques.get("verify_and_edit").option_names()
    assert {"max_questions", "threshold", "retriever", "k", "n"} <= set(names)
    with pytest.raises(InputError) as caught:
        techniques.build("verify_and_edit", top_p=0.5)
    assert "top_p" in str(caught.value) and "threshold" in str(caught.value)
    with pytest.raises(InputError, match="k=0"):
        techniques.build("step_back", k=0)


def test_retrieval_routes_named_sources_and_keeps_k() -> None:
    from promptkit.techniques.base import as_signature

    sig = as_signature("question -> answer", "cok")
    wiki = Retrieval.parse(
        "cok", sig, {"retriever": {"Wiki": lambda q: [f"w:{q}", "w2", "w3"], "med": lambda q: f"m:{q}"}, "k": 2}
    )
    assert wiki.sources == ["Wiki", "med"]
    assert wiki.search("x", "MED") == ("med", ["m:x"])
    assert wiki.search("x", "unknown") == ("Wiki", ["w:x", "w2"])  # an unknown name falls back to the first
    assert Retrieval.parse("cok", sig, {}).search("x") == (None, [])


def test_the_zero_shot_trigger_is_written_once() -> None:
    phrase = "Let's think step by step."
    templates = [p for p in bundled_templates_dir().rglob("*.j2") if phrase in p.read_text(encoding="utf-8")]
    assert [p.name for p in templates] == ["cot.j2"]
    package = Path(techniques.__file__).parent
    assert not [p.name for p in package.rglob("*.py") if phrase in p.read_text(encoding="utf-8")]
    for technique_id in ("cot_zeroshot", "self_consistency", "cok", "ensemble_refinement", "verify_and_edit"):
        rendered = [p.signature.instructions for _, p in techniques.build(technique_id).named_predictors()]
        assert any(phrase in text for text in rendered), technique_id
