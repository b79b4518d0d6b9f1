"""Prompting techniques as DSPy modules whose prompts are Jinja templates, with a registry.

::

    from promptkit import techniques

    techniques.list()                                   # every technique, with its paper
    techniques.get("self_consistency").calls            # "N (1 request with n ...)"
    sc = techniques.build("self_consistency", "question -> answer", n=5)
    prediction = sc(question="...")                     # .answer, .votes, .samples

Each technique's steps render their instructions from ``templates/techniques/``; ``promptkit
techniques show ID`` prints them. Importing this package does not import DSPy.
"""

from __future__ import annotations

from promptkit.techniques.registry import (
    DEFAULT_SIGNATURE,
    FAMILIES,
    TECHNIQUES,
    TechniqueInfo,
    build,
    get,
    list_techniques,
)

list = list_techniques

__all__ = ["DEFAULT_SIGNATURE", "FAMILIES", "TECHNIQUES", "TechniqueInfo", "build", "get", "list", "list_techniques"]
