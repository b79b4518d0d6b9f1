"""The public samples in ``../shared/data`` beside the repository (GSM8K, MATH-500, HotPotQA)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared(relative: str) -> Path:
    """The sample at ``relative``; the calling test is skipped when the samples are not there."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"shared sample {path} is not present (tests read ../shared/data beside the repo)")
    return path
