"""Chain-of-Symbol (Hu et al., 2023, arXiv 2305.10276): few-shot CoT whose reasoning is written in symbols.

Mechanism: one call. The predictor gets worked examples as FEW_SHOT_EXAMPLES turns whose ``reasoning``
is a compact symbolic trace — stacks ``C/A/B`` (top first), moves ``->``, coordinates ``(x,y)``,
orders ``a < b``, sets ``{a, b}`` — instead of prose, and the template asks the model to reason the
same way in its ``reasoning`` output (placed before the user's outputs) before answering. The paper
finds symbols help spatial planning (Brick World, NLVR-based navigation) and cut reasoning tokens.

Options:
    demos: dicts (or ``dspy.Example``) with every input field, ``reasoning`` (the symbolic trace) and
        every output field. Without it, ``question -> answer`` gets the three small spatial demos below
        (stacking, grid navigation, ordering); any other signature must give its own.

Prediction: the signature's outputs plus ``reasoning`` (the symbolic trace).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dspy

from promptkit.errors import InputError
from promptkit.techniques.base import SignatureLike, Step, as_signature
from promptkit.techniques.demos import as_examples, check_demos, default_demos
from promptkit.techniques.prompted import SingleStep

SYMBOLIC_REASONING = (
    "reasoning",
    "your reasoning written as compact symbols (X/Y stacks top first, ->, (x,y), <, {sets}), before the answer",
    str,
)

# Written for promptkit in the spirit of the paper's Brick World / NLVR navigation demos (not copied):
# each trace names the state once in symbols, then applies one rule per line.
SYMBOL_DEMOS: tuple[dict[str, str], ...] = (
    {
        "question": "Brick A is on top of brick B. Brick C is on top of brick A. Brick D is alone on the table. "
        "Bricks are taken from the top of a stack; to take a brick, first remove every brick above it. "
        "In what order do you take bricks to get brick B?",
        "reasoning": "C/A/B, D\nB: above = {C, A}\nC -> off; A/B\nA -> off; B\nB -> take",
        "answer": "C, A, B",
    },
    {
        "question": "A robot starts at (0, 0) facing north. It moves 2 steps forward, turns right, moves 3 steps "
        "forward, turns right again and moves 1 step forward. Where does it end?",
        "reasoning": "(0,0) N\n+2 N -> (0,2)\nR: E; +3 E -> (3,2)\nR: S; +1 S -> (3,1)",
        "answer": "(3, 1)",
    },
    {
        "question": "On a shelf, the apple is left of the pear, the banana is right of the pear, "
        "and the cherry is left of the apple. Which fruit is furthest right?",
        "reasoning": "apple < pear\npear < banana\ncherry < apple\n"
        "=> cherry < apple < pear < banana\nrightmost = banana",
        "answer": "banana",
    },
)


class ChainOfSymbol(SingleStep):
    """Few-shot CoT with symbolic demos (FEW_SHOT_EXAMPLES turns) and a symbolic ``reasoning`` field first."""

    technique_id = "chain_of_symbol"
    step = Step("chain_of_symbol.j2", before=(SYMBOLIC_REASONING,))

    def __init__(
        self,
        signature: SignatureLike = "question -> answer",
        *,
        demos: Sequence[Mapping[str, Any] | dspy.Example] | None = None,
    ) -> None:
        sig = as_signature(signature, self.technique_id)
        try:
            given = default_demos(sig, SYMBOL_DEMOS, self.technique_id) if demos is None else demos
            if isinstance(given, str | bytes | Mapping | dspy.Example):
                # A lone demo (or a string) would be iterated key by key / char by char: say so instead.
                raise InputError(
                    f"technique {self.technique_id!r}: got a {type(given).__name__}, not a list of demos",
                    hint="pass demos=[{...}, ...]",
                )
            checked = check_demos(given, sig, self.technique_id, ("reasoning",))
        except InputError as exc:
            # The shared checks speak of "demo #n"; name the option so CLI users know which flag to fix.
            raise InputError(f"{exc.message} (option demos)", hint=exc.hint) from None
        super().__init__(sig, n_demos=len(checked))
        self.predict.demos = as_examples(checked, self.signature)
