"""Regenerate the README's viewer screenshots (docs/img/view-run.png, docs/img/view-compare.png).

Makes fixture runs with promptkit's own runners (tests/view_runs.py), serves them with ``promptkit view``
and photographs the run page and the compare page in Debian's chromium through Playwright.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.view_runs import SECRET, SECRET_ENV, RunningViewer, find_chromium, make_runs  # noqa: E402


def main() -> int:
    from playwright.sync_api import sync_playwright

    chromium = find_chromium()
    if chromium is None:
        print("no chromium found: apt-get install chromium (or set PROMPTKIT_CHROMIUM)", file=sys.stderr)
        return 1
    out = ROOT / "docs" / "img"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        runs = make_runs(Path(scratch))
        # The fixture leaks a key into one question; the viewer knows it as a secret and shows ***.
        with RunningViewer(runs, env={SECRET_ENV: SECRET}) as viewer, sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=chromium)
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            shots = {
                "view-run.png": f"{viewer.url}/run/0/capitals-a",
                "view-compare.png": f"{viewer.url}/compare?a=0/capitals-a&b=0/capitals-b",
            }
            for name, url in shots.items():
                page.goto(url)
                page.screenshot(path=str(out / name))
                print(f"wrote {out / name}")
            browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
