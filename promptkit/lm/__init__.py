"""The LM layer: ``lm(model, **kw)`` builds a ``dspy.LM`` for any route; ``FakeLM`` is the offline test double.

Names are loaded on first use (PEP 562), so importing this package (e.g. by the pytest plugin) does not
import DSPy. ``promptkit.lm`` knows nothing of templates.

The package is also callable, ``promptkit.lm("ollama_chat/qwen2.5")``, because ``promptkit.lm`` names both
this package and the factory function; calling it is the same as ``promptkit.lm.lm(...)``.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptkit.lm.client import PromptkitLM
    from promptkit.lm.factory import choose_lm, lm, make_lm
    from promptkit.lm.fake import FakeLM
    from promptkit.lm.fake_engine import FakeCall
    from promptkit.lm.ollama import normalize_ollama_base, ollama_status
    from promptkit.lm.router import RouterLM
    from promptkit.lm.routes import Route, parse_route

_EXPORTS = {
    "lm": "promptkit.lm.factory",
    "make_lm": "promptkit.lm.factory",
    "choose_lm": "promptkit.lm.factory",
    "PromptkitLM": "promptkit.lm.client",
    "FakeLM": "promptkit.lm.fake",
    "FakeCall": "promptkit.lm.fake_engine",
    "ollama_status": "promptkit.lm.ollama",
    "normalize_ollama_base": "promptkit.lm.ollama",
    "Route": "promptkit.lm.routes",
    "RouterLM": "promptkit.lm.router",
    "parse_route": "promptkit.lm.routes",
}

__all__ = [
    "FakeCall",
    "FakeLM",
    "PromptkitLM",
    "Route",
    "RouterLM",
    "choose_lm",
    "lm",
    "make_lm",
    "normalize_ollama_base",
    "ollama_status",
    "parse_route",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'promptkit.lm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # cache: later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


class _CallablePackage(types.ModuleType):
    def __call__(self, model: str | None = None, **kwargs: Any) -> Any:
        from promptkit.lm.factory import lm as build

        return build(model, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
