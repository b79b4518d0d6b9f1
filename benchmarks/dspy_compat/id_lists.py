"""The test-id lists beside run.py (EXPECTED_PROMPT_TEXT.txt, SKIP.txt): ``id  # reason`` per line.

Standard library only: run.py reads them with the system Python, compat_plugin.py inside the test venv.
"""

from __future__ import annotations

from pathlib import Path


def read_id_list(path: str | Path) -> dict[str, str]:
    """``{test id: reason}`` (blank lines and ``#`` lines skipped; a missing file is an empty list)."""
    ids: dict[str, str] = {}
    file = Path(path)
    if not file.exists():
        return ids
    for raw in file.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        test_id, _, reason = line.partition(" #")
        ids[test_id.strip()] = reason.strip()
    return ids
