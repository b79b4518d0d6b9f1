"""The evaluation runner: streaming results, errors, max_errors, resume, retry-errors, caching."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import dspy
import pytest
from test_evaluation_helpers import exact, qa_examples, qa_lm

from promptkit.errors import InputError
from promptkit.evaluation import evaluate
from promptkit.evaluation.results import RESULTS_FILE, iter_rows

REPO = Path(__file__).resolve().parents[1]


def lines(out: Path) -> list[dict[str, Any]]:
    return [row for _, row in iter_rows(out / RESULTS_FILE)]


def test_a_row_names_the_template_versions_its_prompts_came_from(tmp_path: Path) -> None:
    from promptkit.adapter import TemplateAdapter

    examples, table = qa_examples(2)
    lm, _ = qa_lm(table)
    adapter = TemplateAdapter()
    with dspy.context(lm=lm, adapter=adapter):
        result = evaluate(dspy.Predict("question -> answer"), examples, [exact], out=tmp_path, progress=False)
    assert [row["template_versions"] for row in result.rows] == [[f"dspy/chat.j2@{adapter.template.version}"]] * 2
    with dspy.context(lm=lm, adapter=dspy.ChatAdapter()):  # DSPy's own adapter renders no template
        plain = evaluate(dspy.Predict("question -> answer"), examples, [exact], out=tmp_path / "chat", progress=False)
    assert [row["template_versions"] for row in plain.rows] == [None, None]


def test_scores_rows_and_record_shape(tmp_path: Path) -> None:
    examples, table = qa_examples(12, wrong_every=4)  # rows 0, 4, 8 are wrong
    lm, engine = qa_lm(table)
    with dspy.context(lm=lm):
        result = evaluate(
            dspy.Predict("question -> answer"), examples, [exact], num_threads=3, out=tmp_path, progress=False
        )
    assert result.scores == {"exact": pytest.approx(9 / 12)}
    assert engine.calls == 12
    rows = result.rows
    assert [r["index"] for r in rows] == list(range(12))
    first = rows[0]
    assert first["inputs"] == {"question": "q0"} and first["gold"] == {"answer": "a0"}
    assert first["prediction"] == {"answer": "wrong0"}
    assert first["metrics"]["exact"] == {"value": 0.0, "status": "ok", "error": None}
    assert first["tokens"] == {"prompt": 10, "completion": 2, "total": 12}
    assert first["model"] == "local/qa" and first["cache_hit"] is False and first["lm_calls"] == 1
    assert any("q0" in m["content"] for m in first["prompt"])  # the prompt of the row's LM call
    assert "wrong0" in first["reply"]  # the raw reply of that call, before the adapter parsed it
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["rows_done"] == 12 and summary["tokens"]["total"] == 12 * 12
    assert summary["metrics"]["exact"]["n"] == 12
    assert len({r["row_id"] for r in rows}) == 12


def test_without_out_keeps_rows_in_memory() -> None:
    examples, table = qa_examples(5)
    lm, _ = qa_lm(table)
    with dspy.context(lm=lm):
        result = evaluate(dspy.Predict("question -> answer"), examples, exact, progress=False)
    assert result.out is None and result.score == 1.0 and len(result.rows) == 5 and result.errors == []


def test_rows_are_written_as_they_complete(tmp_path: Path) -> None:
    release = threading.Event()

    def program(question: str) -> dspy.Prediction:
        if question == "q5":
            assert release.wait(10), "test did not release the blocked row"
        return dspy.Prediction(answer="a" + question[1:])

    examples, _ = qa_examples(8)
    runner = threading.Thread(
        target=evaluate,
        args=(program, examples, [exact]),
        kwargs={"num_threads": 1, "out": tmp_path, "progress": False},
    )
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(lines(tmp_path)) < 5:
            time.sleep(0.02)
        written = lines(tmp_path)  # row 5 is still running: rows 0-4 must already be on disk
        assert [r["index"] for r in written] == [0, 1, 2, 3, 4]
    finally:
        release.set()
        runner.join(10)
    assert len(lines(tmp_path)) == 8


def test_program_errors_and_metric_errors_are_recorded_not_scored(tmp_path: Path) -> None:
    def program(question: str) -> dspy.Prediction:
        if question in {"q1", "q3"}:
            raise ValueError(f"cannot answer {question}")
        return dspy.Prediction(answer="a" + question[1:])

    def fragile(example: Any, prediction: Any) -> float:
        if example.question == "q2":
            raise RuntimeError("judge timed out")
        return 1.0

    examples, _ = qa_examples(6)
    result = evaluate(program, examples, [exact, fragile], out=tmp_path, progress=False)
    by_index = {r["index"]: r for r in result.rows}
    assert by_index[1]["error"] == {"type": "ValueError", "message": "cannot answer q1"}
    assert by_index[1]["prediction"] is None
    assert by_index[1]["metrics"]["exact"]["status"] == "skipped"
    assert by_index[2]["metrics"]["fragile"] == {
        "value": None,
        "status": "error",
        "error": "RuntimeError: judge timed out",
    }
    # means are over ok rows only: an error is never a silent 0
    assert result.scores == {"exact": 1.0, "fragile": 1.0}
    assert result.summary["errors"] == 2 and result.summary["metric_errors"] == 1
    assert result.summary["metrics"]["fragile"]["n"] == 3
    assert sorted(r["index"] for r in result.errors) == [1, 2, 3]


def test_metric_returning_garbage_is_an_error() -> None:
    examples, _ = qa_examples(2)
    result = evaluate(
        lambda question: dspy.Prediction(answer="x"), examples, [lambda example, prediction: "yes"], progress=False
    )
    outcome = result.rows[0]["metrics"]["<lambda>"]
    assert outcome["status"] == "error" and "number or a bool" in outcome["error"]
    assert result.score is None


def test_max_errors_stops_early_but_keeps_finished_rows(tmp_path: Path) -> None:
    def program(question: str) -> dspy.Prediction:
        if int(question[1:]) >= 3:
            raise RuntimeError("backend down")
        return dspy.Prediction(answer="a" + question[1:])

    examples, _ = qa_examples(30)
    result = evaluate(program, examples, [exact], num_threads=1, out=tmp_path, max_errors=2, progress=False)
    assert result.stopped_early and "max_errors=2" in result.stopped_early
    written = [r["index"] for r in lines(tmp_path)]
    # 3 good rows + the 2 failures, nothing lost; a row already in flight (5) may finish and is kept too
    assert written[:5] == [0, 1, 2, 3, 4] and written in ([0, 1, 2, 3, 4], [0, 1, 2, 3, 4, 5])
    assert result.summary["rows_total"] == 30 and result.summary["rows_done"] == len(written)
    assert result.score == 1.0
    # the kept rows count when the run is resumed
    with pytest.warns(UserWarning, match="started with program"):  # another function: said, not refused
        resumed = evaluate(
            lambda question: dspy.Prediction(answer="a" + question[1:]),
            examples,
            [exact],
            out=tmp_path,
            resume=True,
            progress=False,
        )
    assert resumed.summary["rows_done"] == 30 and resumed.summary["errors"] == len(written) - 3


def test_retry_errors_reruns_only_failed_rows_and_keeps_one_line_each(tmp_path: Path) -> None:
    examples, _ = qa_examples(10)
    seen: list[str] = []

    def flaky(question: str) -> dspy.Prediction:
        seen.append(question)
        if question in {"q2", "q7"}:
            raise TimeoutError("rate limited")
        return dspy.Prediction(answer="a" + question[1:])

    first = evaluate(flaky, examples, [exact], out=tmp_path, progress=False)
    assert first.summary["errors"] == 2
    seen.clear()

    def fixed(question: str) -> dspy.Prediction:
        seen.append(question)
        return dspy.Prediction(answer="a" + question[1:])

    with pytest.warns(UserWarning, match="started with program"):
        second = evaluate(fixed, examples, [exact], out=tmp_path, retry_errors=True, progress=False)
    assert sorted(seen) == ["q2", "q7"]
    written = lines(tmp_path)
    assert len(written) == 10 and len({r["row_id"] for r in written}) == 10  # compacted: latest per row
    assert second.summary["errors"] == 0 and second.score == 1.0


def test_out_dir_with_results_needs_resume(tmp_path: Path) -> None:
    examples, _ = qa_examples(3)
    program = lambda question: dspy.Prediction(answer="a" + question[1:])  # noqa: E731
    evaluate(program, examples, [exact], out=tmp_path, progress=False)
    with pytest.raises(InputError, match="already holds results"):
        evaluate(program, examples, [exact], out=tmp_path, progress=False)
    with pytest.raises(InputError, match="metrics"):
        evaluate(program, examples, [exact, lambda e, p: 1.0], out=tmp_path, resume=True, progress=False)
    again = evaluate(program, examples, [exact], out=tmp_path, resume=True, progress=False)
    assert again.summary["rows_this_run"] == 0 and again.summary["rows_done"] == 3


def test_bad_arguments_are_input_errors() -> None:
    examples, _ = qa_examples(2)
    with pytest.raises(InputError, match="fail_under"):
        evaluate(exact, examples, [exact], fail_under=80)
    with pytest.raises(InputError, match="out"):
        evaluate(exact, examples, [exact], resume=True)
    with pytest.raises(InputError, match="input keys"):
        evaluate(exact, [dspy.Example(question="q")], [exact], progress=False)


def test_partial_last_line_from_a_kill_is_dropped_on_resume(tmp_path: Path) -> None:
    examples, _ = qa_examples(6)
    program = lambda question: dspy.Prediction(answer="a" + question[1:])  # noqa: E731
    evaluate(program, examples[:4], [exact], out=tmp_path, progress=False)
    with (tmp_path / RESULTS_FILE).open("a") as handle:
        handle.write('{"row_id": "deadbeef", "index": 4, "inputs": {"quest')  # torn write, no newline
    assert len(lines(tmp_path)) == 4  # readers skip the torn tail
    result = evaluate(program, examples, [exact], out=tmp_path, resume=True, progress=False)
    written = lines(tmp_path)
    assert sorted(r["index"] for r in written) == list(range(6)) and result.summary["rows_done"] == 6


KILLED_RUN = textwrap.dedent(
    """
    import sys, time, dspy
    from promptkit.evaluation import evaluate

    def slow(question):
        time.sleep(0.15)
        return dspy.Prediction(answer="a" + question[1:])

    def exact(example, prediction):
        return example.answer == prediction.answer

    examples = [dspy.Example(question=f"q{i}", answer=f"a{i}").with_inputs("question") for i in range(40)]
    evaluate(slow, examples, [exact], num_threads=2, out=sys.argv[1], progress=False)
    """
)


def test_resume_after_kill_9_runs_each_missing_row_exactly_once(tmp_path: Path) -> None:
    script = tmp_path / "killed_run.py"
    script.write_text(KILLED_RUN)
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, str(script), str(out)], env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(lines(out)) < 8:
            time.sleep(0.05)
        assert process.poll() is None, "the run finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    finished = {r["inputs"]["question"] for r in lines(out)}
    assert 8 <= len(finished) < 40

    recomputed: list[str] = []

    def counting(question: str) -> dspy.Prediction:
        recomputed.append(question)
        return dspy.Prediction(answer="a" + question[1:])

    examples, _ = qa_examples(40)
    with pytest.warns(UserWarning, match="started with program 'slow'"):
        result = evaluate(counting, examples, [exact], num_threads=2, out=out, resume=True, progress=False)
    written = lines(out)
    assert len(written) == 40 and len({r["row_id"] for r in written}) == 40
    assert sorted(r["index"] for r in written) == list(range(40))
    assert not finished & set(recomputed)  # rows finished before the kill were not recomputed
    assert len(recomputed) == 40 - len(finished)
    assert result.score == 1.0 and result.summary["rows_done"] == 40


def test_rerun_is_served_from_the_dspy_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dspy, "cache", dspy.cache)  # restored after the test
    dspy.configure_cache(enable_disk_cache=True, enable_memory_cache=True, disk_cache_dir=str(tmp_path / "cache"))
    examples, table = qa_examples(8)
    lm, engine = qa_lm(table, cache=True)
    program = dspy.Predict("question -> answer")
    with dspy.context(lm=lm):
        first = evaluate(program, examples, [exact], out=tmp_path / "one", progress=False)
        calls = engine.calls
        second = evaluate(program, examples, [exact], out=tmp_path / "two", progress=False)
    assert calls == 8 and engine.calls == calls  # the rerun made no LM call
    assert all(r["cache_hit"] for r in second.rows) and not any(r["cache_hit"] for r in first.rows)
    assert second.summary["cache_hits"] == 8 and second.summary["tokens"]["total"] == 0
    assert second.scores == first.scores


def test_dataset_path_and_limit(tmp_path: Path) -> None:
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps({"question": f"q{i}", "answer": f"a{i}"}) + "\n" for i in range(7)))
    result = evaluate(
        lambda question: dspy.Prediction(answer="a" + question[1:]), data, [exact], limit=4, progress=False
    )
    assert result.summary["rows_total"] == 4 and result.score == 1.0


def test_secrets_never_reach_the_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-live-abcdef0123456789"
    monkeypatch.setenv("ACME_API_KEY", secret)

    def leaky(question: str) -> dspy.Prediction:
        raise PermissionError(f"401: invalid key {secret} for {question}")

    examples, _ = qa_examples(2)
    result = evaluate(leaky, examples, [exact], out=tmp_path, progress=False)
    assert result.rows[0]["error"]["message"] == "401: invalid key *** for q0"
    for path in tmp_path.iterdir():
        assert secret.encode() not in path.read_bytes(), path.name


def test_interrupt_keeps_finished_rows_on_disk(tmp_path: Path) -> None:
    def program(question: str) -> dspy.Prediction:
        if question == "q3":
            raise KeyboardInterrupt  # what Ctrl-C looks like from inside a row
        return dspy.Prediction(answer="a" + question[1:])

    examples, _ = qa_examples(10)
    with pytest.raises(KeyboardInterrupt):
        evaluate(program, examples, [exact], num_threads=1, out=tmp_path, progress=False)
    kept = [r["index"] for r in lines(tmp_path)]
    assert kept[:3] == [0, 1, 2] and 3 not in kept  # a row that finished alongside (4) may be kept too
    with pytest.warns(UserWarning, match="started with program"):
        resumed = evaluate(
            lambda question: dspy.Prediction(answer="a" + question[1:]),
            examples,
            [exact],
            out=tmp_path,
            resume=True,
            progress=False,
        )
    assert resumed.summary["rows_this_run"] == 10 - len(kept) and resumed.score == 1.0
