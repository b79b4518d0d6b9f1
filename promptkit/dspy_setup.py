"""`promptkit.configure`: set the process-wide LM and adapter for DSPy, promptkit's way."""

from __future__ import annotations

from typing import Any


def configure(lm: Any = None, adapter: Any = None, *, router: Any = None, **settings: Any) -> None:
    """Wrap ``dspy.configure``.

    ``lm`` may be an LM object or a route string (``"local"``, ``"fake"``, ``"ollama_chat/qwen2.5"``,
    any LiteLLM model; with ``router="router.yaml"`` or ``PROMPTKIT_ROUTER``, a ``model_name`` group of that
    LiteLLM Router config); ``adapter`` defaults to :class:`promptkit.TemplateAdapter`. Other keyword
    arguments (``rm``, ``track_usage``, ``callbacks``, ...) go to ``dspy.configure`` unchanged.
    As with DSPy, only the thread that configured first may configure again; use
    ``dspy.context(lm=..., adapter=...)`` in other threads.
    """
    import dspy

    from promptkit.adapter import TemplateAdapter
    from promptkit.lm import choose_lm

    lm = choose_lm(lm, router=router, configured=False)  # configure(None) sets the settings' model
    dspy.configure(lm=lm, adapter=adapter if adapter is not None else TemplateAdapter(), **settings)
