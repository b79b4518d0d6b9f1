"""`promptkit view` on a 50,000-row run: start-up, first paint of the run page in chromium, server RSS.

Run: .venv/bin/python benchmarks/bench_view.py [--rows 50000] [--repeat 5]
Needs Debian's chromium (apt-get install chromium) and Playwright (the dev extra).
Target: first paint of the run page <= 1 s; start-up < 2 s.

The run is written in the runner's row format by ``tests/view_runs.make_large_run`` (~1.2 kB a row, a
prompt in each). "First paint" is the browser's first-contentful-paint after ``page.goto``: the first
visit builds the row index of results.jsonl (cold), later visits reuse it (warm). A filtered page (rows
whose metric failed) and page 500 are timed too, and the RSS of the viewer process after all of it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.view_runs import RunningViewer, find_chromium, make_large_run  # noqa: E402

PAINT = "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def first_paint(page: object, url: str) -> tuple[float, float]:
    """(first-contentful-paint in ms, wall time of goto in ms)."""
    start = time.perf_counter()
    page.goto(url)  # type: ignore[attr-defined]
    wall = (time.perf_counter() - start) * 1000
    handle = page.wait_for_function(PAINT)  # type: ignore[attr-defined]  # the entry is recorded after paint
    return float(handle.json_value()), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no chromium: apt-get install chromium")
    with tempfile.TemporaryDirectory() as scratch:
        runs = Path(scratch) / "runs"
        make_large_run(runs / "big", rows=args.rows)
        size = (runs / "big" / "results.jsonl").stat().st_size / 1e6
        print(f"results.jsonl: {args.rows} rows, {size:.1f} MB")
        with RunningViewer(runs) as viewer, sync_playwright() as driver:
            print(f"start-up (launch -> first answered request): {viewer.started_in:.2f} s")
            print(f"RSS after start-up: {rss_mb(viewer.process.pid):.0f} MB")
            browser = driver.chromium.launch(executable_path=chromium)
            base = f"{viewer.url}/run/0/big"
            first_paint(browser.new_page(), viewer.url + "/")  # the browser's own first start is not the viewer's
            cold = first_paint(browser.new_page(), base)
            print(
                f"run page, cold (row index built on this request): first paint {cold[0]:.0f} ms, load {cold[1]:.0f} ms"
            )
            warm = [first_paint(browser.new_page(), base) for _ in range(args.repeat)]
            print(
                f"run page, warm: first paint median {statistics.median(w[0] for w in warm):.0f} ms "
                f"(max {max(w[0] for w in warm):.0f}), load median {statistics.median(w[1] for w in warm):.0f} ms"
            )
            filtered = first_paint(browser.new_page(), base + "?status=failed")
            print(f"filtered (failed rows), first time (every row parsed once): first paint {filtered[0]:.0f} ms")
            again = first_paint(browser.new_page(), base + "?status=failed&page=2")
            print(f"filtered, next page: first paint {again[0]:.0f} ms")
            deep = first_paint(browser.new_page(), base + "?page=500&size=100")
            print(f"page 500 of 100 rows: first paint {deep[0]:.0f} ms")
            print(f"server RSS after all: {rss_mb(viewer.process.pid):.0f} MB")
            browser.close()


if __name__ == "__main__":
    main()
