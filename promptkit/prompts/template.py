"""``Template``: a loaded prompt template with its declared inputs, content version and render methods."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptkit.errors import ConfigError
from promptkit.prompts.environment import PromptJinjaTemplate
from promptkit.prompts.inputs import InputSpec, validate_values
from promptkit.prompts.rendering import Message, messages_to_text, render_messages

if TYPE_CHECKING:
    from promptkit.prompts.template_env import TemplateEnv


@dataclass(frozen=True)
class TemplateInfo:
    """One row of :meth:`TemplateEnv.list_templates`. ``error`` is set when the template fails to load."""

    name: str
    root: str
    description: str = ""
    version: str | None = None
    inputs: dict[str, InputSpec] = field(default_factory=dict)
    error: str | None = None


class Template:
    """A compiled, checked template. Build with :meth:`TemplateEnv.get` or :meth:`TemplateEnv.from_string`.

    ``version`` is a content hash (12 hex digits of sha256) of this template's source and of every
    template it includes, extends or imports, recursively; record it with anything rendered from the
    template. A name computed at render time (``{% include name %}``) cannot be followed, so the
    hash covers the literal marker ``"dynamic"`` instead; a literal name that is not found (e.g.
    ``ignore missing``) adds ``"missing:<name>"``, so the version changes when it appears.
    """

    __slots__ = (
        "_dependencies",
        "_env",
        "_inline",
        "_jinja",
        "_markers",
        "inputs",
        "max_bytes",
        "name",
        "timeout",
        "version",
    )

    def __init__(
        self,
        env: TemplateEnv,
        name: str,
        jinja: PromptJinjaTemplate,
        version: str,
        dependencies: dict[str, PromptJinjaTemplate],
        markers: list[str] | None = None,
        *,
        inline: bool = False,
    ) -> None:
        self._env = env
        self._inline = inline
        self._jinja = jinja
        self._dependencies = dependencies
        self._markers = markers or []
        self.name = name
        self.version = version
        # Includes the inputs of the templates it extends: a child template inherits its parent's interface.
        self.inputs: dict[str, InputSpec] = env.effective_inputs(jinja)
        self.max_bytes: int = env.max_bytes
        self.timeout: float = env.timeout

    @property
    def path(self) -> Path | None:
        """The file the template was loaded from; None for inline templates."""
        return None if self._inline or not self._jinja.filename else Path(self._jinja.filename)

    @property
    def description(self) -> str:
        return self._jinja.prompt_meta.front.description

    @property
    def meta_version(self) -> str | None:
        """The ``version`` its front matter declares (a human label; ``version`` is the content hash)."""
        return self._jinja.prompt_meta.front.version

    @property
    def source(self) -> str:
        return self._jinja.prompt_meta.source

    def validate(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Check values against the declared inputs; return them with defaults filled in."""
        return validate_values(self.name, self.inputs, values)

    def with_limits(self, *, max_bytes: int | None = None, timeout: float | None = None) -> Template:
        """This template with another render budget (the env's by default); the compiled code is shared.

        The budget is not a render keyword so that every keyword stays free for template inputs.
        """
        if (max_bytes is not None and max_bytes <= 0) or (timeout is not None and timeout <= 0):
            raise ConfigError(f"render budget must be positive (max_bytes={max_bytes}, timeout={timeout})")
        other = copy.copy(self)
        other.max_bytes = self.max_bytes if max_bytes is None else max_bytes
        other.timeout = self.timeout if timeout is None else timeout
        return other

    def render_messages(self, values: Mapping[str, Any] | None = None, /, **kw: Any) -> list[Message]:
        """Render to ``[{"role": ..., "content": ...}]``; values come as a mapping, keywords, or both."""
        merged = kw if values is None else ({**values, **kw} if kw else values)
        checked = validate_values(self.name, self.inputs, merged)
        return render_messages(
            self._jinja,
            checked,
            name=self.name,
            max_bytes=self.max_bytes,
            timeout=self.timeout,
            names_by_path=self._env.names_by_path,
        )

    def render_text(self, values: Mapping[str, Any] | None = None, /, **kw: Any) -> str:
        """Render to one string: the message contents joined by a blank line."""
        return messages_to_text(self.render_messages(values, **kw))

    def is_current(self) -> bool:
        """False once this template or any template it depends on has changed on disk."""
        return self._env.is_current(self._jinja, self._dependencies, self._markers, check_self=not self._inline)

    @property
    def dependencies(self) -> list[str]:
        """Names of the templates this one includes / extends / imports, recursively."""
        return sorted(self._dependencies)

    def __repr__(self) -> str:
        return f"Template({self.name!r}, version={self.version!r}, inputs={list(self.inputs)})"
