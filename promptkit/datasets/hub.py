"""Hugging Face datasets: ``hf:NAME[:config][:split]`` (``datasets`` is optional and imported lazily).

Offline, ``datasets.load_dataset`` retries for ~25 s before giving up, so the machine's reach of the
Hub is probed first (a TCP connect with a short timeout) and an offline machine gets a DataError at
once, telling how to use a local file instead. With ``HF_HUB_OFFLINE=1`` only the local HF cache is
tried, which fails immediately when the dataset is not cached.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

from promptkit.errors import DataError, InputError

from .core import RowProblem

HF_PREFIX = "hf:"
DEFAULT_SPLIT = "train"
PROBE_TIMEOUT_S = 3.0
_OFFLINE_HINT = (
    "download the data on a connected machine and pass the local file instead "
    "(e.g. load('train.jsonl') or --data train.jsonl); JSONL, CSV, Parquet and BEIR folders are read offline"
)


def parse_hf_spec(spec: str) -> tuple[str, str | None, str]:
    """``hf:openai/gsm8k:main:test`` -> ``("openai/gsm8k", "main", "test")``; an empty config means none."""
    parts = spec.removeprefix(HF_PREFIX).split(":")
    if not parts[0] or len(parts) > 3:
        raise InputError(
            f"bad Hugging Face dataset name {spec!r}",
            hint="write hf:NAME[:CONFIG][:SPLIT], e.g. hf:openai/gsm8k:main:test",
        )
    name = parts[0]
    config = (parts[1] or None) if len(parts) > 1 else None
    split = (parts[2] or DEFAULT_SPLIT) if len(parts) > 2 else DEFAULT_SPLIT
    return name, config, split


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def offline_by_setting() -> bool:
    return _env_flag("HF_HUB_OFFLINE") or _env_flag("HF_DATASETS_OFFLINE")


def import_datasets() -> ModuleType | None:
    try:
        import datasets
    except ImportError:
        return None
    return datasets


def hub_reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Can this machine open a TCP connection to the Hub? Bounded by ``timeout`` including DNS.

    The connect runs in a daemon thread because name resolution ignores socket timeouts.
    Behind an HTTPS proxy the direct probe says nothing, so it is skipped (reported reachable).
    """
    if os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy"):
        return True
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host, port = endpoint.hostname or "huggingface.co", endpoint.port or (443 if endpoint.scheme == "https" else 80)
    outcome: list[bool] = []

    def connect() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                outcome.append(True)
        except OSError:
            outcome.append(False)

    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(outcome and outcome[0])


def read_hf(spec: str) -> Iterator[tuple[int, dict[str, Any] | RowProblem]]:
    """Rows of a Hugging Face dataset split as ``(row_number, record)``."""
    name, config, split = parse_hf_spec(spec)
    datasets = import_datasets()
    if datasets is None:
        raise DataError(
            f"loading {spec!r} needs the Hugging Face 'datasets' package, which is not installed",
            hint="pip install datasets (and be online), or " + _OFFLINE_HINT,
        )
    offline_setting = offline_by_setting()
    if not offline_setting and not hub_reachable():
        raise DataError(
            f"cannot load {spec!r}: this machine is offline (the Hugging Face Hub is unreachable)", hint=_OFFLINE_HINT
        )
    try:
        rows = datasets.load_dataset(name, config, split=split)
    except Exception as error:  # datasets raises many types (ConnectionError, FileNotFoundError, ValueError...)
        reason = f"{type(error).__name__}: {error}".splitlines()[0][:300]
        if offline_setting:
            raise DataError(
                f"cannot load {spec!r} offline (HF_HUB_OFFLINE is set and it is not in the local cache): {reason}",
                hint="unset HF_HUB_OFFLINE on a connected machine, or " + _OFFLINE_HINT,
            ) from None
        raise DataError(f"cannot load {spec!r}: {reason}", hint="check the dataset name, config and split") from None
    for number, record in enumerate(rows, start=1):
        yield number, dict(record) if isinstance(record, dict) else RowProblem("row is not a record")
