"""Exported names match what exists (as httpx's test_exported_members): for ``promptkit`` and each
subpackage, every name in ``__all__`` resolves, every entry of a lazy table resolves and is listed,
and every public promptkit object the package holds is listed in ``__all__``."""

from __future__ import annotations

import importlib
import types
from typing import Any

import pytest

PACKAGES = [
    "promptkit",
    "promptkit.adapter",
    "promptkit.chains",
    "promptkit.datasets",
    "promptkit.evaluation",
    "promptkit.evaluation.metrics",
    "promptkit.lm",
    "promptkit.parsing",
    "promptkit.programs",
    "promptkit.prompts",
    "promptkit.retrieval",
    "promptkit.techniques",
]
LAZY_TABLES = ("_EXPORTS", "_MODULES", "_LAZY")


def _lazy_names(package: types.ModuleType) -> dict[str, Any]:
    names: dict[str, Any] = {}
    for table in LAZY_TABLES:
        entries = getattr(package, table, None)
        if isinstance(entries, dict):
            names.update(entries)
    return names


@pytest.mark.parametrize("name", PACKAGES)
def test_every_name_in_all_resolves(name: str) -> None:
    package = importlib.import_module(name)
    exported = package.__all__
    assert len(exported) == len(set(exported)), f"{name}.__all__ lists a name twice"
    missing = [member for member in exported if not hasattr(package, member)]
    assert not missing, f"{name}.__all__ names what does not exist: {missing}"


@pytest.mark.parametrize("name", PACKAGES)
def test_every_lazy_entry_resolves_and_is_listed(name: str) -> None:
    package = importlib.import_module(name)
    lazy = _lazy_names(package)
    unlisted = sorted(set(lazy) - set(package.__all__))
    assert not unlisted, f"{name}: lazily exported but not in __all__: {unlisted}"
    for member in lazy:
        assert getattr(package, member) is not None


@pytest.mark.parametrize("name", PACKAGES)
def test_no_public_name_is_missing_from_all(name: str) -> None:
    package = importlib.import_module(name)
    for member in package.__all__:
        getattr(package, member)  # load the lazy names, as a user's access would
    public = []
    for member, value in vars(package).items():
        if member.startswith("_") or isinstance(value, types.ModuleType):
            continue
        defined_in = getattr(value, "__module__", None) or ""
        if defined_in.startswith("promptkit"):
            public.append(member)
    unlisted = sorted(set(public) - set(package.__all__))
    assert not unlisted, f"{name} holds public names missing from __all__: {unlisted}"


def test_the_root_lists_exactly_its_lazy_tables() -> None:
    import promptkit

    assert set(promptkit.__all__) == set(_lazy_names(promptkit)) | {"__version__"}
    assert sorted(dir(promptkit)) == sorted(promptkit.__all__)
