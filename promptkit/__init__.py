"""promptkit: prompt engineering with DSPy.

Prompts are Jinja templates a person can read and edit; DSPy programs run them against the
embedded local model, Ollama or any LiteLLM backend; a FakeLM makes tests deterministic.

The public names are loaded on first use, so ``import promptkit`` stays fast and never imports
DSPy, LiteLLM, torch or the model libraries by itself.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# Importing LiteLLM (directly or through DSPy) must never reach the network for its cost map.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "configure": "promptkit.dspy_setup",
    "TemplateAdapter": "promptkit.adapter",
    "AdapterParseError": "promptkit.adapter",
    "FakeLM": "promptkit.lm",
    "RouterLM": "promptkit.lm",
    "StructuredPrompt": "promptkit.prompts",
    "TemplateEnv": "promptkit.prompts",
    "Template": "promptkit.prompts",
    "render": "promptkit.prompts",
    "load_settings": "promptkit.config",
    "evaluate": "promptkit.evaluation",
    "compile": "promptkit.optimize",
    "load": "promptkit.programs.templates_dir",
    "export_program": "promptkit.programs.export",
    "diff_prompts": "promptkit.programs.diff",
    "save_program": "promptkit.optimize",
    "resolve_program": "promptkit.programs.resolve",
    "render_program": "promptkit.programs.render",
    "compile_to_dir": "promptkit.compile_run",
    "Retriever": "promptkit.retrieval",
    "RAG": "promptkit.programs",
    "MultiHopRAG": "promptkit.programs",
    "Chain": "promptkit.chains",
    "Step": "promptkit.chains",
    "ChainResult": "promptkit.chains",
    "load_chain": "promptkit.chains",
    "Settings": "promptkit.config",
    "StreamListener": "promptkit.streaming",
    "streamify": "promptkit.streaming",
}
# public name -> module that *is* it
_MODULES = {
    "lm": "promptkit.lm",  # callable: promptkit.lm("fake") builds an LM; promptkit.lm.FakeLM is the class
    "errors": "promptkit.errors",
    "prompts": "promptkit.prompts",
    "techniques": "promptkit.techniques",
    "datasets": "promptkit.datasets",
    "metrics": "promptkit.evaluation.metrics",
}

__all__ = [
    "RAG",
    "AdapterParseError",
    "Chain",
    "ChainResult",
    "FakeLM",
    "MultiHopRAG",
    "Retriever",
    "RouterLM",
    "Settings",
    "Step",
    "StreamListener",
    "StructuredPrompt",
    "Template",
    "TemplateAdapter",
    "TemplateEnv",
    "__version__",
    "compile",
    "compile_to_dir",
    "configure",
    "datasets",
    "diff_prompts",
    "errors",
    "evaluate",
    "export_program",
    "lm",
    "load",
    "load_chain",
    "load_settings",
    "metrics",
    "prompts",
    "render",
    "render_program",
    "resolve_program",
    "save_program",
    "streamify",
    "techniques",
]

if TYPE_CHECKING:
    from promptkit import datasets, errors, prompts, techniques
    from promptkit.adapter import AdapterParseError, TemplateAdapter
    from promptkit.chains import Chain, ChainResult, Step, load_chain
    from promptkit.compile_run import compile_to_dir
    from promptkit.config import Settings, load_settings
    from promptkit.dspy_setup import configure
    from promptkit.evaluation import evaluate, metrics
    from promptkit.lm import FakeLM, RouterLM
    from promptkit.optimize import compile, save_program
    from promptkit.programs import RAG, MultiHopRAG
    from promptkit.programs.diff import diff_prompts
    from promptkit.programs.export import export_program
    from promptkit.programs.render import render_program
    from promptkit.programs.resolve import resolve_program
    from promptkit.programs.templates_dir import load
    from promptkit.prompts import StructuredPrompt, Template, TemplateEnv, render
    from promptkit.retrieval import Retriever
    from promptkit.streaming import StreamListener, streamify


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'promptkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
