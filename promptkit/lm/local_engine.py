"""``LlamaCppEngine``: a DSPy 3.4 custom engine that runs a GGUF model in-process with llama.cpp.

DSPy gives an engine its cache, retries, usage tracking and history; the engine only turns a
``dspy.lm15.Request`` into a ``Response``. This one:

* renders the messages with the chat template stored in the GGUF file;
* turns ``response_format`` (a JSON schema) into grammar-constrained decoding, so JSON output
  always parses (``supports_response_schema = True`` makes ``dspy.JSONAdapter`` send the schema);
* ends a repetition loop as it forms (:mod:`promptkit.lm.local_loops`, ``loop_guard``);
* shares one loaded model per process (see :mod:`promptkit.lm.local_models`), one caller per
  llama context at a time;
* reports real token counts; maps a prompt longer than the context window to DSPy's
  context-length error; refuses options it cannot honour with a :class:`ConfigError`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Generator, Iterator, Sequence
from contextlib import AbstractContextManager
from os import PathLike
from pathlib import Path
from typing import Any

from dspy.lm15 import (
    ContextLengthError,
    Message,
    Request,
    Response,
    StreamDeltaEvent,
    StreamEndEvent,
    StreamStartEvent,
    TextDelta,
    Usage,
)

from promptkit.errors import ConfigError
from promptkit.lm.grammar import gbnf_for_response_format, llama_grammar
from promptkit.lm.local_loops import LoopGuard
from promptkit.lm.local_models import (
    LoadedModel,
    ModelPool,
    acquire_pool,
    import_llama_cpp,
    release_pool,
    resolve_model_path,
)
from promptkit.lm.local_options import EngineOptions, EngineStats
from promptkit.lm.local_requests import chat_messages, refuse_unsupported

logger = logging.getLogger(__name__)
# DSPy's ChatAdapter ends every output-format instruction with this marker and sends no schema.
_CHAT_ADAPTER_MARKER = "[[ ## completed ## ]]"
_warned_unconstrained = threading.Event()
_OVERFLOW = re.compile(r"Requested tokens \((\d+)\) exceed context window of (\d+)")
_SEED_MODULUS = 2**31
_FANOUT_MEMORY = 64


class LlamaCppEngine:
    """Run a GGUF chat model in-process; pass it as ``dspy.LM("local/<name>", engine=LlamaCppEngine(path))``."""

    supports_response_schema = True
    supports_function_calling = False
    supports_reasoning = False
    supported_params = frozenset(
        {
            "response_format",
            "temperature",
            "max_tokens",
            "stop",
            "seed",
            "top_p",
            "top_k",
            "frequency_penalty",
            "presence_penalty",
        }
    )

    def __init__(
        self,
        model_path: str | PathLike[str],
        *,
        n_threads: int = 2,
        n_ctx: int = 2048,
        max_tokens: int = 512,
        temperature: float = 0.0,
        seed: int = 0,
        pool_size: int = 1,
        repeat_penalty: float = 1.0,
        loop_guard: bool = True,
    ) -> None:
        self.model_path: Path = resolve_model_path(model_path)
        self.options = EngineOptions(
            n_threads, n_ctx, max_tokens, float(temperature), seed, pool_size, repeat_penalty, loop_guard
        )
        self.stats = EngineStats()
        self._pool: ModelPool | None = None
        self._pool_lock = threading.Lock()
        self._seed_lock = threading.Lock()
        self._draws = 0
        self._fanout: OrderedDict[int, tuple[Request, int]] = OrderedDict()

    def __repr__(self) -> str:
        o = self.options
        return (
            f"LlamaCppEngine({str(self.model_path)!r}, n_threads={o.n_threads}, n_ctx={o.n_ctx}, "
            f"max_tokens={o.max_tokens}, temperature={o.temperature}, seed={o.seed}, pool_size={o.pool_size}, "
            f"loop_guard={o.loop_guard})"
        )

    # -- DSPy engine contract -------------------------------------------------------------

    def complete(self, request: Request) -> Response:
        messages = chat_messages(request)
        options = self._generation_options(request)
        _hint_if_unconstrained(messages, options)
        with self._lease() as model:
            model.start_call()
            options = self._compiled(model, options)
            guard = self._loop_guard(model, options)
            try:
                result = model.llama.create_chat_completion(
                    messages=messages, logits_processor=[guard] if guard else None, **options
                )
            except ValueError as exc:
                raise self._translate(exc) from None
            usage = result["usage"]
            model.finish_call(usage["prompt_tokens"])
            choice = result["choices"][0]
            content = choice["message"].get("content") or ""
            if guard:
                content = guard.trim(content, lambda ids: _detokenize(model, ids))
        self.stats.record(usage["prompt_tokens"], usage["completion_tokens"], guard.loops if guard else 0)
        return Response(
            id=result.get("id"),
            model=request.model,
            message=Message.assistant(content),
            finish_reason=_finish_reason(choice.get("finish_reason")),
            usage=Usage(
                input_tokens=usage["prompt_tokens"],
                output_tokens=usage["completion_tokens"],
                total_tokens=usage["total_tokens"],
            ),
        )

    def stream(self, request: Request) -> Generator[Any, None, None]:
        """Yield lm15 stream events; the llama context stays leased until the stream ends or is closed."""
        messages = chat_messages(request)
        options = self._generation_options(request)
        _hint_if_unconstrained(messages, options)
        # llama-cpp-python's stream carries no usage; a logits processor sees every sampling step,
        # and its first call sees exactly the prompt tokens, which gives real counts.
        # A streamed loop is ended like any other, but its copies were already sent: nothing is trimmed.
        counts = {"prompt": 0, "sampled": 0}

        def count_steps(input_ids: Any, scores: Any) -> Any:
            if counts["sampled"] == 0:
                counts["prompt"] = len(input_ids)
            counts["sampled"] += 1
            return scores

        with self._lease() as model:
            model.start_call()
            options = self._compiled(model, options)
            guard = self._loop_guard(model, options)
            chunks = model.llama.create_chat_completion(
                messages=messages,
                stream=True,
                logits_processor=[count_steps, *([guard] if guard else [])],
                **options,
            )
            try:
                first = next(chunks)  # surfaces a context overflow before anything is emitted
            except ValueError as exc:
                raise self._translate(exc) from None
            finish: str | None = None
            try:
                yield StreamStartEvent(id=first.get("id"), model=request.model)
                for chunk in _chain_first(first, chunks):
                    choice = chunk["choices"][0]
                    text = choice.get("delta", {}).get("content")
                    if text:
                        yield StreamDeltaEvent(TextDelta(text))
                    finish = choice.get("finish_reason") or finish
            finally:
                chunks.close()  # stop generating before the context goes back to the pool
            model.finish_call(counts["prompt"])
        reason = _finish_reason(finish)
        # The step that sampled the end-of-generation token produced no output token.
        completion = counts["sampled"] - (1 if reason == "stop" and counts["sampled"] else 0)
        self.stats.record(counts["prompt"], completion, guard.loops if guard else 0)
        yield StreamEndEvent(
            finish_reason=reason,
            usage=Usage(
                input_tokens=counts["prompt"], output_tokens=completion, total_tokens=counts["prompt"] + completion
            ),
        )

    def close(self) -> None:
        """Release this engine's hold on the shared model; the last holder's release unloads it.

        A later call loads the model again.
        """
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            release_pool(pool)

    def dump_state(self) -> dict[str, Any]:
        """What a saved program needs to rebuild the engine: the model path and options (no secrets exist here)."""
        o = self.options
        return {
            "model_path": str(self.model_path),
            "n_threads": o.n_threads,
            "n_ctx": o.n_ctx,
            "max_tokens": o.max_tokens,
            "temperature": o.temperature,
            "seed": o.seed,
            "pool_size": o.pool_size,
            "repeat_penalty": o.repeat_penalty,
            "loop_guard": o.loop_guard,
        }

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> LlamaCppEngine:
        known = {
            "model_path",
            "n_threads",
            "n_ctx",
            "max_tokens",
            "temperature",
            "seed",
            "pool_size",
            "repeat_penalty",
            "loop_guard",
        }
        unknown = sorted(set(state) - known)
        if unknown or "model_path" not in state:
            raise ConfigError(
                f"saved LlamaCppEngine state is invalid (unknown keys: {unknown or 'none'}; "
                f"model_path {'present' if 'model_path' in state else 'missing'})",
                hint="re-save the program with this promptkit version",
            )
        options = {key: value for key, value in state.items() if key != "model_path"}
        return cls(state["model_path"], **options)

    # -- internals ------------------------------------------------------------------------

    def _lease(self) -> AbstractContextManager[LoadedModel]:
        with self._pool_lock:
            if self._pool is None:
                import_llama_cpp()  # a missing install is reported before anything else happens
                o = self.options
                self._pool = acquire_pool(self.model_path, n_ctx=o.n_ctx, n_threads=o.n_threads, pool_size=o.pool_size)
            pool = self._pool
        return pool.lease()

    def _loop_guard(self, model: LoadedModel, options: dict[str, Any]) -> LoopGuard | None:
        if not self.options.loop_guard:
            return None
        return LoopGuard(model.llama, grammar="grammar" in options, max_tokens=options.get("max_tokens"))

    def _generation_options(self, request: Request) -> dict[str, Any]:
        refuse_unsupported(request)
        config = request.config
        temperature = self.options.temperature if config.temperature is None else config.temperature
        options: dict[str, Any] = {
            "temperature": temperature,
            "max_tokens": self.options.max_tokens if config.max_tokens is None else config.max_tokens,
            "seed": self._sampling_seed(request, temperature),
            "repeat_penalty": self.options.repeat_penalty,
        }
        if config.stop:
            options["stop"] = list(config.stop)
        for name in ("top_p", "top_k", "frequency_penalty", "presence_penalty"):
            value = getattr(config, name)
            if value is not None:
                options[name] = value
        grammar = gbnf_for_response_format(config.response_format)
        if grammar is not None:
            options["grammar"] = grammar  # text; compiled against the model's vocabulary by _compiled()
        return options

    @staticmethod
    def _compiled(model: LoadedModel, options: dict[str, Any]) -> dict[str, Any]:
        text = options.get("grammar")
        return options if text is None else {**options, "grammar": llama_grammar(model.llama, text)}

    def _sampling_seed(self, request: Request, temperature: float) -> int:
        """The sampler seed for this call.

        Greedy decoding ignores the seed. When sampling, DSPy fans ``n > 1`` out into repeated
        ``complete()`` calls with the *same* Request object (and strips ``rollout_id``), so a fixed
        seed would make every sample identical. Without an explicit seed each call draws the next
        seed of a per-engine sequence; with one, the k-th repeat of the same request uses ``seed + k``.
        """
        if not temperature:
            return self.options.seed
        with self._seed_lock:
            explicit = request.config.seed
            if explicit is None:
                self._draws += 1
                return (self.options.seed + self._draws) % _SEED_MODULUS
            entry = self._fanout.get(id(request))
            repeat = entry[1] + 1 if entry is not None and entry[0] is request else 0
            self._fanout[id(request)] = (request, repeat)
            self._fanout.move_to_end(id(request))
            while len(self._fanout) > _FANOUT_MEMORY:
                self._fanout.popitem(last=False)
            return (explicit + repeat) % _SEED_MODULUS

    def _translate(self, exc: ValueError) -> Exception:
        match = _OVERFLOW.search(str(exc))
        if match is None:
            return exc
        tokens, n_ctx = match.groups()
        return ContextLengthError(
            f"the prompt has {tokens} tokens but the local model's context window is n_ctx={n_ctx} "
            f"({self.model_path.name}); raise n_ctx (promptkit.lm('local', n_ctx={int(n_ctx) * 2}), or "
            f"PROMPTKIT_N_CTX={int(n_ctx) * 2} for the CLI) or shorten the prompt (fewer or shorter passages)",
            provider="local",
        )


def _detokenize(model: LoadedModel, ids: Sequence[int]) -> str:
    return model.llama.detokenize(list(ids)).decode("utf-8", errors="replace")


def _finish_reason(reason: str | None) -> Any:
    return "length" if reason == "length" else "stop"


def _chain_first(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def _hint_if_unconstrained(messages: list[dict[str, str]], options: dict[str, Any]) -> None:
    """Say once per process when DSPy's ChatAdapter drives the embedded model without a schema.

    A small model does not keep the ``[[ ## field ## ]]`` format (SmolLM2-135M: 20 of 20 replies
    failed to parse): it writes until max_tokens, then DSPy retries with its JSONAdapter. The
    TemplateAdapter sends the output schema, which the engine enforces with a grammar.
    """
    if "grammar" in options or _warned_unconstrained.is_set():
        return
    if any(_CHAT_ADAPTER_MARKER in message["content"] for message in messages):
        _warned_unconstrained.set()
        logger.warning(
            "promptkit: DSPy's ChatAdapter sends the embedded model no output schema, and a small model "
            "does not keep its text format; use promptkit.configure(lm=...) or "
            "dspy.configure(adapter=promptkit.TemplateAdapter()) so the output is grammar-constrained"
        )


def __getattr__(name: str) -> Any:
    # Programs saved before the async engine moved to local_async name it here.
    if name == "AsyncLlamaCppEngine":
        from promptkit.lm.local_async import AsyncLlamaCppEngine

        return AsyncLlamaCppEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
