"""Running a checked chain: each step renders, calls the LM, parses; independent steps overlap.

Steps start as soon as every step they need has finished, on a thread pool of ``max_workers``.
Each task runs in a copy of the caller's ``contextvars`` context: ``dspy.context(...)`` (and
``track_usage``) live in a ContextVar, which plain threads do not inherit. Results keep declaration
order whatever the finishing order. When a step fails, no new step starts; the steps already running
finish, and the error carries the completed steps (``ChainStepError.partial``).
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from promptkit.chains.errors import ChainStepError
from promptkit.chains.lmcall import build_request, call_lm, request_slots
from promptkit.chains.output import OutputInvalid, OutputSpec
from promptkit.chains.plan import StepPlan
from promptkit.chains.result import StepResult
from promptkit.parsing import response_format_for, structured_mode

logger = logging.getLogger(__name__)


@dataclass
class RunState:
    """What finished steps produced, read by later steps' references."""

    values: Mapping[str, Any]  # chain inputs
    outputs: dict[str, Any]
    raws: dict[str, str]
    started_at: float


def reask_message(spec: OutputSpec, reason: str) -> str:
    """The user turn that asks again after an unusable reply: it names the problem and the format."""
    if spec.kind == "json":
        schema = spec.json_schema
        shape = "a JSON object or array"
        if schema is not None:
            import json

            shape = f"JSON that matches this schema: {json.dumps(schema, ensure_ascii=False)}"
        return f"Your reply could not be used: {reason}. Reply again with only {shape}, and nothing else."
    if spec.kind == "list":
        return f"Your reply could not be used: {reason}. Reply again with the list items only."
    return f"Your reply could not be used: {reason}. Please answer again."


def run_step(plan: StepPlan, lm: Any, state: RunState) -> StepResult:
    """Render, call (re-asking up to ``retries`` times), parse. Raises ChainStepError when out of tries."""
    started = time.perf_counter()
    values: dict[str, Any] = {}
    for variable, ref in plan.bindings.items():
        try:
            values[variable] = ref.resolve(state.values, state.outputs, state.raws)
        except KeyError as exc:
            raw = state.raws.get(ref.source, "")
            raise ChainStepError(plan.name, f"input {variable!r}: {exc.args[0]}", raw=raw) from None
    messages = plan.template.render_messages(values)
    spec = plan.output
    response_format, extensions = (None, None)
    if spec.kind == "json" and spec.json_schema is not None:
        fmt = response_format_for(spec.json_schema, structured_mode(lm), name="promptkit_step_output")
        response_format, extensions = request_slots(fmt)
    overrides = {"temperature": plan.step.temperature, "max_tokens": plan.step.max_tokens}
    conversation: list[dict[str, str]] = list(messages)
    attempts: list[dict[str, str]] = []
    prompt_tokens = completion_tokens = 0
    while True:
        request = build_request(
            lm, conversation, overrides=overrides, response_format=response_format, extensions=extensions
        )
        reply = call_lm(lm, request)
        prompt_tokens += reply.prompt_tokens
        completion_tokens += reply.completion_tokens
        try:
            parsed, repaired = spec.parse(reply.text)
            break
        except OutputInvalid as bad:
            attempts.append({"raw": reply.text, "error": bad.reason})
            if len(attempts) > plan.step.retries:
                hint = (
                    "make the prompt state the format, raise retries, or use a model that supports structured output"
                    if spec.kind == "json"
                    else "make the prompt state the expected format, or raise retries"
                )
                raise ChainStepError(plan.name, bad.reason, raw=reply.text, attempts=attempts, hint=hint) from None
            logger.info("chain step %r: unusable reply (%s); re-asking", plan.name, bad.reason)
            conversation = [
                *messages,
                {"role": "assistant", "content": reply.text},
                {"role": "user", "content": reask_message(spec, bad.reason)},
            ]
    finished = time.perf_counter()
    return StepResult(
        name=plan.name,
        template=plan.template.name,
        template_version=plan.template.version,
        messages=[dict(m) for m in messages],
        raw=reply.text,
        output=parsed,
        output_kind=spec.kind,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        latency=finished - started,
        started=started - state.started_at,
        finished=finished - state.started_at,
        retries=len(attempts),
        repaired=repaired,
        finish_reason=reply.finish_reason,
        attempts=attempts,
    )


def run_plans(
    order: Sequence[StepPlan],
    lm: Any,
    values: Mapping[str, Any],
    *,
    max_workers: int,
    on_failure: Callable[[BaseException, dict[str, StepResult]], None],
) -> dict[str, StepResult]:
    """Run every step once its needs are done; return results in ``order``.

    ``on_failure(error, completed)`` is called before the first error is re-raised.
    """
    state = RunState(values, {}, {}, time.perf_counter())
    done: dict[str, StepResult] = {}

    def record(result: StepResult) -> None:
        done[result.name] = result
        state.outputs[result.name] = result.output
        state.raws[result.name] = result.raw

    if max_workers <= 1:
        for plan in order:
            try:
                record(run_step(plan, lm, state))
            except BaseException as exc:
                on_failure(exc, done)
                raise
        return {plan.name: done[plan.name] for plan in order}

    started: set[str] = set()
    failure: BaseException | None = None
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="promptkit-chain") as pool:
        running: dict[Future[StepResult], str] = {}

        def launch_ready() -> None:
            for plan in order:
                if plan.name not in started and all(need in done for need in plan.needs):
                    started.add(plan.name)
                    # A fresh copy per task: the caller's dspy.context / usage tracker, isolated per thread.
                    context = contextvars.copy_context()
                    running[pool.submit(context.run, run_step, plan, lm, state)] = plan.name

        launch_ready()
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                running.pop(future)
                try:
                    record(future.result())
                except BaseException as exc:
                    failure = failure or exc
            if failure is None:
                launch_ready()
    if failure is not None:
        on_failure(failure, done)
        raise failure
    return {plan.name: done[plan.name] for plan in order}


__all__ = ["RunState", "reask_message", "run_plans", "run_step"]
