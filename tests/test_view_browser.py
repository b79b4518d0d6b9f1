"""`promptkit view` in a real browser: Debian's chromium driven by Playwright, against runs the real runners wrote.

One viewer process (the CLI, on 127.0.0.1) and one browser serve the module; each test clicks through
pages as a person would and asserts what is visible, and that the page logged no console error. A test
that fails leaves a screenshot of the page in its tmp dir.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.view_runs import SECRET, SECRET_ENV, RunningViewer, find_chromium, large_row, make_runs

pytestmark = [pytest.mark.server, pytest.mark.browser]

sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need Playwright (pip install playwright)")
CHROMIUM = find_chromium()
if CHROMIUM is None:
    pytest.skip(
        "no chromium to drive: apt-get install chromium (Debian) or set PROMPTKIT_CHROMIUM", allow_module_level=True
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_runs(tmp_path_factory.mktemp("view"))


@pytest.fixture(scope="module")
def viewer(runs: Path) -> Iterator[RunningViewer]:
    with RunningViewer(runs, env={SECRET_ENV: SECRET}) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


@pytest.fixture()
def page(browser: Any, viewer: RunningViewer, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh tab; console errors and uncaught exceptions are collected and must stay empty."""
    context = browser.new_context(base_url=viewer.url, viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    problems: list[str] = []
    tab.on(
        "console",
        lambda message: problems.append(f"console {message.type}: {message.text}") if message.type == "error" else None,
    )
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    failed_before = request.session.testsfailed
    yield tab
    if request.session.testsfailed > failed_before or problems:
        tab.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
    context.close()
    assert problems == [], f"the page logged errors (screenshot in {tmp_path})"


def test_runs_page_lists_every_kind_sorts_and_filters(page: Any) -> None:
    page.goto("/")
    runs = page.locator("#runs-body tr")
    kinds = {row.get_attribute("data-key").split("/", 1)[1]: row.get_attribute("data-kind") for row in runs.all()}
    assert kinds == {
        "capitals-a": "eval",
        "capitals-b": "eval",
        "grid": "matrix",
        "compiled": "compile",
        "notes-chain.json": "chain",
        "retrieval-small": "retrieval",
    }
    assert "capitals.jsonl" in page.locator("#runs-body tr[data-key='0/capitals-a']").inner_text()  # its dataset
    page.fill("#runs-filter", "matrix")
    assert [row.get_attribute("data-key") for row in runs.all() if row.is_visible()] == ["0/grid"]
    page.fill("#runs-filter", "")
    page.click("th:has-text('mean')")
    page.click("th:has-text('mean')")  # descending: the best first
    first = runs.first
    assert first.get_attribute("data-key") == "0/compiled"  # after compiling: 1.000
    assert "1.000" in first.inner_text()


def test_run_then_row_then_its_prompt(page: Any) -> None:
    page.goto("/")
    page.click("a:text-is('capitals-a')")
    assert page.locator("h1").inner_text() == "Run capitals-a"
    assert page.locator("dl dd").nth(2).inner_text().endswith("capitals.jsonl")  # the dataset run.json names
    assert page.locator("#matching").inner_text() == "12 matching rows"
    assert page.locator("table.metrics").inner_text().count("exact_match") == 1
    spain = page.locator("#rows tr", has_text="Capital of Spain")
    assert "***" in spain.inner_text() and SECRET not in page.content()  # the leaked key is redacted
    page.click("a:text-is('Capital of France?')")
    assert page.locator("h1").inner_text().startswith("Row 0")
    system, user = page.locator(".message").all()
    assert system.locator(".role").inner_text() == "SYSTEM" and user.locator(".role").inner_text() == "USER"
    assert "[[ ## question ## ]]" in user.locator("b.marker").all_inner_texts()  # sections stand out
    assert "Capital of France?" in user.inner_text()
    assert "Paris" in page.locator("table.fields").inner_text()
    assert "Paris" in page.locator("#reply").inner_text()  # the raw reply, before the adapter parsed it
    facts = page.locator("section.facts").inner_text()
    assert "exact_match: 1.000" in facts and "total 105" in facts
    assert "deployment\nnot recorded" in facts and "template versions: dspy/chat.j2@" in facts


def test_rows_filter_by_error_and_text(page: Any) -> None:
    page.goto("/run/0/capitals-a")
    page.select_option("select[name=status]", "error")
    page.click("button:text('Apply')")
    assert page.locator("#matching").inner_text() == "1 matching rows"
    assert "Capital of Cuba?" in page.locator("#rows tbody").inner_text()
    page.click("a:text-is('Capital of Cuba?')")
    assert "backend refused the request for Cuba" in page.locator("section.facts").inner_text()
    page.goto("/run/0/capitals-a?q=PERU&sort=exact_match&order=desc")
    assert page.locator("#rows tbody tr").count() == 1 and "Lima" in page.locator("#rows tbody").inner_text()


def test_compare_two_runs_flipped_rows_first_then_side_by_side(page: Any) -> None:
    page.goto("/")
    page.check("input.pick[value='0/capitals-a']")
    page.check("input.pick[value='0/capitals-b']")
    page.click("#compare-selected")
    page.wait_for_url("**/compare?*")
    assert "McNemar (exact)" in page.locator("#paired").inner_text()
    changes = page.locator("#flipped tbody tr td:first-child").all_inner_texts()
    assert changes == ["regressed", "improved", "improved", "improved", "improved", "error changed"]
    page.click("#flipped a:text('Capital of Ghana?')")
    answers = page.locator("#diff-answer tr.changed")
    assert answers.count() >= 1
    left, right = answers.first.locator("td").all_inner_texts()
    assert "Accra" in left and "Springfield" in right
    assert page.locator("#diff-prompt tr.same").count() > 5  # the same prompt on both sides


def test_compile_shows_before_and_after_as_a_comparison(page: Any) -> None:
    page.goto("/run/0/compiled")
    scores = page.locator("#compile-scores").inner_text()
    assert "before" in scores and "0.000" in scores and "1.000" in scores
    page.click("#before-after")
    changes = page.locator("#flipped tbody tr td:first-child").all_inner_texts()
    assert changes == ["improved"] * 6
    page.click("#flipped tbody tr >> nth=0 >> a")
    prompt = page.locator("#diff-prompt").inner_text()
    assert prompt.count("Capital of") > 2  # the compiled prompt carries demos the first one lacks
    assert page.locator("#diff-prompt tr.added, #diff-prompt tr.changed").count() > 0


def test_matrix_heat_map_cell_opens_its_run(page: Any) -> None:
    page.goto("/run/0/grid")
    heat = page.locator("#heatmap")
    assert heat.locator("thead th").all_inner_texts()[1:] == ["capitals", "first-half"]
    cell = heat.locator("tr", has_text="predict").locator("td.cell").nth(1)
    assert cell.inner_text().strip() == "1.000"  # run B's answers are right on the first eight
    assert "hsl(120" in cell.get_attribute("style")
    cell.locator("a").click()
    assert page.locator("h1").inner_text() == "Run grid/predict__default__first-half"
    assert page.locator("#matching").inner_text() == "6 matching rows"


def test_chain_step_by_step(page: Any) -> None:
    page.goto("/")
    page.click("a:text-is('notes-chain.json')")
    steps = page.locator("li.step")
    assert steps.count() == 2
    first = steps.nth(0)
    assert "Give two points about: solar panels" in first.locator(".message").inner_text()
    assert "first point; second point" in first.inner_text()
    second = steps.nth(1)
    assert not second.locator(".message").first.is_visible()  # collapsed until opened
    second.locator("summary").click()
    assert "Judge: first point. second point." in second.locator(".message").inner_text()
    assert '"ok": true' in second.inner_text()


def test_a_running_run_shows_live_progress(page: Any, runs: Path) -> None:
    live = runs / "live"
    shutil.copytree(runs / "capitals-a", live, ignore=shutil.ignore_patterns("summary.json", "report.*", "plot.png"))
    lines = (live / "results.jsonl").read_text().splitlines(keepends=True)
    (live / "results.jsonl").write_text("".join(lines[:5]))
    try:
        page.goto("/run/0/live")
        assert page.locator("#run-status").inner_text() == "running"
        assert page.locator("#run-rows").inner_text() == "5"
        with (live / "results.jsonl").open("a") as handle:
            handle.write(json.dumps(large_row(100)) + "\n")
            handle.write(json.dumps(large_row(101))[:40])  # a row still being written is not counted
        deadline = time.monotonic() + 8
        while page.locator("#run-rows").inner_text() != "6" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert page.locator("#run-rows").inner_text() == "6"
    finally:
        shutil.rmtree(live)
