"""Options shared by a family of techniques: declared once, with one set of defaults, checked once.

Families: :class:`Sampling` (the voters), :class:`GatedSampling` (voters that correct a weak
majority), :class:`Retrieval` (techniques that ground a step in passages), :class:`Program` (model-
written Python in the sandbox). A technique names its families in ``options`` (a type, or a tuple
when it belongs to two); its ``__init__`` takes their options as ``**options`` and calls
:meth:`Options.parse` (or :func:`split` first, for two families), which rejects unknown names,
fills the defaults and checks every value, naming the option in the error. The registry lists a
technique's options as its own keyword arguments plus its families' fields (:func:`option_names`).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Self

import dspy
from dspy.signatures.signature import Signature

from promptkit.errors import InputError
from promptkit.techniques.base import (
    COT,
    Retriever,
    SignatureLike,
    TechniqueModule,
    outputs_of,
    passage_texts,
    pick_output,
    positive,
)
from promptkit.techniques.sandbox import PythonSandbox, SandboxLimits, require_sandbox
from promptkit.techniques.voting import Normalizer, consensus, sample, vote, voting_normalizer


def fraction(name: str, value: float, technique: str, why: str) -> float:
    """Check an option that must be a number in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise InputError(
            f"technique {technique!r}: option {name}={value!r} must be a number in [0, 1] ({why})",
            hint=f"pass {name}=0.5 or similar",
        )
    return float(value)


def check_temperature(temperature: float, technique: str) -> float:
    """Check a sampling temperature: samples drawn at 0 are identical and cannot vote."""
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or temperature <= 0:
        raise InputError(
            f"technique {technique!r}: temperature={temperature!r} must be > 0 (identical samples cannot vote)",
            hint="use temperature=0.7",
        )
    return float(temperature)


@dataclass(frozen=True)
class Options:
    """Base of the family options types: the dataclass fields are the option names and defaults."""

    technique: str = dataclasses.field(default="", repr=False)
    internal: ClassVar[frozenset[str]] = frozenset({"technique"})

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name not in cls.internal]

    @classmethod
    def parse(cls, technique: str, sig: type[Signature], given: Mapping[str, Any], **defaults: Any) -> Self:
        """The options from ``given`` (a technique's ``**options``) over the family's defaults (a
        technique may shift one with ``defaults``, e.g. complex_cot samples once unless asked)."""
        (mine,) = split(technique, given, cls)
        options = cls(technique=technique, **{**defaults, **mine})
        options.check(sig)
        return options

    def check(self, sig: type[Signature]) -> None:
        """Check the values (subclasses); raise InputError naming the option."""


@dataclass(frozen=True)
class Sampling(Options):
    """Sample ``n`` answers at ``temperature`` (``num_threads`` at a time) and vote on ``field`` (default:
    the last output) with the key ``normalize`` (default: chosen by the field's type; see voting)."""

    n: int = 5
    temperature: float = 0.7
    field: str | None = None
    normalize: Normalizer | str | None = None
    num_threads: int = 1
    internal: ClassVar[frozenset[str]] = frozenset({"technique", "voted", "key"})
    voted: str = dataclasses.field(default="", repr=False)
    key: Normalizer | None = dataclasses.field(default=None, repr=False)

    def check(self, sig: type[Signature]) -> None:
        tid = self.technique
        positive("n", self.n, tid)
        positive("num_threads", self.num_threads, tid)
        check_temperature(self.temperature, tid)
        voted = pick_output(sig, self.field, tid)
        object.__setattr__(self, "temperature", float(self.temperature))
        object.__setattr__(self, "voted", voted)
        object.__setattr__(self, "key", voting_normalizer(sig, voted, self.normalize, tid))

    def sample(
        self, predict: dspy.Predict, inputs: dict[str, Any], n: int | None = None
    ) -> tuple[list[dspy.Prediction], list[str]]:
        return sample(predict, inputs, self.n if n is None else n, self.temperature, self.num_threads)

    def vote(self, samples: list[dspy.Prediction]) -> tuple[int, dict[str, int]]:
        assert self.key is not None  # set by check()
        return vote(samples, self.voted, self.key)

    def consensus(self, predict: dspy.Predict, inputs: dict[str, Any]) -> tuple[dspy.Prediction, dict[str, Any]]:
        assert self.key is not None
        return consensus(predict, inputs, self.n, self.temperature, self.num_threads, self.voted, self.key)


@dataclass(frozen=True)
class GatedSampling(Sampling):
    """Sampling whose winner is returned as is only when its share of the ``n`` samples is strictly
    greater than ``threshold`` (verify_and_edit, cok); below it, a correction stage runs."""

    threshold: float = 0.5

    def check(self, sig: type[Signature]) -> None:
        super().check(sig)
        fraction(
            "threshold",
            self.threshold,
            self.technique,
            "the winning answer's share of the votes above which no correction runs",
        )

    def agreed(self, report: Mapping[str, Any]) -> bool:
        return float(report["share"]) > self.threshold


@dataclass(frozen=True)
class Program(Options):
    """Run model-written Python in the OS sandbox: ``timeout`` seconds and ``memory_mb`` per run, on the
    ``sandbox`` backend (None: the first that works here; see :mod:`promptkit.techniques.sandbox`)."""

    timeout: float = 5.0
    memory_mb: int = 256
    sandbox: str | None = None

    def check(self, sig: type[Signature]) -> None:
        self.limits  # noqa: B018 - SandboxLimits checks the numbers, naming them

    @property
    def limits(self) -> SandboxLimits:
        return SandboxLimits(timeout=self.timeout, memory_mb=self.memory_mb)

    def template_values(self) -> dict[str, Any]:
        """What the code-writing templates tell the model about the limits."""
        return {"time_limit": self.timeout, "memory_mb": self.memory_mb}

    def open(self) -> PythonSandbox:
        """The sandbox, or SandboxUnavailableError — called before the first LM call, to refuse early."""
        return PythonSandbox(self.limits, require_sandbox(self.sandbox))


@dataclass(frozen=True)
class Retrieval(Options):
    """Ground a step in passages: ``retriever`` (``query -> passages``: a str, a list, or an object with
    ``.passages``; or a mapping of source names to such callables, where the model names the source)
    and the top ``k`` passages of each search. None: the technique works without retrieval."""

    retriever: Retriever | Mapping[str, Retriever] | None = None
    k: int = 3

    def check(self, sig: type[Signature]) -> None:
        positive("k", self.k, self.technique)
        found = self.retriever
        if found is None or callable(found):
            return
        if not (
            isinstance(found, Mapping)
            and found
            and all(isinstance(name, str) and name.strip() and callable(fn) for name, fn in found.items())
        ):
            raise InputError(
                f"technique {self.technique!r}: option retriever must be callable (query -> passages) or a "
                f"non-empty mapping of source names to such callables, got {found!r:.60}",
                hint='pass e.g. retriever=search or retriever={"wikipedia": wiki, "medicine": pubmed}',
            )
        object.__setattr__(self, "retriever", dict(found))

    @property
    def sources(self) -> list[str]:
        """The source names the model may pick from (none for a single retriever)."""
        return list(self.retriever) if isinstance(self.retriever, dict) else []

    def search(self, query: str, source: str | None = None) -> tuple[str | None, list[str]]:
        """(the source used, the top ``k`` passages) for ``query``; a source name the retriever does
        not know (matched without case) falls back to the first; no retriever: ``(None, [])``."""
        found = self.retriever
        if isinstance(found, dict):
            wanted = str(source or "").strip().lower()
            name = next((s for s in found if s.lower() == wanted), next(iter(found)))
            return name, passage_texts(found[name](query))[: self.k]
        return None, (passage_texts(found(query))[: self.k] if callable(found) else [])


def split(technique: str, given: Mapping[str, Any], *families: type[Options]) -> list[dict[str, Any]]:
    """``given`` options divided among ``families``; a name none of them has is an InputError."""
    known = [name for family in families for name in family.names()]
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise InputError(
            f"technique {technique!r} has no option {unknown[0]!r}", hint=f"its family options are: {', '.join(known)}"
        )
    return [{k: v for k, v in given.items() if k in family.names()} for family in families]


class SampleThenCorrect(TechniqueModule):
    """Base of verify_and_edit and cok: ``n`` zero-shot CoT samples vote (``self.predict``); the winner
    stands when its share clears ``threshold``, else the subclass corrects its rationale, from
    retrieved passages when there is a retriever."""

    options = (GatedSampling, Retrieval)

    def __init__(self, signature: SignatureLike, *, trigger: str | None, **options: Any) -> None:
        super().__init__(signature)
        sampling, retrieval = split(self.technique_id, options, GatedSampling, Retrieval)
        self.sampling = GatedSampling.parse(self.technique_id, self.signature, sampling)
        self.retrieval = Retrieval.parse(self.technique_id, self.signature, retrieval)
        self.predict = self.predictor(COT, trigger=trigger)

    def vote_first(self, inputs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], bool]:
        """(the winning sample's outputs, the vote report, whether it clears the threshold)."""
        best, report = self.sampling.consensus(self.predict, inputs)
        return outputs_of(best, self.signature), report, self.sampling.agreed(report)


def option_names(cls: type[Any]) -> list[str]:
    """A technique's options: its own keyword arguments, then its families' (``cls.options``)."""
    params = inspect.signature(cls.__init__).parameters.values()
    own = [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]
    families = cls.options if isinstance(cls.options, tuple) else (cls.options,) if cls.options else ()
    return own + [name for family in families for name in family.names()]


__all__ = [
    "GatedSampling",
    "Options",
    "Program",
    "Retrieval",
    "SampleThenCorrect",
    "Sampling",
    "check_temperature",
    "fraction",
    "option_names",
    "split",
]
