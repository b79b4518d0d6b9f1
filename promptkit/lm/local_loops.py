"""Repetition control for the embedded model: notice a loop while it is generated, and end it.

Under greedy decoding a small model often falls into repeating one clause ("The answer is $16. The
answer is $16. ...") until ``max_tokens``; a grammar-constrained JSON object is then cut off and the
call fails. llama.cpp's ``repeat_penalty`` only makes the loop drift, and llama-cpp-python offers no
DRY sampler through its chat API. So :class:`LoopGuard`, a logits processor, watches the generated
tokens and, once the last tokens are the same span repeated (three copies and at least 24 tokens),
ends what is being written: with a grammar it pushes the tokens that close a JSON string (the
grammar, applied after the processor, keeps only legal ones, so the object stays valid and the next
field starts); without one it pushes the end-of-generation token. The copies after the first are
then cut from the text, so a query or an answer carries its clause once.

Field budgets (``maxLength``) are counted in characters, and a reply of digits and symbols runs
near one character per token; so, under a grammar, the guard also closes what is open once the
reply reaches its last ``CLOSING_RESERVE`` tokens before ``max_tokens``: a reply can be short, never
cut off.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

MAX_PERIOD = 48  # the longest repeated span (in tokens) looked for: a long sentence
MIN_LOOP_TOKENS = 24  # a repeat of a few short tokens ("1, 1, 1") is only a loop once it is this long
MIN_COPIES = 3
CLOSING_RESERVE = 32  # tokens: enough to close a string and write a few more short keys and values
_SENTENCE_ENDS = (".", "!", "?", ";", "\n")
_PUSH = 100.0  # added to the logits of the tokens that end the loop; the grammar still filters them

_closers_lock = threading.Lock()
_closers: dict[str, np.ndarray] = {}  # model path -> ids of tokens whose text starts with '"'


class LoopDetector:
    """Finds, token by token, a suffix that is one span repeated.

    ``run[p]`` counts the consecutive latest tokens equal to the token ``p`` places earlier; the last
    ``run[p] + p`` tokens are then periodic with period ``p``. Each step costs O(MAX_PERIOD).
    """

    def __init__(self, max_period: int = MAX_PERIOD) -> None:
        self.max_period = max_period
        self.tokens: list[int] = []
        self._run = [0] * (max_period + 1)

    def push(self, token: int) -> tuple[int, int] | None:
        """Add a token; return ``(period, repeated)`` when the tokens now end in a loop, else None.

        ``repeated`` is how many of the latest tokens repeat the span before them (all copies but the first).
        """
        tokens = self.tokens
        tokens.append(token)
        n = len(tokens)
        found: tuple[int, int] | None = None
        for period in range(1, min(self.max_period, n - 1) + 1):
            run = self._run[period] + 1 if tokens[n - 1 - period] == token else 0
            self._run[period] = run
            if found is None and run >= max((MIN_COPIES - 1) * period, MIN_LOOP_TOKENS - period):
                found = (period, run)
        return found

    def reset(self) -> None:
        """Forget the runs (not the tokens): after a loop is ended, a new one must build up from scratch."""
        self._run = [0] * (self.max_period + 1)


class LoopGuard:
    """A llama-cpp-python logits processor that ends a repetition loop (see the module docstring).

    One guard serves one generation. It learns the prompt length from its first call (llama-cpp-python
    passes the prompt plus the tokens generated so far).
    """

    def __init__(self, llama: Any, *, grammar: bool, max_tokens: int | None = None) -> None:
        self._llama = llama
        self._grammar = grammar
        # Under a grammar, the last tokens before max_tokens close the object instead of being cut off.
        self._close_from = max_tokens - min(CLOSING_RESERVE, max_tokens // 4) if grammar and max_tokens else None
        self._prompt_tokens: int | None = None
        self.detector = LoopDetector()
        self.loops_found: list[tuple[int, int, int]] = []  # (start, period, end) of each loop, in generated tokens
        self._pending = False  # a loop was found and is being ended
        self.closed_early = False  # the reserve before max_tokens was reached and the object closed

    @property
    def loops(self) -> int:
        return len(self.loops_found)

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if self._prompt_tokens is None:
            self._prompt_tokens = len(input_ids)
        generated = len(input_ids) - self._prompt_tokens
        detector = self.detector
        while len(detector.tokens) < generated:  # the token sampled last step
            if self._pending:
                # The step that ended the loop: a closing quote, or nothing closable yet.
                self._pending = False
                detector.tokens.append(int(input_ids[self._prompt_tokens + len(detector.tokens)]))
                detector.reset()
                continue
            found = detector.push(int(input_ids[self._prompt_tokens + len(detector.tokens)]))
            if found is not None:
                period, repeated = found
                end = len(detector.tokens)
                self.loops_found.append((end - repeated - period, period, end))
                self._pending = True
        if self._pending:
            scores = scores.copy()
            ends = closing_tokens(self._llama) if self._grammar else np.array([self._llama.token_eos()])
            scores[ends] += _PUSH
        elif self._close_from is not None and generated >= self._close_from:
            # Close every open string (as early as its minLength allows), then the object: the grammar
            # keeps only what is legal, so the keys still due are written with the shortest values.
            scores = scores.copy()
            scores[closing_tokens(self._llama)] += _PUSH
            scores[self._llama.token_eos()] += _PUSH
            self.closed_early = True
        return scores

    def trim(self, text: str, detokenize: Callable[[Sequence[int]], str]) -> str:
        """``text`` with each loop written once, when ``text`` is exactly the tokens this guard saw.

        A loop's span is kept once, cut after its last sentence end ("The answer is $16. The answer
        is $16. The" keeps "The answer is $16."): what follows that is the next copy starting.
        """
        if not self.loops_found:
            return text
        tokens = self.detector.tokens
        seen = detokenize(tokens)
        if not text.startswith(seen):
            return text  # the text was post-processed (stripped, a stop word cut): leave it as it is
        tail = text[len(seen) :]  # what the last sampled token added (it never reaches the processor)
        kept: list[int] = []
        position = 0
        for start, period, end in self.loops_found:
            span = tokens[start : start + period]
            ends = [i + 1 for i, token in enumerate(span) if detokenize([token]).rstrip(" ").endswith(_SENTENCE_ENDS)]
            kept.extend(tokens[position : start + (ends[-1] if ends else period)])
            position = end
        kept.extend(tokens[position:])
        return detokenize(kept) + tail


def closing_tokens(llama: Any) -> np.ndarray:
    """Ids of the vocabulary's tokens whose text starts with a double quote (cached per model)."""
    key = str(llama.model_path)
    with _closers_lock:
        cached = _closers.get(key)
        if cached is None:
            ids = [i for i in range(llama.n_vocab()) if _piece(llama, i).startswith('"')]
            cached = _closers[key] = np.array(ids, dtype=np.intc)
        return cached


def _piece(llama: Any, token: int) -> str:
    try:
        return llama.detokenize([token]).decode("utf-8", errors="ignore")
    except Exception:  # control tokens some vocabularies cannot render
        return ""
