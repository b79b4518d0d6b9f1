#!/usr/bin/env python3
"""Run DSPy's own test suite (vendored in dspy_tests/) with DSPy's default adapter and with promptkit's
TemplateAdapter as the default, and compare.

    python3 benchmarks/dspy_compat/run.py                      # both adapters, every folder
    python3 benchmarks/dspy_compat/run.py --only predict --adapter template
    python3 benchmarks/dspy_compat/run.py --only streaming -- -k listener   # extra pytest args after --

The first run creates benchmarks/dspy_compat/.venv (promptkit, editable, core dependencies only, plus
requirements.txt); the project's .venv is not touched. Needs only the standard library itself.

Prints, per folder, passed/failed/skipped under each adapter, then every test that passes with DSPy's
default adapter but not with TemplateAdapter, with the first line of its failure. Tests listed in
EXPECTED_PROMPT_TEXT.txt (they assert ChatAdapter's exact prompt text or layout) are left out of that
list; SKIP.txt lists tests that are not run at all (network, slow), each with its reason.
Exit status: 0, or 1 when there is a regression outside EXPECTED_PROMPT_TEXT.txt (or a folder's run broke).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from id_lists import read_id_list

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TESTS = HERE / "dspy_tests"
VENV = HERE / ".venv"
REQUIREMENTS = HERE / "requirements.txt"
EXPECTED = HERE / "EXPECTED_PROMPT_TEXT.txt"
SKIPS = HERE / "SKIP.txt"

FOLDERS = ["predict", "signatures", "streaming", "callback", "evaluate", "teleprompt", "adapters"]
ADAPTERS = ["default", "template"]
# A closed port on this machine: DSPy 3.4.1 sends openai/, anthropic/ and gemini/ models to its native engine
# and only falls back to litellm.completion (which the tests mock) when <PROVIDER>_API_BASE is set (see
# dspy/clients/backend_selection.py). Nothing listens there and nothing leaves the machine.
CLOSED = "http://127.0.0.1:9"


# -- the virtualenv ---------------------------------------------------------------------------------------


def _venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv() -> None:
    """Create or refresh .venv when requirements.txt or pyproject.toml changed since the last install."""
    stamp = VENV / ".dspy_compat-installed"
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if _venv_python().exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return
    if not _venv_python().exists():
        print(f"creating {VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(_venv_python()), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    print("installing promptkit (editable) and requirements.txt into it ...", flush=True)
    subprocess.run(
        [str(_venv_python()), "-m", "pip", "install", "-q", "-e", str(ROOT), "-r", str(REQUIREMENTS)], check=True
    )
    stamp.write_text(digest + "\n")


# -- running pytest ---------------------------------------------------------------------------------------


def child_env(workdir: Path, promptkit_src: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROMPTKIT_", "PYTEST_", "DSPY_"))}
    env.update(
        OPENAI_API_BASE=CLOSED,
        ANTHROPIC_API_BASE=CLOSED,
        OPENAI_API_KEY="sk-dspy-compat-dummy",
        ANTHROPIC_API_KEY="sk-ant-dspy-compat-dummy",
        GEMINI_API_BASE=CLOSED,  # the gemini/ streaming tests mock litellm.acompletion too
        GEMINI_API_KEY="dspy-compat-dummy",
        DSPY_CACHEDIR=str(workdir / "dspy_cache"),
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        # compat_plugin; and a promptkit source tree that shadows the editable install, when given.
        PYTHONPATH=os.pathsep.join(str(p) for p in (promptkit_src, HERE) if p),
        PYTHONDONTWRITEBYTECODE="1",
        # The LiteLLM proxy of the two streaming server tests is started as `litellm` from PATH, bound to
        # 127.0.0.1 for the test session and serving only DSPy's fake test model. Newer LiteLLM refuses to
        # start without a master key, and the tests call it with api_key="fakekey": allow that here.
        LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY="True",
        PATH=f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    env.pop("VIRTUAL_ENV", None)
    return env


@dataclass
class Run:
    folder: str
    adapter: str
    junit: Path
    seconds: float = 0.0
    returncode: int = 0
    tail: str = ""


def run_pytest(
    folder: str, adapter: str, workdir: Path, timeout: int, extra: list[str], promptkit_src: Path | None
) -> Run:
    junit = workdir / f"{adapter}-{folder}.xml"
    log = workdir / f"{adapter}-{folder}.log"
    cmd = [
        str(_venv_python()),
        "-m",
        "pytest",
        f"tests/{folder}",
        "-q",
        "-p",
        "compat_plugin",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:promptkit",  # promptkit's fake_lm plugin: not needed, and the default run must not import promptkit
        f"--compat-adapter={adapter}",
        f"--compat-skip={SKIPS}",
        # A test file that no longer imports against this DSPy (version skew) counts as one failure in both
        # runs instead of stopping its folder.
        "--continue-on-collection-errors",
        "--extra",  # DSPy's tests that need installable extras (pandas, pillow, numpy): installed here
        f"--junitxml={junit}",
        "-o",
        "junit_family=xunit1",  # records each test's file, so node ids can be rebuilt
        f"--timeout={timeout}",
        *extra,
    ]
    start = time.monotonic()
    with log.open("w") as out:
        try:
            proc = subprocess.run(
                cmd,
                cwd=TESTS,
                env=child_env(workdir, promptkit_src),
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout * 20,
            )
            code = proc.returncode
        except subprocess.TimeoutExpired:
            code = -1
    seconds = time.monotonic() - start
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-3:])
    return Run(folder, adapter, junit, seconds, code, tail)


# -- junit ------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    status: str  # passed | failed | skipped
    message: str = ""


@dataclass
class FolderResult:
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    broken: str = ""  # the run itself failed (collection error, crash, timeout)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes.values() if o.status == status)


_RANK = {"passed": 0, "skipped": 1, "failed": 2}


def _first_line(text: str | None, limit: int = 200) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def node_id(case: ET.Element) -> str:
    file = case.get("file") or ""
    name = case.get("name") or ""
    classname = case.get("classname") or ""
    module = file[:-3].replace("/", ".") if file.endswith(".py") else ""
    if module and classname.startswith(module):
        inner = classname[len(module) :].lstrip(".")
        return "::".join(p for p in (file, *inner.split("."), name) if p)
    return f"{file or classname}::{name}"


def parse_junit(path: Path) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {}
    if not path.exists():
        return outcomes
    for case in ET.parse(path).iter("testcase"):
        status, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                status = "failed"
                message = _first_line(child.get("message")) or _first_line(child.text) or child.tag
                break
            if child.tag == "skipped":
                status, message = "skipped", _first_line(child.get("message"))
        nid = node_id(case)
        previous = outcomes.get(nid)  # a test failing in teardown after passing shows up twice
        if previous is None or _RANK[status] > _RANK[previous.status]:
            outcomes[nid] = Outcome(status, message)
    return outcomes


# -- report -----------------------------------------------------------------------------------------------


def _cell(result: FolderResult | None) -> str:
    if result is None:
        return "—"
    if result.broken and not result.outcomes:
        return f"BROKEN ({result.broken})"
    cell = f"{result.count('passed')}/{result.count('failed')}/{result.count('skipped')}"
    return cell + (" (run broke)" if result.broken else "")


def report(
    results: dict[tuple[str, str], FolderResult], folders: list[str], adapters: list[str], seconds: float
) -> tuple[str, int]:
    lines = ["| folder | " + " | ".join(f"{a} passed/failed/skipped" for a in adapters) + " |"]
    lines.append("|---" * (len(adapters) + 1) + "|")
    totals = {a: FolderResult() for a in adapters}
    for folder in folders:
        cells = []
        for adapter in adapters:
            result = results.get((folder, adapter))
            cells.append(_cell(result))
            if result:
                totals[adapter].outcomes.update(result.outcomes)
        lines.append(f"| {folder} | " + " | ".join(cells) + " |")
    lines.append("| **total** | " + " | ".join(_cell(totals[a]) for a in adapters) + " |")
    problems = 0
    broken = [(f, a, r.broken) for (f, a), r in results.items() if r.broken]
    for folder, adapter, why in broken:
        lines.append(f"\nRUN BROKE: {folder} with {adapter}: {why}")
        problems += 1
    if adapters == ADAPTERS:
        expected = read_id_list(EXPECTED)
        regressions: list[tuple[str, str]] = []
        excluded: list[tuple[str, str]] = []
        fixed: list[str] = []
        for folder in folders:
            default, template = results.get((folder, "default")), results.get((folder, "template"))
            if not default or not template:
                continue
            for nid, outcome in sorted(default.outcomes.items()):
                other = template.outcomes.get(nid)
                if outcome.status == "passed" and other is not None and other.status == "failed":
                    (excluded if nid in expected else regressions).append((nid, other.message))
                elif outcome.status == "failed" and other is not None and other.status == "passed":
                    fixed.append(nid)
        lines.append(f"\n## Pass with the default adapter, fail with TemplateAdapter: {len(regressions)}\n")
        lines += [f"- `{nid}` — {msg}" for nid, msg in regressions] or ["(none)"]
        lines.append(f"\n## Same, but listed in EXPECTED_PROMPT_TEXT.txt (not counted): {len(excluded)}\n")
        lines += [f"- `{nid}` — {expected[nid]}" for nid, _ in excluded] or ["(none)"]
        stale = sorted(set(expected) - {nid for nid, _ in excluded})
        if stale and set(folders) == set(FOLDERS):
            lines.append(f"\nEXPECTED_PROMPT_TEXT.txt entries that no longer fail with TemplateAdapter: {len(stale)}")
            lines += [f"- `{nid}`" for nid in stale]
        if fixed:
            lines.append(f"\nFail with the default adapter, pass with TemplateAdapter: {len(fixed)}")
            lines += [f"- `{nid}`" for nid in fixed]
        problems += len(regressions)
    lines.append(f"\nwall time {seconds:.0f} s")
    return "\n".join(lines), problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=FOLDERS, metavar="FOLDER", help=f"one of {FOLDERS}")
    parser.add_argument("--adapter", choices=[*ADAPTERS, "both"], default="both")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="pytest processes at once")
    parser.add_argument("--timeout", type=int, default=60, help="per-test timeout in seconds (pytest-timeout)")
    parser.add_argument("--out", type=Path, help="keep junit XML, logs and report.md here (default: a temp dir)")
    parser.add_argument("--no-install", action="store_true", help="use .venv as it is")
    parser.add_argument("--json", type=Path, help="also write the outcomes of every test as JSON")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--promptkit-rev",
        metavar="REV",
        help="test promptkit as committed at REV (git archive into the output dir) instead of the work tree",
    )
    source.add_argument("--promptkit-src", type=Path, metavar="DIR", help="test the promptkit package under DIR")
    parser.add_argument("pytest_args", nargs="*", help="after --: extra pytest arguments")
    args = parser.parse_args(argv)

    if not args.no_install:
        ensure_venv()
    folders = args.only or FOLDERS
    adapters = ADAPTERS if args.adapter == "both" else [args.adapter]
    workdir = args.out or Path(tempfile.mkdtemp(prefix="dspy_compat-"))
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "dspy_cache").mkdir(exist_ok=True)
    promptkit_src = args.promptkit_src.resolve() if args.promptkit_src else None
    described = f"work tree {ROOT}"
    if args.promptkit_rev:
        promptkit_src = workdir / "promptkit_src"
        shutil.rmtree(promptkit_src, ignore_errors=True)
        promptkit_src.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.promptkit_rev, "promptkit", "templates", "pipelines"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(promptkit_src)], input=archive, check=True)
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", args.promptkit_rev], capture_output=True, text=True
        ).stdout.strip()
        described = f"commit {commit} ({args.promptkit_rev})"
    elif promptkit_src:
        described = str(promptkit_src)
    print(f"promptkit under test: {described}", flush=True)

    start = time.monotonic()
    jobs = [(f, a) for f in folders for a in adapters]
    results: dict[tuple[str, str], FolderResult] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [
            pool.submit(run_pytest, f, a, workdir, args.timeout, args.pytest_args, promptkit_src) for f, a in jobs
        ]
        for future in concurrent.futures.as_completed(futures):
            run = future.result()
            result = FolderResult(parse_junit(run.junit))
            # pytest: 0 all passed, 1 some failed; anything else means the run itself went wrong.
            if run.returncode not in (0, 1):
                result.broken = f"exit {run.returncode}: {_first_line(run.tail)}"
            results[(run.folder, run.adapter)] = result
            print(f"  {run.adapter:8} {run.folder:11} {run.seconds:6.1f} s  {_cell(result)}", flush=True)
    seconds = time.monotonic() - start

    text, problems = report(results, folders, adapters, seconds)
    text = f"promptkit under test: {described}\n\n{text}"
    print()
    print(text)
    (workdir / "report.md").write_text(text + "\n")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    f"{a}:{f}": {nid: [o.status, o.message] for nid, o in r.outcomes.items()}
                    for (f, a), r in results.items()
                },
                indent=1,
            )
        )
    print(f"junit XML, logs and report.md: {workdir}")
    if args.out is None and not problems:
        shutil.rmtree(workdir / "dspy_cache", ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
