"""Run directories for the viewer's tests, benchmark and screenshots, written by promptkit's own runners.

``make_runs(root)`` invokes the real CLI (``promptkit eval run``, ``eval matrix``, ``compile``, ``chain``)
in-process with a scripted FakeLM answering, so every file the viewer reads is one the runner wrote; only
``retrieval.json`` is written through ``save_result`` from a result built here, because a real retrieval
evaluation needs an embedding model. ``make_large_run`` writes a 50,000-row ``results.jsonl`` in the
runner's row format (the benchmark: running the LM 50,000 times would measure the LM, not the viewer).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.programs import CAPITALS

COUNTRIES = list(CAPITALS)
SECRET = "sk-view-0123456789SECRETKEY"  # leaked into one question; the viewer must show *** instead
SECRET_ENV = "VIEWTEST_API_KEY"
FAILING = "Cuba"  # the LM raises on this row in run A: an error row

PROGRAM = "tests.programs:Capital"  # dspy.Predict("question -> answer"), shared with other test modules

CHAIN = """\
name: notes
inputs:
  text: {type: str}
steps:
  - name: points
    prompt: "Give two points about: {{ text }}"
    output: list
  - name: verdict
    prompt: "Judge: {% for p in points %}{{ p }}. {% endfor %}"
    output: json
    schema: {type: object, required: [ok]}
    inputs: {points: points}
"""


def _country(call: Any) -> str:
    return str(call.inputs["question"]).removeprefix("Capital of ").split("?")[0]


def reply_a(call: Any) -> dict[str, str]:
    """Run A: right on even positions, raises on FAILING."""
    country = _country(call)
    if country == FAILING:
        raise RuntimeError(f"backend refused the request for {country}")
    right = COUNTRIES.index(country) % 2 == 0
    return {"answer": CAPITALS[country] if right else "I am not sure"}


def reply_b(call: Any) -> dict[str, str]:
    """Run B: right on positions 0-7, so odd ones up to 7 improve and 8, 10 regress."""
    country = _country(call)
    return {"answer": CAPITALS[country] if COUNTRIES.index(country) < 8 else "Springfield"}


def reply_compile(call: Any) -> dict[str, str]:
    """Right only when the prompt carries a demo: compiling helps."""
    country = _country(call)
    return {"answer": CAPITALS[country] if call.prompt.count("Capital of") >= 2 else "I am not sure"}


def _invoke(lm: Any, args: list[str]) -> None:
    import dspy
    from typer.testing import CliRunner

    from promptkit.adapter import TemplateAdapter
    from promptkit.cli import app

    with dspy.context(lm=lm, adapter=TemplateAdapter()):
        result = CliRunner().invoke(app, args, catch_exceptions=False)
    if result.exit_code != 0:
        raise RuntimeError(f"promptkit {' '.join(args)} exited {result.exit_code}: {result.output}")


def make_runs(root: Path) -> Path:
    """Under ``root/runs``: eval runs a and b, a matrix, a compile DIR, a chain result, a retrieval eval."""
    from promptkit.lm import FakeLM

    root.mkdir(parents=True, exist_ok=True)
    rows = [
        {"question": f"Capital of {c}?" + (f" (key {SECRET})" if i == 1 else ""), "answer": a}
        for i, (c, a) in enumerate(CAPITALS.items())
    ]
    data = root / "capitals.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    runs = root / "runs"
    program = PROGRAM
    common = ["--data", str(data), "--metric", "exact_match", "--no-progress", "--threads", "2"]
    _invoke(FakeLM(fn=reply_a), ["eval", "run", program, *common, "--out", str(runs / "capitals-a")])
    _invoke(FakeLM(fn=reply_b), ["eval", "run", program, *common, "--out", str(runs / "capitals-b")])
    spec = root / "matrix.yaml"
    spec.write_text(
        f"programs:\n  predict: {program}\n  module: {program}\n"
        f"datasets:\n  capitals: {data}\n  first-half: {root / 'half.jsonl'}\n"
        "metrics: [exact_match]\nthreads: 2\n"
    )
    (root / "half.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:6]))
    _invoke(FakeLM(fn=reply_b), ["eval", "matrix", str(spec), "--out", str(runs / "grid"), "--no-progress"])
    (root / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:6]))
    (root / "val.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[6:]))
    _invoke(
        FakeLM(fn=reply_compile),
        [
            "compile",
            program,
            "--data",
            str(root / "train.jsonl"),
            "--val",
            str(root / "val.jsonl"),
            "--metric",
            "exact_match",
            "--optimizer",
            "bootstrap_fewshot",
            "--option",
            "max_bootstrapped_demos=2",
            "--option",
            "max_labeled_demos=2",
            "--out",
            str(runs / "compiled"),
            "--no-progress",
            "--threads",
            "2",
        ],
    )
    (root / "notes.yaml").write_text(CHAIN)
    chain_lm = FakeLM(["first point; second point", '{"ok": true}'])
    _invoke(
        chain_lm,
        ["chain", str(root / "notes.yaml"), "--input", "text=solar panels", "--output", str(runs / "notes-chain.json")],
    )
    _write_retrieval(runs / "retrieval-small")
    return runs


def _write_retrieval(out: Path) -> None:
    from promptkit.evaluation.retrieval import QueryRow, RetrievalResult, save_result, score_ranking

    relevance = {"q1": {"d1": 1.0}, "q2": {"d4": 1.0}, "q3": {"d9": 1.0}}
    ranked = {"q1": ["d1", "d2", "d3"], "q2": ["d2", "d4", "d5"], "q3": ["d1", "d2", "d3"]}
    rows = [
        QueryRow(
            q,
            f"query {q}",
            [(d, 1.0 - i / 10) for i, d in enumerate(ranked[q])],
            relevance[q],
            score_ranking(ranked[q], relevance[q], 3),
        )
        for q in relevance
    ]
    names = list(rows[0].scores)
    scores = {n: sum(r.scores[n] for r in rows) / len(rows) for n in names}
    result = RetrievalResult(3, scores, rows, "small", store="index", engine="edge", embedder="minilm", mode="dense")
    save_result(result, out, queries="queries.jsonl", qrels="qrels.tsv")


def large_row(index: int, template: dict[str, Any] | None = None) -> dict[str, Any]:
    """A results.jsonl row in the runner's format (keys in its order), about 1.5 kB like a real prompt row."""
    right = index % 3 != 0
    question = f"Capital of country number {index}?"
    system = "Your input fields are:\n1. `question` (str)\nYour output fields are:\n1. `answer` (str)\n" * 4
    return {
        "row_id": f"{index:016x}",
        "index": index,
        "inputs": {"question": question},
        "gold": {"answer": f"c{index}"},
        "prediction": {"answer": f"c{index}" if right else "unsure"},
        "metrics": {"exact_match": {"value": 1.0 if right else 0.0, "status": "ok", "error": None}},
        "error": None,
        "latency_s": 0.01 + (index % 97) / 1000,
        "tokens": {"prompt": 120, "completion": 8, "total": 128},
        "lm_calls": 1,
        "cost": None,
        "model": "fake/fake-lm",
        "cache_hit": False,
        "deployments": None,
        "prompt": [{"role": "system", "content": system}, {"role": "user", "content": f"question: {question}"}],
        "finished_at": "2026-12-04T12:00:00+00:00",
    }


def make_large_run(out: Path, rows: int = 50_000) -> Path:
    """A finished run of ``rows`` rows: results.jsonl, run.json and summary.json through the runner's writers."""
    from promptkit.evaluation.results import RESULTS_FILE, RUN_FILE, SUMMARY_FILE, ResultsWriter, atomic_write_json
    from promptkit.evaluation.summary import RowStats, summarize

    out.mkdir(parents=True, exist_ok=True)
    stats = []
    with ResultsWriter(out / RESULTS_FILE, fsync_every_rows=10_000) as writer:
        for index in range(rows):
            row = large_row(index)
            writer.append(row)
            stats.append(RowStats.from_row(row))
    atomic_write_json(
        out / RUN_FILE,
        {
            "format": "promptkit.eval-run/1",
            "created": "2026-12-04T12:00:00+00:00",
            "program": "bench:Capital",
            "metrics": ["exact_match"],
            "model": "fake/fake-lm",
        },
    )
    summary = summarize(stats, ["exact_match"], rows_total=rows)
    summary.update(
        program="bench:Capital",
        model="fake/fake-lm",
        primary_metric="exact_match",
        finished_at="2026-12-04T12:00:00+00:00",
    )
    atomic_write_json(out / SUMMARY_FILE, summary)
    return out


# ---------------------------------------------------------------------------------------------
# the viewer as users start it, and the browser that looks at it

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def find_chromium() -> str | None:
    """Debian's chromium (which .ci/run installs), or another Chrome on PATH; None when there is none."""
    import os
    import shutil

    for candidate in (os.environ.get("PROMPTKIT_CHROMIUM"), *CHROMIUM_PATHS):
        if candidate and Path(candidate).exists():
            return candidate
    return shutil.which("chromium") or shutil.which("google-chrome")


class RunningViewer:
    """``promptkit view DIR --port P`` in a subprocess on 127.0.0.1, stopped on exit; ``url`` once it answers."""

    def __init__(self, *directories: Path, env: dict[str, str] | None = None, startup_timeout: float = 20.0) -> None:
        self.directories = directories
        self.env = env or {}
        self.timeout = startup_timeout
        self.started_in: float | None = None  # seconds from launch to the first answered request

    def __enter__(self) -> RunningViewer:
        import os
        import socket
        import subprocess
        import sys
        import time
        import urllib.error
        import urllib.request

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        root = Path(__file__).resolve().parents[1]
        env = {**os.environ, **self.env, "PYTHONPATH": str(root)}
        begun = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "promptkit", "view", *map(str, self.directories), "--port", str(self.port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        while time.perf_counter() - begun < self.timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"promptkit view exited {self.process.returncode}: {self.process.stderr.read()}")
            try:
                with urllib.request.urlopen(self.url + "/", timeout=1):
                    self.started_in = time.perf_counter() - begun
                    return self
            except urllib.error.HTTPError as exc:  # it answers, wrongly: no use waiting
                self.__exit__()
                raise RuntimeError(f"promptkit view answered / with {exc.code}") from None
            except OSError:
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError(f"promptkit view did not answer within {self.timeout} s")

    def __exit__(self, *exc: object) -> None:
        import subprocess

        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
