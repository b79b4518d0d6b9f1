"""`promptkit view` over plain HTTP: paths confined to the given directories, the row index (paging, live
appends, a compacted file), filters, redaction, and the command's warnings and bad input."""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from promptkit.evaluation.results import compact
from promptkit.view.present import side_by_side
from promptkit.view.rows import Query, query_rows, row_index
from tests.view_runs import SECRET, SECRET_ENV, RunningViewer, large_row, make_runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_runs(tmp_path_factory.mktemp("view-http"))


def raw_get(url: str, path: str) -> tuple[int, str]:
    """GET ``path`` exactly as written (no client-side normalisation of ``..``)."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory, runs: Path) -> Iterator[Path]:
    """A run directory outside the served one, reachable from inside it only through a symlink."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    secret_run = elsewhere / "private"
    secret_run.mkdir()
    (secret_run / "results.jsonl").write_text(json.dumps(large_row(0)) + "\n")
    (secret_run / "notes.md").write_text("private notes")
    (runs / "link-out").symlink_to(secret_run, target_is_directory=True)
    (runs / "file-out.png").symlink_to(secret_run / "notes.md")
    (secret_run / "chain.json").write_text((runs / "notes-chain.json").read_text())
    (runs / "chain-out.json").symlink_to(secret_run / "chain.json")
    yield secret_run
    for link in ("link-out", "file-out.png", "chain-out.json"):
        (runs / link).unlink()


@pytest.mark.server
def test_paths_outside_the_directory_are_404(runs: Path, outside: Path) -> None:
    with RunningViewer(runs) as viewer:
        assert raw_get(viewer.url, "/run/0/capitals-a")[0] == 200
        assert raw_get(viewer.url, "/file/0/capitals-a/plot.png")[0] == 200
        refused = [
            "/run/0/../" + outside.parent.name + "/private",  # .. out of the root
            "/run/0/capitals-a/../../" + outside.parent.name,
            "/run/0/%2e%2e/%2e%2e/etc",  # encoded ..
            "/file/0/..%2f..%2fetc%2fpasswd",
            "/file/0/capitals-a/../../../../etc/passwd",
            "/run/0//etc",  # an absolute path inside the key
            "/file/0/" + str(outside / "notes.md"),
            "/run/" + str(outside),
            "/run/7/capitals-a",  # no such root
            "/run/0/link-out",  # a symlink pointing out
            "/row/0/link-out?id=0000000000000000",
            "/file/0/file-out.png",
            "/run/0/chain-out.json",
            "/compare?a=0/capitals-a&b=0/link-out",
            "/file/0/capitals-a/results.jsonl",  # inside, but not a file the viewer serves
            "/run/0/nothing-here",
        ]
        for path in refused:
            status, body = raw_get(viewer.url, path)
            assert status == 404, path
            assert "private" not in body
        runs_page = raw_get(viewer.url, "/")[1]
        assert "link-out" not in runs_page and "chain-out" not in runs_page  # nor does discovery
        assert "notes-chain.json" in runs_page


@pytest.mark.server
def test_pages_redact_secrets_and_a_live_run_reindexes_appended_rows(runs: Path) -> None:
    live = runs / "growing"
    live.mkdir()
    results = live / "results.jsonl"
    results.write_text("".join(json.dumps(large_row(i)) + "\n" for i in range(3)))
    try:
        with RunningViewer(runs, env={SECRET_ENV: SECRET}) as viewer:
            status, page = raw_get(viewer.url, "/run/0/capitals-a?q=spain")
            assert status == 200 and "Capital of Spain? (key ***)" in page and SECRET not in page
            assert SECRET in (runs / "capitals-a" / "report.html").read_text()  # the runner's report keeps it
            status, report = raw_get(viewer.url, "/file/0/capitals-a/report.html")
            assert status == 200 and "Capital of Spain? (key ***)" in report and SECRET not in report
            assert json.loads(raw_get(viewer.url, "/progress/0/growing")[1]) == {"rows": 3, "status": "running"}
            with results.open("a") as handle:
                handle.write(json.dumps(large_row(3)) + "\n" + json.dumps(large_row(1)) + "\n")  # row 1 retried
            assert json.loads(raw_get(viewer.url, "/progress/0/growing")[1])["rows"] == 4
            assert "4 matching rows" in raw_get(viewer.url, "/run/0/growing")[1]
            assert "growing" in raw_get(viewer.url, "/fragment/runs")[1]
    finally:
        for path in live.iterdir():
            path.unlink()
        live.rmdir()


def test_row_index_pages_filters_and_follows_the_file(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    rows = [large_row(i) for i in range(250)]
    rows[7]["error"] = {"type": "ValueError", "message": "broken row"}
    path.write_text("".join(json.dumps(r) + "\n" for r in reversed(rows)))  # written out of order
    index = row_index(path)
    page, matching = query_rows(index, Query(page=3, size=50))
    assert matching == 250 and [r["index"] for r in page] == list(range(100, 150))
    errors, matching = query_rows(index, Query(status="error"))
    assert matching == 1 and errors[0]["index"] == 7
    failed, matching = query_rows(index, Query(status="failed", metric="exact_match"))
    assert matching == 84 and all(r["index"] % 3 == 0 for r in failed)
    found, matching = query_rows(index, Query(text="NUMBER 123?"))
    assert matching == 1 and found[0]["index"] == 123
    slowest, _ = query_rows(index, Query(sort="latency", descending=True, size=25))
    assert slowest[0]["latency_s"] == max(r["latency_s"] for r in rows)
    # a retried row appended: the latest line wins, the count stays
    retried = dict(rows[5], prediction={"answer": "second try"})
    with path.open("a") as handle:
        handle.write(json.dumps(retried) + "\n" + json.dumps(large_row(250))[:30])  # and a half-written row
    index = row_index(path)
    assert index.count == 250 and index.read(rows[5]["row_id"])["prediction"] == {"answer": "second try"}
    assert query_rows(index, Query(text="second try"))[1] == 1
    # compacted (rewritten in place): the index is rebuilt, not extended
    path.write_text(path.read_text().rpartition("\n")[0] + "\n")
    assert compact(path) == 1
    index = row_index(path)
    assert index.count == 250 and index.read(rows[5]["row_id"])["prediction"] == {"answer": "second try"}


def test_side_by_side_aligns_changed_added_and_removed_lines() -> None:
    lines = side_by_side("a\nb\nc\n", "a\nB\nc\nd\n")
    assert lines == [("same", "a", "a"), ("changed", "b", "B"), ("same", "c", "c"), ("added", "", "d")]
    assert side_by_side("x\ny", "x")[-1] == ("removed", "y", "")


def cli() -> typer.Typer:
    from promptkit.cli import app

    return app


def test_view_command_warns_off_loopback_and_refuses_a_missing_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import promptkit.view

    served: list[tuple[list[Path], str]] = []
    monkeypatch.setattr(promptkit.view, "serve", lambda roots, host, port, on_ready: served.append((roots, host)))
    shared = CliRunner().invoke(cli(), ["view", str(tmp_path), "--host", "0.0.0.0"])
    assert shared.exit_code == 0 and "warning: serving on 0.0.0.0" in shared.output
    local = CliRunner().invoke(cli(), ["view", str(tmp_path)])
    assert local.exit_code == 0 and "warning" not in local.output
    assert served == [([tmp_path], "0.0.0.0"), ([tmp_path], "127.0.0.1")]
    monkeypatch.undo()
    missing = CliRunner().invoke(cli(), ["view", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "not a directory" in missing.output and "Traceback" not in missing.output


def test_serving_imports_no_dspy(runs: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from starlette.testclient import TestClient; from promptkit.view import create_app; "
        f"c = TestClient(create_app([__import__('pathlib').Path({str(runs)!r})])); "
        "assert c.get('/').status_code == 200 and c.get('/run/0/capitals-a').status_code == 200; "
        "assert c.get('/compare?a=0/capitals-a&b=0/capitals-b').status_code == 200; "
        "print('dspy' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert shown.stdout.strip() == "False"


def test_a_run_given_as_the_directory_itself_and_the_retrieval_page(runs: Path) -> None:
    from starlette.testclient import TestClient

    from promptkit.view import create_app

    single = TestClient(create_app([runs / "capitals-b"]))
    listed = single.get("/").text
    assert 'href="/run/0">capitals-b</a>' in listed
    page = single.get("/run/0").text
    assert "<h1>Run capitals-b</h1>" in page and "12 matching rows" in page
    retrieval = TestClient(create_app([runs])).get("/run/0/retrieval-small").text
    assert "query q2" in retrieval and '<span class="hit">d4</span>' in retrieval
