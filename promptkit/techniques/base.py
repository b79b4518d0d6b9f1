"""What every technique module shares: signature handling, template-rendered instructions, fan-out.

A technique is a ``dspy.Module`` built over the user's signature (``"question -> answer"`` or a
``dspy.Signature`` class). It declares its steps (:class:`Step`: the template, the fields the step
reads and writes, whether it sees the user's outputs); :meth:`TechniqueModule.predictor` turns a step
into a ``dspy.Predict`` whose *instructions* are rendered from ``templates/techniques/<template>`` —
so the TemplateAdapter shows them in the structured prompt and DSPy optimizers can still rewrite
them — and whose extra fields (a plan, a critique, subquestions, ...) are added to the user's
signature. A template value passed as None is left out, so the template's own default (e.g. the
CoT trigger phrase in ``cot_zeroshot.j2``) is the one place the wording lives.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import dspy
from dspy.signatures.signature import Signature

from promptkit.errors import InputError, PromptkitError

SignatureLike = str | type[Signature]
T = TypeVar("T")
Field = tuple[str, str, Any]
"""An extra field: (name, description, type)."""
Retriever = Callable[[str], Any]
"""``query -> passages``: a str, a list of str, or an object with ``.passages`` (a promptkit/DSPy retriever)."""

REASONING: Field = ("reasoning", "your step-by-step reasoning, written before the answer", str)

TEMPLATE_DIR = "techniques"


class TechniqueError(PromptkitError):
    """A technique could not finish at run time (e.g. a tool kept failing, no program ran). Exit code 1."""


def as_signature(signature: SignatureLike, technique: str) -> type[Signature]:
    """The user's signature as a DSPy class, or an InputError that says how to write one."""
    try:
        sig: type[Signature] = dspy.ensure_signature(signature)
    except Exception as exc:  # DSPy raises ValueError/TypeError/SyntaxError for malformed strings
        raise InputError(
            f"technique {technique!r}: signature {signature!r} is not valid ({exc})",
            hint='write it like "question -> answer" or "context, question -> answer: int", or pass a dspy.Signature',
        ) from None
    if not sig.input_fields or not sig.output_fields:
        raise InputError(
            f"technique {technique!r}: signature {sig.signature!r} needs at least one input and one output field",
            hint='e.g. "question -> answer"',
        )
    return sig


def render_instructions(template: str, /, **values: Any) -> str:
    """Render ``templates/techniques/<template>`` to the text used as a step's instructions."""
    from promptkit.prompts import default_env

    return default_env().get(f"{TEMPLATE_DIR}/{template}").render_text(values)


def task_values(sig: type[Signature]) -> dict[str, Any]:
    """The input every technique template declares: ``task``, the user's signature instructions."""
    return {"task": sig.instructions}


def _check_free(sig: type[Signature], names: Iterable[str], technique: str) -> None:
    for name in names:
        if name in sig.fields:
            raise InputError(
                f"technique {technique!r} adds a field named {name!r}, but signature {sig.signature!r} already has one",
                hint=f"rename your {name!r} field",
            )


def extend(
    sig: type[Signature],
    *,
    technique: str,
    instructions: str,
    inputs: Sequence[tuple[str, str, Any]] = (),
    before: Sequence[tuple[str, str, Any]] = (),
    after: Sequence[tuple[str, str, Any]] = (),
    drop_outputs: bool = False,
) -> type[Signature]:
    """The user's signature with extra fields and new instructions.

    ``inputs`` are appended input fields, ``before`` output fields placed before the user's outputs
    (e.g. a plan the model writes first), ``after`` output fields placed after them. Each is
    ``(name, description, type)``. ``drop_outputs`` removes the user's outputs (an intermediate step).
    """
    _check_free(sig, [name for name, _, _ in (*inputs, *before, *after)], technique)
    new = sig
    if drop_outputs:
        for name in sig.output_fields:
            new = new.delete(name)
    for name, desc, type_ in inputs:
        new = new.append(name, dspy.InputField(desc=desc), type_=type_)
    for name, desc, type_ in reversed(before):
        new = new.prepend(name, dspy.OutputField(desc=desc), type_=type_)
    for name, desc, type_ in after:
        new = new.append(name, dspy.OutputField(desc=desc), type_=type_)
    return new.with_instructions(instructions)


def step_signature(
    inputs: Sequence[tuple[str, str, Any]], outputs: Sequence[tuple[str, str, Any]], instructions: str
) -> type[Signature]:
    """A signature built from scratch (for steps that do not see the user's fields)."""
    fields: dict[str, tuple[Any, Any]] = {}
    for name, desc, type_ in inputs:
        fields[name] = (type_, dspy.InputField(desc=desc))
    for name, desc, type_ in outputs:
        fields[name] = (type_, dspy.OutputField(desc=desc))
    return dspy.Signature(fields, instructions)


def pick_output(sig: type[Signature], field: str | None, technique: str) -> str:
    """The output field a technique votes on / fills: ``field`` if given, else the last output."""
    if field is None:
        return list(sig.output_fields)[-1]
    if field not in sig.output_fields:
        raise InputError(
            f"technique {technique!r}: field={field!r} is not an output of signature {sig.signature!r}",
            hint=f"use one of {', '.join(sig.output_fields)}",
        )
    return field


def require_str_output(sig: type[Signature], technique: str, why: str) -> str:
    """The single ``str`` output field a technique writes text into, else an InputError."""
    outputs = list(sig.output_fields.items())
    if len(outputs) != 1 or outputs[0][1].annotation is not str:
        raise InputError(
            f"technique {technique!r} needs a signature with exactly one str output ({why}); got {sig.signature!r}",
            hint='use e.g. "question -> answer"',
        )
    return outputs[0][0]


def inputs_of(sig: type[Signature], kwargs: Mapping[str, Any], technique: str) -> dict[str, Any]:
    """The user's input values, checked: a missing input is an InputError naming it."""
    missing = [name for name in sig.input_fields if name not in kwargs]
    if missing:
        raise InputError(
            f"technique {technique!r}: missing input field(s) {', '.join(missing)} for signature {sig.signature!r}",
            hint=f"call it with {', '.join(f'{n}=...' for n in sig.input_fields)}",
        )
    return {name: kwargs[name] for name in sig.input_fields}


def outputs_of(prediction: Any, sig: type[Signature]) -> dict[str, Any]:
    return {name: prediction.get(name) for name in sig.output_fields}


def positive(name: str, value: int, technique: str, *, minimum: int = 1) -> int:
    """Check an integer option (N, max_steps, depth...), naming it in the error."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(
            f"technique {technique!r}: option {name}={value!r} must be an integer >= {minimum}",
            hint=f"pass {name}={max(minimum, 3)} or similar",
        )
    return value


def run_parallel(jobs: Sequence[Callable[[], T]], num_threads: int) -> list[T]:
    """Run ``jobs`` on a thread pool, each inside a copy of the caller's context (so ``dspy.context``
    overrides — the LM, the adapter — reach the workers; plain threads would see only the global
    settings). Results keep the jobs' order; the first exception is raised.

    Under ``dspy.streamify`` the jobs run one after another: DSPy hands stream chunks over with
    ``anyio.from_thread.run``, which works only in the thread streamify runs the program in, and
    concurrent calls of one predictor would interleave their chunks in its listener."""
    if len(jobs) <= 1 or num_threads <= 1 or dspy.settings.send_stream is not None:
        return [job() for job in jobs]
    with ThreadPoolExecutor(max_workers=min(num_threads, len(jobs))) as pool:
        futures = [pool.submit(contextvars.copy_context().run, job) for job in jobs]
        return [future.result() for future in futures]


def passage_texts(found: Any) -> list[str]:
    """A retriever's result as a list of strings: a str, a list of str, or an object with ``.passages``."""
    found = getattr(found, "passages", found)
    if isinstance(found, str):
        return [found]
    return [str(getattr(p, "long_text", p)) for p in found]


def fan_out(fn: Callable[[Any], T], items: Iterable[Any], num_threads: int) -> list[T]:
    """``fn(item)`` for each item, on up to ``num_threads`` threads (:func:`run_parallel`), in the items' order."""
    return run_parallel([functools.partial(fn, item) for item in items], num_threads)


def bullet_list(items: Iterable[Any]) -> str:
    return "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))


@dataclass(frozen=True)
class Step:
    """One LM call of a technique: its template and the fields it adds to the user's signature —
    ``inputs`` it reads besides the user's inputs, outputs written ``before`` / ``after`` the user's
    outputs — and whether it writes the user's outputs at all (``drop_outputs`` for an intermediate step)."""

    template: str
    inputs: tuple[Field, ...] = ()
    before: tuple[Field, ...] = ()
    after: tuple[Field, ...] = ()
    drop_outputs: bool = False


COT = Step("cot_zeroshot.j2", before=(REASONING,))
"""Zero-shot chain of thought over the user's signature (the trigger phrase lives in the template)."""
COT_FEWSHOT = Step("cot_fewshot.j2", before=(REASONING,))
"""Few-shot chain of thought: the demos (the predictor's ``demos``) show the reasoning before the outputs."""


class TechniqueModule(dspy.Module):
    """Base class: ``self.signature`` is the user's signature; subclasses set ``technique_id`` and, for a
    family of techniques sharing options, ``options`` (see :mod:`promptkit.techniques.options`)."""

    technique_id: ClassVar[str] = ""
    options: ClassVar[Any] = None

    def __init__(self, signature: SignatureLike = "question -> answer") -> None:
        super().__init__()
        self.signature = as_signature(signature, self.technique_id)

    def _inputs(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        return inputs_of(self.signature, kwargs, self.technique_id)

    def _values(self, **extra: Any) -> dict[str, Any]:
        return {**task_values(self.signature), **{k: v for k, v in extra.items() if v is not None}}

    def run_chain(self, inputs: Mapping[str, Any], *steps: str) -> dspy.Prediction:
        """Run the predictors named ``steps`` in order, each on the user's inputs plus the fields earlier
        steps wrote that it reads; the prediction holds everything written (the last step's outputs last)."""
        written: dict[str, Any] = {}
        for name in steps:
            predictor: dspy.Predict = getattr(self, name)
            reads = {field: value for field, value in written.items() if field in predictor.signature.input_fields}
            written.update(predictor(**inputs, **reads).toDict())
        return dspy.Prediction(**written)

    def predictor(self, step: Step, **values: Any) -> dspy.Predict:
        """The ``dspy.Predict`` of ``step``, its instructions rendered with ``values`` (None: the template default)."""
        text = render_instructions(step.template, **self._values(**values))
        return dspy.Predict(
            extend(
                self.signature,
                technique=self.technique_id,
                instructions=text,
                inputs=step.inputs,
                before=step.before,
                after=step.after,
                drop_outputs=step.drop_outputs,
            )
        )
