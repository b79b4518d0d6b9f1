"""Typed multi-step prompt chains: each step's parsed output feeds later steps' templates.

* :class:`Chain` / :class:`Step` -- the Python API (:mod:`promptkit.chains.chain`, :mod:`.step`);
* :func:`load_chain` -- YAML specs in ``pipelines/`` (:mod:`promptkit.chains.spec`);
* :class:`ChainResult` / :class:`StepResult` -- every step's messages, raw and parsed output, tokens,
  latency and retries; ``to_dict()`` is JSON;
* :class:`ChainSpecError` (bad definition, exit 2) and :class:`ChainStepError` (unusable output at run
  time, exit 1).
"""

from __future__ import annotations

from promptkit.chains.chain import Chain
from promptkit.chains.errors import ChainSpecError, ChainStepError
from promptkit.chains.output import OUTPUT_KINDS, OutputSpec, parse_list
from promptkit.chains.result import ChainResult, StepResult
from promptkit.chains.spec import load_chain
from promptkit.chains.step import Step
from promptkit.chains.values import ChainInput

__all__ = [
    "OUTPUT_KINDS",
    "Chain",
    "ChainInput",
    "ChainResult",
    "ChainSpecError",
    "ChainStepError",
    "OutputSpec",
    "Step",
    "StepResult",
    "load_chain",
    "parse_list",
]
