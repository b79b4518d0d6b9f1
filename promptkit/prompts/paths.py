"""Where the bundled templates and pipelines live, in a wheel and in a source checkout.

A wheel force-includes the repository's ``templates/`` and ``pipelines/`` folders as
``promptkit/_bundled/...`` (see pyproject.toml); an editable install or a source checkout
reads them from the repository root instead.
"""

from __future__ import annotations

from pathlib import Path

# promptkit/prompts/paths.py -> promptkit/ (the package) and the repository root above it.
# Computed from this file rather than ``promptkit.__file__`` because promptkit may be a
# namespace package while it is being assembled, and those have no ``__file__``.
_PACKAGE_DIR = Path(__file__).resolve().parents[1]
_REPO_ROOT = Path(__file__).resolve().parents[2]


def _bundled(folder: str) -> Path:
    installed = _PACKAGE_DIR / "_bundled" / folder
    return installed if installed.is_dir() else _REPO_ROOT / folder


def bundled_templates_dir() -> Path:
    """The templates shipped with promptkit (``structured.j2``, ``qa.j2``, ``dspy/``, ``techniques/``)."""
    return _bundled("templates")


def bundled_pipelines_dir() -> Path:
    """The pipeline specs shipped with promptkit."""
    return _bundled("pipelines")
