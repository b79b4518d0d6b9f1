"""bootstrap_fewshot and miprov2 (auto=light, a few trials) compile on the embedded model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dspy
import pytest

import promptkit
from promptkit.adapter import TemplateAdapter

pytestmark = [pytest.mark.local, pytest.mark.slow, pytest.mark.usefixtures("memory_only_cache")]
ROOT = Path(__file__).resolve().parents[1]
PROGRAM = f"{ROOT}/benchmarks/ticket_routing.py:TicketRouter"


def rows(name: str, n: int) -> list[dspy.Example]:
    lines = (ROOT / "benchmarks" / "data" / f"ticket_routing_{name}.jsonl").read_text().splitlines()[:n]
    return [dspy.Example(**json.loads(line)).with_inputs("question") for line in lines]


@pytest.fixture(scope="module")
def local() -> Any:
    lm = promptkit.lm("local", max_tokens=32)
    with dspy.context(lm=lm, adapter=TemplateAdapter()):
        yield lm


@pytest.mark.parametrize(
    ("optimizer", "options"),
    [
        ("bootstrap_fewshot", {"max_bootstrapped_demos": 2, "max_labeled_demos": 2}),
        (
            "miprov2",
            {
                "auto": "light",
                "num_trials": 2,
                "num_candidates": 2,
                "max_bootstrapped_demos": 1,
                "max_labeled_demos": 1,
                "data_aware_proposer": False,
            },
        ),
    ],
)
def test_compiles_on_the_embedded_model(local: Any, tmp_path: Path, optimizer: str, options: dict[str, Any]) -> None:
    result = promptkit.compile_to_dir(
        PROGRAM,
        rows("train", 6),
        "exact_match",
        optimizer,
        tmp_path,
        valset=rows("val", 4),
        num_threads=2,
        progress=False,
        **options,
    )
    record = json.loads((tmp_path / "compile.json").read_text())
    assert record["status"] == "done" and record["model"] == local.model
    assert record["lm"]["calls"] > 0 and record["lm"]["tokens"]["total"] > 0  # the embedded model's usage
    assert record["scores"]["after"]["n"] + record["scores"]["after"]["errors"] == 4
    demos = result.program.route.demos
    teams = {"billing", "shipping", "login", "bug"}
    assert len(demos) <= 2 and all(str(d["answer"]).strip().lower() in teams for d in demos)
    if optimizer == "bootstrap_fewshot":  # MIPROv2 may pick a zero-shot candidate as its best
        assert demos
    loaded = promptkit.load(tmp_path / "program.json", program=promptkit.resolve_program(PROGRAM))
    assert [dict(d) for d in loaded.route.demos] == [dict(d) for d in demos]
    assert loaded.route.signature.instructions == result.program.route.signature.instructions
