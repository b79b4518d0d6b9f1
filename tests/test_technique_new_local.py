"""Two of the new techniques end to end on the embedded model (small budgets): the control flow holds on a
real model's replies — they parse, the table operations run in SQLite — whatever the answers are."""

from __future__ import annotations

from typing import Any

import dspy
import pytest

pytest.importorskip("llama_cpp")

from promptkit import techniques
from promptkit.adapter import TemplateAdapter
from promptkit.lm.local import local_lm

pytestmark = [pytest.mark.local, pytest.mark.slow, pytest.mark.usefixtures("memory_only_cache")]

TABLE = "Nation,Gold,Continent\nNorway,16,Europe\nChina,9,Asia\nSweden,8,Europe\n"


@pytest.fixture(scope="module")
def model() -> Any:
    return local_lm(max_tokens=96, cache=False)


def test_chain_of_table_on_the_embedded_model(model: Any) -> None:
    with dspy.context(lm=model, adapter=TemplateAdapter()):
        before = len(model.history)
        prediction = techniques.build("chain_of_table", table=TABLE, max_ops=1)(question="Who won the most gold?")
    assert 2 <= len(model.history) - before <= 3  # plan (+ arguments) + the final query
    assert isinstance(prediction.answer, str) and prediction.final_table.startswith("| row |")
    assert len(prediction.operations) <= 1


def test_maieutic_on_the_embedded_model(model: Any) -> None:
    with dspy.context(lm=model, adapter=TemplateAdapter()):
        before = len(model.history)
        prediction = techniques.build("maieutic", depth=1, max_pairs=0)(question="Can penguins fly?")
    assert len(model.history) - before == 6  # Q's verdict, abduction, 2 judges for each of 2 explanations
    assert prediction.answer in ("True", "False") and len(prediction.nodes) == 3
