"""report.html / report.md: summary, worst rows, prompts on demand, the plot (or the note)."""

from __future__ import annotations

import base64
import importlib.util
from pathlib import Path

import dspy
import pytest
from test_evaluation_helpers import exact, qa_examples, qa_lm

from promptkit.evaluation import evaluate, write_report
from promptkit.evaluation.report import NO_PLOT_NOTE, summary_table

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    examples, table = qa_examples(30, wrong_every=7)  # rows 0, 7, 14, 21, 28 answer wrongly
    lm, _ = qa_lm(table)
    program = dspy.Predict("question -> answer")

    def flaky(question: str) -> dspy.Prediction:
        if question == "q3":
            raise ValueError("<script>boom</script>")
        return program(question=question)

    with dspy.context(lm=lm):
        evaluate(flaky, examples, [exact], out=tmp_path, progress=False)
    return tmp_path


def _worst_rows_section(run_dir: Path) -> str:
    """The HTML after the plot: the embedded base64 PNG may contain short strings like ``q29`` by chance."""
    return (run_dir / "report.html").read_text().split("<h2>Worst rows</h2>", 1)[1]


def test_report_files_and_worst_rows(run_dir: Path) -> None:
    html = _worst_rows_section(run_dir)
    md = (run_dir / "report.md").read_text()
    for wrong in ("wrong0", "wrong7", "wrong14", "wrong21", "wrong28"):
        assert wrong in html and wrong in md
    # the failed row comes first, its error escaped (the report is self-contained HTML)
    assert html.index("ValueError") < html.index("wrong0")
    assert "&lt;script&gt;boom" in html and "<script>boom" not in html
    assert "<script>" not in md  # Markdown viewers render inline HTML too
    # rows that scored 1 are not "worst", even when fewer than `worst` rows failed
    assert "&quot;q1&quot;" not in html and '"q1"' not in md and "&quot;q3&quot;" in html
    assert "| exact | 0.828 |" in md  # 24 right of the 29 rows that ran (q3 failed and is not scored)
    # only the worst rows: the failure, then the wrong answers in dataset order
    write_report(run_dir, worst=5)
    html = _worst_rows_section(run_dir)
    assert "wrong21" in html and "wrong28" not in html and "q29" not in html
    assert "<details><summary>prompt sent to the LM</summary>" in html and "[[ ## question ## ]]" in html


def test_report_plot_or_note(run_dir: Path) -> None:
    html = (run_dir / "report.html").read_text()
    if HAS_MATPLOTLIB:
        png = base64.b64decode(html.split("data:image/png;base64,")[1].split('"')[0])
        assert png.startswith(b"\x89PNG") and (run_dir / "plot.png").exists()
    else:
        assert NO_PLOT_NOTE in html and NO_PLOT_NOTE in (run_dir / "report.md").read_text()


def test_summary_table_renders(run_dir: Path) -> None:
    import json

    from rich.console import Console

    console = Console(record=True, width=200)
    console.print(summary_table(json.loads((run_dir / "summary.json").read_text())))
    text = console.export_text()
    assert "exact" in text and "failed rows 1" in text and "rows 30/30" in text
