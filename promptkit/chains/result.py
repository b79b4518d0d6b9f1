"""What a chain run returns: the final output and, for every step, what was sent and received.

Everything is plain data (strings, numbers, lists, dicts), so ``ChainResult.to_dict()`` is the JSON
that ``promptkit chain`` prints.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StepResult:
    """One step's run.

    ``messages`` are the rendered messages of the first attempt; ``attempts`` lists every reply
    that could not be used (``raw`` and ``error``) before the accepted one, so ``retries`` equals
    ``len(attempts)``. ``tokens`` add up all attempts. ``started`` / ``finished`` are seconds since
    the chain started (they show which steps overlapped); ``latency`` is ``finished - started``.
    """

    name: str
    template: str
    template_version: str
    messages: list[dict[str, str]]
    raw: str
    output: Any
    output_kind: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency: float = 0.0
    started: float = 0.0
    finished: float = 0.0
    retries: int = 0
    repaired: bool = False
    finish_reason: str | None = None
    attempts: list[dict[str, str]] = field(default_factory=list)

    @property
    def tokens(self) -> dict[str, int]:
        return {
            "prompt": self.prompt_tokens,
            "completion": self.completion_tokens,
            "total": self.prompt_tokens + self.completion_tokens,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "template": self.template,
            "template_version": self.template_version,
            "messages": [dict(m) for m in self.messages],
            "raw": self.raw,
            "output_kind": self.output_kind,
            "output": self.output,
            "tokens": self.tokens,
            "latency": round(self.latency, 6),
            "started": round(self.started, 6),
            "finished": round(self.finished, 6),
            "retries": self.retries,
            "repaired": self.repaired,
            "finish_reason": self.finish_reason,
            "attempts": [dict(a) for a in self.attempts],
        }


@dataclass
class ChainResult:
    """A chain run. ``output`` is the final step's parsed output, or ``{step: output}`` for several."""

    chain: str
    model: str | None
    inputs: dict[str, Any]
    output: Any
    output_steps: list[str]
    steps: dict[str, StepResult]
    latency: float = 0.0

    def __getitem__(self, step: str) -> StepResult:
        return self.steps[step]

    def __iter__(self) -> Iterator[StepResult]:
        return iter(self.steps.values())

    @property
    def tokens(self) -> dict[str, int]:
        prompt = sum(s.prompt_tokens for s in self.steps.values())
        completion = sum(s.completion_tokens for s in self.steps.values())
        return {"prompt": prompt, "completion": completion, "total": prompt + completion}

    def to_dict(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "model": self.model,
            "inputs": dict(self.inputs),
            "output": self.output,
            "output_steps": list(self.output_steps),
            "tokens": self.tokens,
            "latency": round(self.latency, 6),
            "steps": [s.to_dict() for s in self.steps.values()],
        }


__all__ = ["ChainResult", "StepResult"]
