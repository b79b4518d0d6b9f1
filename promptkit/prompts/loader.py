"""A Jinja loader confined to a list of template roots.

Roots are searched in order (user directories first, the bundled templates last), so a user
directory overrides a bundled template of the same name. A name that could leave its root —
``..``, an absolute path, or a symlink whose real path lies outside the root — raises
:class:`TemplateSecurityError` rather than "not found", so the attempt is visible.
"""

from __future__ import annotations

import os
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import BaseLoader, Environment, TemplateNotFound

from promptkit.errors import TemplateSecurityError
from promptkit.prompts.environment import PromptEnvironment

if TYPE_CHECKING:
    from jinja2 import Template as JinjaTemplate

TEMPLATE_SUFFIXES = (".j2", ".jinja", ".jinja2")
BUNDLED = "bundled"


@dataclass(frozen=True)
class Root:
    """A template directory (its real path) and how listings name it."""

    path: Path
    label: str


def split_name(name: str) -> list[str]:
    """The path segments of a template name; raises TemplateSecurityError for names that escape."""
    if not name or "\x00" in name or "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise TemplateSecurityError(
            f"template name {name!r} is not a relative path inside the template roots",
            template=name or None,
            hint="name templates relative to a template directory, e.g. 'techniques/cot.j2'",
        )
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise TemplateSecurityError(
            f"template name {name!r} leaves the template roots ('..')",
            template=name,
            hint="name templates relative to a template directory, without '..'",
        )
    return parts


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


class RootsLoader(BaseLoader):
    """Loads ``name`` from the first root that has it."""

    def __init__(self, roots: list[Root]) -> None:
        self.roots = roots
        self.names_by_path: dict[str, str] = {}  # for error locations in included templates

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        parts = split_name(template)
        for root in self.roots:
            candidate = root.path.joinpath(*parts)
            if not candidate.is_file():
                continue
            real = candidate.resolve()
            if not real.is_relative_to(root.path):
                raise TemplateSecurityError(
                    f"template {template!r} is a symlink to {real}, outside its root {root.path}",
                    template=template,
                    hint="copy the file into the template directory instead of linking to it",
                )
            stamp = _stamp(real)
            source = real.read_text(encoding="utf-8")
            filename = str(candidate)
            self.names_by_path[filename] = template

            def uptodate(real: Path = real, stamp: tuple[int, int] = stamp) -> bool:
                try:
                    return _stamp(real) == stamp
                except OSError:
                    return False

            return source, filename, uptodate
        raise TemplateNotFound(template)

    def load(
        self, environment: Environment, name: str, globals: MutableMapping[str, Any] | None = None
    ) -> JinjaTemplate:
        source, filename, uptodate = self.get_source(environment, name)
        assert isinstance(environment, PromptEnvironment)
        return environment.compile_prompt(source, name, filename, globals, uptodate)

    def list_templates(self) -> list[str]:
        return sorted(self.list_with_roots())

    def list_with_roots(self) -> dict[str, Root]:
        """Every template name with the root it loads from (the first root that has it)."""
        found: dict[str, Root] = {}
        for root in self.roots:
            for dirpath, dirnames, filenames in os.walk(root.path):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "__")))
                for filename in filenames:
                    if filename.startswith(".") or not filename.endswith(TEMPLATE_SUFFIXES):
                        continue
                    name = Path(dirpath, filename).relative_to(root.path).as_posix()
                    found.setdefault(name, root)
        return found
