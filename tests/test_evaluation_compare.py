"""compare (paired test, flipped rows) and matrix (programs × models × datasets)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import dspy
import pytest
from test_evaluation_helpers import exact, qa_examples, qa_lm

from promptkit.errors import InputError
from promptkit.evaluation import compare, evaluate, matrix


def answer_with(wrong: set[int]) -> Any:
    def program(question: str) -> dspy.Prediction:
        i = int(question[1:])
        return dspy.Prediction(answer=f"x{i}" if i in wrong else f"a{i}")

    return program


def test_compare_binary_metric_uses_exact_mcnemar(tmp_path: Path) -> None:
    examples, _ = qa_examples(40)
    a_wrong = set(range(0, 40, 2))  # A gets half wrong
    b_wrong = {0, 2, 5}  # B fixes 18 of A's mistakes and breaks row 5
    evaluate(answer_with(a_wrong), examples, [exact], out=tmp_path / "a", progress=False)
    evaluate(answer_with(b_wrong), examples, [exact], out=tmp_path / "b", progress=False)
    result = compare(tmp_path / "a", tmp_path / "b")
    assert result.metric == "exact" and result.test == "McNemar (exact)"
    assert result.n_common == result.n_paired == 40
    assert [r["index"] for r in result.regressed] == [5]
    assert len(result.improved) == 18 and all(r["index"] % 2 == 0 for r in result.improved)
    assert result.diff == pytest.approx((37 - 20) / 40)
    assert result.p_value == pytest.approx(2 * sum(math.comb(19, i) for i in range(2)) / 2**19)
    assert result.significant() and result.ci95 is not None and result.ci95[0] > 0
    # the same runs the other way round: the sign of the difference flips, the p-value does not
    back = compare(tmp_path / "b", tmp_path / "a")
    assert back.diff == pytest.approx(-(37 - 20) / 40) and back.p_value == pytest.approx(result.p_value)


def test_compare_continuous_metric_and_unpaired_rows(tmp_path: Path) -> None:
    examples, _ = qa_examples(12)

    def closeness(shift: float) -> Any:
        def metric(example: Any, prediction: Any) -> float:
            return min(1.0, 0.5 + shift + int(example.question[1:]) / 100)

        metric.__name__ = "closeness"
        return metric

    evaluate(answer_with(set()), examples, [closeness(0.0)], out=tmp_path / "a", progress=False)
    evaluate(answer_with(set()), examples[:10], [closeness(-0.2)], out=tmp_path / "b", progress=False)
    result = compare(tmp_path / "a", tmp_path / "b", threshold=0.5)
    assert result.test == "sign test" and result.n_common == 10 and result.only_a == 2
    assert result.diff == pytest.approx(-0.2)
    assert result.p_value == pytest.approx(2 / 2**10)
    assert len(result.regressed) == 10 and not result.improved


def test_compare_rejects_a_metric_missing_from_a_run(tmp_path: Path) -> None:
    examples, _ = qa_examples(3)
    evaluate(answer_with(set()), examples, [exact], out=tmp_path / "a", progress=False)
    evaluate(answer_with(set()), examples, [lambda e, p: 1.0], out=tmp_path / "b", progress=False)
    with pytest.raises(InputError, match="not in both runs"):
        compare(tmp_path / "a", tmp_path / "b")
    with pytest.raises(InputError, match="not an evaluation run"):
        compare(tmp_path / "a", tmp_path / "missing")


def test_matrix_runs_every_cell_into_its_own_directory(tmp_path: Path) -> None:
    examples, table = qa_examples(6, wrong_every=3)
    data_file = tmp_path / "more.jsonl"
    data_file.write_text("".join(json.dumps({"question": f"q{i}", "answer": f"a{i}"}) + "\n" for i in range(4)))
    good_lm, _ = qa_lm({f"q{i}": f"a{i}" for i in range(6)})
    bad_lm, _ = qa_lm(table)
    result = matrix(
        {"predict": dspy.Predict("question -> answer"), "cot": dspy.ChainOfThought("question -> answer")},
        {"good": good_lm, "bad": bad_lm},
        {"mem": examples, "file": data_file},
        [exact],
        out=tmp_path / "m",
        progress=False,
    )
    assert len(result.cells) == 8 and all(c.error is None for c in result.cells)
    scores = {(c.program, c.model, c.dataset): c.scores["exact"] for c in result.cells}
    assert scores[("predict", "good", "mem")] == 1.0 and scores[("cot", "bad", "mem")] == pytest.approx(4 / 6)
    assert scores[("cot", "bad", "file")] == pytest.approx(2 / 4)
    assert (tmp_path / "m" / "cot__bad__file" / "results.jsonl").exists()
    table_md = (tmp_path / "m" / "matrix.md").read_text()
    assert table_md.count("\n") == 2 + 8 and "| cot | bad | file | 0.500 |" in table_md
    # a cell that cannot run is recorded; the others still run
    broken = matrix(
        {"predict": dspy.Predict("question -> answer")},
        {"good": good_lm},
        {"missing": tmp_path / "nope.jsonl", "mem": examples},
        [exact],
        progress=False,
    )
    assert broken.cells[0].error and broken.cells[1].scores["exact"] == 1.0
