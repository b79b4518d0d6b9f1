"""``Step``: one prompt of a chain, and the references that feed it.

A step renders a template -- a file (``template="telecom_feedback/extract.j2"``, resolved through
the template environment, with the spec's folder as an extra root) or an inline string
(``prompt="..."``) -- calls the LM and parses the reply (``output``: text, list or json).

How values reach a template (its declared inputs):

* by name: a template input named like a chain input or a step gets that value
  (a template input ``extract`` receives step ``extract``'s parsed output);
* by mapping: ``inputs={"issues": "extract"}`` gives template input ``issues`` the value of a
  reference. References: ``NAME`` (a chain input, or a step's parsed output), ``STEP.raw`` (the
  step's raw reply text), ``STEP.output.KEY...`` (a key of a JSON output), ``INPUT.KEY...``.

An inline prompt without a front-matter header has its inputs declared for it: every variable it
uses, of type ``any``. ``depends`` orders steps that share no data. Independent steps may run
concurrently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptkit.chains.errors import ChainSpecError
from promptkit.chains.output import OUTPUT_KINDS
from promptkit.chains.values import IDENTIFIER, RESERVED_NAMES

MAX_RETRIES = 10


@dataclass(frozen=True)
class Step:
    """One step of a :class:`~promptkit.chains.Chain`.

    Args:
        name: identifier, unique among the chain's steps and inputs.
        template: template name (file), or
        prompt: an inline template string (front matter optional).
        output: ``text``, ``list`` or ``json``.
        schema: for ``json``: a JSON schema mapping, a ``.json``/``.yaml`` file, a ``module:Class``
            pydantic model path, or a pydantic model class.
        inputs: template input -> reference (see the module docstring).
        depends: steps that must finish first although no data flows from them.
        retries: re-asks after an unusable reply (the re-ask quotes the problem); default 1.
        separator: how a ``list`` reply is split (``auto``, ``lines``, ``semicolon``, ``comma``, a string).
        repair: repair broken JSON with ``json_repair`` before re-asking.
        temperature, max_tokens: per-step generation settings (default: the LM's).
    """

    name: str
    template: str | None = None
    prompt: str | None = None
    output: str = "text"
    schema: Any = None
    inputs: Mapping[str, str] = field(default_factory=dict)
    depends: Sequence[str] = ()
    retries: int = 1
    separator: str = "auto"
    repair: bool = True
    temperature: float | None = None
    max_tokens: int | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not IDENTIFIER.match(self.name) or self.name in RESERVED_NAMES:
            raise ChainSpecError(
                f"step name {self.name!r} is not allowed",
                key_path=("name",),
                hint="use a letter-first identifier (letters, digits, _), e.g. extract_issues",
            )
        if (self.template is None) == (self.prompt is None):
            raise ChainSpecError(
                f"step {self.name!r} needs exactly one of template (a file) or prompt (an inline template)",
                key_path=("template",) if self.template is not None else (),
            )
        source = self.template if self.template is not None else self.prompt
        if not isinstance(source, str) or not source.strip():
            key = "template" if self.template is not None else "prompt"
            raise ChainSpecError(f"step {self.name!r}: {key} must be a non-empty string", key_path=(key,))
        if self.output not in OUTPUT_KINDS:
            raise ChainSpecError(
                f"step {self.name!r}: unknown output kind {self.output!r}",
                key_path=("output",),
                hint="use one of " + ", ".join(OUTPUT_KINDS),
            )
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or not 0 <= self.retries <= MAX_RETRIES:
            raise ChainSpecError(
                f"step {self.name!r}: retries must be an integer from 0 to {MAX_RETRIES}, got {self.retries!r}",
                key_path=("retries",),
            )
        if not isinstance(self.inputs, Mapping):
            raise ChainSpecError(
                f"step {self.name!r}: inputs must map template inputs to references, e.g. {{issues: extract}}",
                key_path=("inputs",),
            )
        for variable, reference in self.inputs.items():
            if not isinstance(reference, str) or not reference.strip():
                raise ChainSpecError(
                    f"step {self.name!r}: input {variable!r} must be a reference string like 'extract' or "
                    f"'classify.output.KEY', got {type(reference).__name__}",
                    key_path=("inputs", str(variable)),
                )
        if isinstance(self.depends, str) or not all(isinstance(d, str) for d in self.depends):
            raise ChainSpecError(f"step {self.name!r}: depends must be a list of step names", key_path=("depends",))
        for key, value in (("temperature", self.temperature), ("max_tokens", self.max_tokens)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
                raise ChainSpecError(f"step {self.name!r}: {key} must be a non-negative number", key_path=(key,))
        if self.max_tokens is not None and not isinstance(self.max_tokens, int):
            raise ChainSpecError(f"step {self.name!r}: max_tokens must be an integer", key_path=("max_tokens",))


@dataclass(frozen=True)
class Reference:
    """Where a template input's value comes from.

    ``kind`` is ``input`` (a chain input), ``output`` (a step's parsed output) or ``raw`` (a step's
    reply text); ``path`` indexes into the value (keys of a JSON object or dict input).
    """

    source: str
    kind: str
    path: tuple[str, ...] = ()
    text: str = ""

    def resolve(self, chain_values: Mapping[str, Any], outputs: Mapping[str, Any], raws: Mapping[str, str]) -> Any:
        if self.kind == "raw":
            return raws[self.source]
        value = chain_values[self.source] if self.kind == "input" else outputs[self.source]
        for depth, key in enumerate(self.path):
            if isinstance(value, Mapping) and key in value:
                value = value[key]
            elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
                value = value[int(key)]
            else:
                walked = ".".join(self.path[:depth]) or "(the value)"
                raise KeyError(f"reference {self.text!r}: {walked} has no key {key!r}")
        return value


def parse_reference(text: str, inputs: Sequence[str], steps: Sequence[str]) -> Reference:
    """Parse a reference string; raises ValueError with a message that says what would be valid."""
    parts = text.strip().split(".")
    head, rest = parts[0], tuple(parts[1:])
    if any(not part for part in parts):
        raise ValueError("a reference has no empty parts: write NAME, STEP.raw or STEP.output.KEY")
    if head in steps:
        if not rest or rest == ("output",):
            return Reference(head, "output", (), text)
        if rest == ("raw",):
            return Reference(head, "raw", (), text)
        if rest[0] == "output":
            return Reference(head, "output", rest[1:], text)
        raise ValueError(
            f"after a step name write .output, .output.KEY or .raw (did you mean '{head}.output.{'.'.join(rest)}'?)"
        )
    if head in inputs:
        return Reference(head, "input", rest, text)
    known = ", ".join([*inputs, *steps]) or "none"
    raise ValueError(f"{head!r} is neither a chain input nor a step (known: {known})")


__all__ = ["MAX_RETRIES", "Reference", "Step", "parse_reference"]
