"""``chained_tasks``: the registry's door to :mod:`promptkit.chains` (prompt chaining, decomposition family).

Chains are their own subsystem (templates per step, typed outputs, YAML specs); this module only
adapts one to the technique interface: ``build("chained_tasks", "feedback -> report", chain=...)``
runs the chain with the signature's inputs (matched by name to the chain's inputs) and puts the
chain's output in the signature's single output field (JSON text when the field is ``str`` and the
output is structured). ``promptkit.chains`` is imported lazily; without it the builder raises
ConfigError instead of failing at import.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dspy

from promptkit.errors import ConfigError, InputError
from promptkit.techniques.base import SignatureLike, TechniqueModule


def _chains_module() -> Any:
    try:
        import promptkit.chains as chains
    except ImportError as exc:
        raise ConfigError(
            f"technique 'chained_tasks' is provided by promptkit.chains, which cannot be imported ({exc})",
            hint="install promptkit with its chains package, or use another technique",
        ) from None
    return chains


def load_chain_spec(chain: Any) -> Any:
    """A promptkit Chain given as one, as a YAML path, or as a bundled pipeline name."""
    return _load(chain, _chains_module())


def _load(chain: Any, chains: Any) -> Any:
    if isinstance(chain, chains.Chain):
        return chain
    if not isinstance(chain, str | Path):
        raise InputError(
            f"chained_tasks: chain must be a promptkit Chain, a YAML path or a bundled pipeline name, "
            f"not {type(chain).__name__}",
            hint="e.g. chain='telecom_feedback' or chain='pipelines/my_chain.yaml'",
        )
    path = Path(chain)
    if not path.suffix:
        from promptkit.prompts import bundled_pipelines_dir

        path = bundled_pipelines_dir() / f"{chain}.yaml"
    return chains.load_chain(path)


class ChainedTasks(TechniqueModule):
    """Run a :class:`promptkit.Chain` as a technique (see the module docstring)."""

    technique_id = "chained_tasks"

    def __init__(self, signature: SignatureLike = "feedback -> report", *, chain: Any = None) -> None:
        super().__init__(signature)
        if chain is None:
            raise InputError(
                "technique 'chained_tasks' needs chain=...: a promptkit Chain, a YAML spec path or a bundled "
                "pipeline name",
                hint="e.g. build('chained_tasks', 'feedback -> report', chain='telecom_feedback')",
            )
        chains = _chains_module()
        self.chain = _load(chain, chains)
        sig = self.signature
        missing = [name for name, spec in self.chain.inputs.items() if spec.required and name not in sig.input_fields]
        extra = [name for name in sig.input_fields if name not in self.chain.inputs]
        if missing or extra or len(sig.output_fields) != 1:
            raise InputError(
                f"chained_tasks: signature {sig.signature!r} does not fit chain {self.chain.name!r} "
                f"(chain inputs: {', '.join(self.chain.inputs)}; the signature needs exactly those inputs "
                "and one output)",
                hint=f'use e.g. "{", ".join(self.chain.inputs)} -> result"',
            )
        self.output_name, self.output_info = next(iter(sig.output_fields.items()))

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        result = self.chain.run(dspy.settings.lm, values=self._inputs(kwargs))
        value = result.output
        if self.output_info.annotation is str and not isinstance(value, str):
            value = json.dumps(value, ensure_ascii=False, indent=2)
        return dspy.Prediction(**{self.output_name: value}, chain_result=result)
