"""``TemplateEnv``: the template roots, the sandboxed environment and the caches, as one object.

Compiled templates are cached twice: Jinja caches compiled code per name (reloading a file whose
mtime or size changed), and this module caches the :class:`Template` wrapper as long as the
compiled template and every template it depends on are still the ones Jinja has cached. So a
second ``get`` returns the same object, and editing the file — or a partial it includes — is
picked up with a new ``version``.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from jinja2 import TemplateNotFound

from promptkit.config import Settings, load_settings
from promptkit.errors import ConfigError, PromptkitError, TemplateError
from promptkit.prompts.environment import PromptEnvironment, PromptJinjaTemplate
from promptkit.prompts.inputs import InputSpec
from promptkit.prompts.loader import BUNDLED, Root, RootsLoader
from promptkit.prompts.paths import bundled_templates_dir
from promptkit.prompts.rendering import Message
from promptkit.prompts.template import Template, TemplateInfo

_INLINE_CACHE_SIZE = 256
# Version markers for references that are not a loadable file (documented in Template.version).
DYNAMIC_MARKER = "dynamic"
_MISSING_MARKER = "missing:"


def _user_root(directory: str | Path) -> Root:
    path = Path(directory).expanduser()
    if not path.is_dir():
        raise ConfigError(
            f"template directory {str(directory)!r} does not exist or is not a directory",
            hint="create it, or fix template_dirs / PROMPTKIT_TEMPLATE_DIRS",
        )
    return Root(path.resolve(), str(directory))


class TemplateEnv:
    """Loads prompt templates from user directories (searched first) and the bundled templates.

    ``max_bytes`` and ``timeout`` bound every render; ``Template.with_limits`` sets another budget.
    """

    def __init__(
        self,
        roots: Sequence[str | Path] = (),
        *,
        max_bytes: int = 1_000_000,
        timeout: float = 5.0,
        include_bundled: bool = True,
    ) -> None:
        if max_bytes <= 0 or timeout <= 0:
            raise ConfigError(f"render budget must be positive (max_bytes={max_bytes}, timeout={timeout})")
        if isinstance(roots, str | Path):  # a lone path would otherwise be split into characters
            roots = [roots]
        resolved = [_user_root(r) for r in roots]
        bundled = bundled_templates_dir()
        if include_bundled and bundled.is_dir():
            resolved.append(Root(bundled.resolve(), BUNDLED))
        self.roots: tuple[Root, ...] = tuple(resolved)
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._loader = RootsLoader(list(resolved))
        self._jinja = PromptEnvironment(loader=self._loader, max_bytes=max_bytes)
        self._templates: dict[str, Template] = {}
        self._inline: OrderedDict[tuple[str, str], Template] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def names_by_path(self) -> Mapping[str, str]:
        return self._loader.names_by_path

    def __repr__(self) -> str:
        return f"TemplateEnv(roots={[r.label for r in self.roots]}, max_bytes={self.max_bytes}, timeout={self.timeout})"

    # -- loading -------------------------------------------------------------------------
    def _load(self, name: str) -> PromptJinjaTemplate:
        try:
            return cast(PromptJinjaTemplate, self._jinja.get_template(name))
        except TemplateNotFound:
            searched = ", ".join(str(r.path) for r in self.roots) or "no template directories"
            raise TemplateError(
                f"not found (searched {searched})",
                template=name,
                hint="check the name, or add its directory to template_dirs",
            ) from None

    def effective_inputs(self, jinja: PromptJinjaTemplate) -> dict[str, InputSpec]:
        return self._jinja.effective_inputs(jinja)

    def _dependencies(self, jinja: PromptJinjaTemplate) -> tuple[dict[str, PromptJinjaTemplate], list[str]]:
        """Every template reachable through include/extends/import, and markers for unloadable ones."""
        found: dict[str, PromptJinjaTemplate] = {}
        markers: set[str] = set()
        queue = list(jinja.prompt_meta.referenced)
        while queue:
            ref = queue.pop()
            if ref is None:
                markers.add(DYNAMIC_MARKER)
            elif ref not in found and _MISSING_MARKER + ref not in markers:
                try:
                    dep = cast(PromptJinjaTemplate, self._jinja.get_template(ref))
                except TemplateNotFound:
                    # Maybe `ignore missing`; a real miss fails when the include renders.
                    markers.add(_MISSING_MARKER + ref)
                    continue
                found[ref] = dep
                queue.extend(dep.prompt_meta.referenced)
        return found, sorted(markers)

    def _build(self, name: str, jinja: PromptJinjaTemplate, *, inline: bool = False) -> Template:
        deps, markers = self._dependencies(jinja)
        digest = hashlib.sha256(jinja.prompt_meta.source.encode("utf-8"))
        for dep_name in sorted(deps):
            digest.update(f"\0{dep_name}\0".encode())
            digest.update(deps[dep_name].prompt_meta.source.encode("utf-8"))
        for marker in markers:
            digest.update(f"\0{marker}".encode())
        return Template(self, name, jinja, digest.hexdigest()[:12], deps, markers, inline=inline)

    def is_current(
        self,
        jinja: PromptJinjaTemplate,
        deps: Mapping[str, PromptJinjaTemplate],
        markers: Sequence[str] = (),
        *,
        check_self: bool = True,
    ) -> bool:
        """True while ``jinja`` and its dependencies are the versions on disk."""
        try:
            if check_self and self._jinja.get_template(jinja.name or "") is not jinja:
                return False
            for dep_name, dep in deps.items():
                if self._jinja.get_template(dep_name) is not dep:
                    return False
        except PromptkitError:
            return False
        except TemplateNotFound:
            return False
        for marker in markers:
            if marker.startswith(_MISSING_MARKER):
                try:
                    self._jinja.get_template(marker[len(_MISSING_MARKER) :])
                except (TemplateNotFound, PromptkitError):
                    continue
                return False  # a template that was missing now exists
        return True

    def get(self, name: str) -> Template:
        """The template ``name`` (e.g. ``"structured.j2"``, ``"techniques/cot.j2"``), compiled and checked."""
        jinja = self._load(name)
        cached = self._templates.get(name)
        if (
            cached is not None
            and cached._jinja is jinja
            and self.is_current(jinja, cached._dependencies, cached._markers, check_self=False)
        ):
            return cached
        template = self._build(name, jinja)
        self._templates[name] = template
        return template

    def from_string(self, source: str, name: str = "<inline>") -> Template:
        """A template from a string (front matter allowed). Never pass user data here: data is not a template."""
        key = (name, source)
        with self._lock:
            cached = self._inline.get(key)
            if cached is not None and cached.is_current():
                self._inline.move_to_end(key)
                return cached
        template = self._build(name, self._jinja.compile_prompt(source, name, None), inline=True)
        with self._lock:
            self._inline[key] = template
            while len(self._inline) > _INLINE_CACHE_SIZE:
                self._inline.popitem(last=False)
        return template

    def list_templates(self) -> list[TemplateInfo]:
        """Every template in the roots (a user template hides a bundled one of the same name)."""
        infos = []
        for name, root in sorted(self._loader.list_with_roots().items()):
            try:
                template = self.get(name)
            except PromptkitError as exc:
                infos.append(TemplateInfo(name, root.label, error=str(exc)))
                continue
            infos.append(TemplateInfo(name, root.label, template.description, template.version, template.inputs))
        return infos


_DEFAULT_ENVS: dict[tuple[Any, ...], TemplateEnv] = {}
_DEFAULT_LOCK = threading.Lock()


def default_env(settings: Settings | None = None) -> TemplateEnv:
    """The shared env for ``settings`` (default: :func:`load_settings`), cached per roots and limits."""
    if settings is None:
        settings = load_settings()
    dirs = tuple(str(Path(d).expanduser().resolve()) for d in settings.template_dirs)
    key = (dirs, settings.render_max_bytes, settings.render_timeout)
    env = _DEFAULT_ENVS.get(key)
    if env is None:
        with _DEFAULT_LOCK:
            env = _DEFAULT_ENVS.get(key)
            if env is None:
                env = TemplateEnv(dirs, max_bytes=settings.render_max_bytes, timeout=settings.render_timeout)
                _DEFAULT_ENVS[key] = env
    return env


def render(name: str, values: Mapping[str, Any] | None = None, /, **kw: Any) -> list[Message]:
    """Render the template ``name`` from the default env into chat messages."""
    return default_env().get(name).render_messages(values, **kw)
