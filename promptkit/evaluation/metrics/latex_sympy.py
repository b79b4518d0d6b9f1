"""A small LaTeX -> sympy converter for final answers, and a time-boxed equivalence check.

Why not ``sympy.parsing.latex``: its default backend needs an exact antlr4 runtime version (4.11)
and the other needs ``lark``; neither is a promptkit dependency. Why not ``parse_expr``: it
``eval``s its input, and the input here is model output. This recursive-descent parser builds
sympy objects directly and understands the subset final answers use: numbers, single-letter
variables, ``+ - * / ^``, implicit products, ``\\frac``, ``\\sqrt[n]{}``, ``\\pi``, ``\\infty``,
``i`` (the imaginary unit) and common functions. Anything else raises ``LatexParseError`` and the
caller falls back to string comparison.
"""

from __future__ import annotations

import re
import threading
from typing import Any

MAX_EXPONENT = 1000  # refuse 2^(10^9)-style answers that would make evaluation hang
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?|\.\d+)|(\\[a-zA-Z]+)|([a-zA-Z])|(\S))")
_FUNCTIONS = {
    "\\sin": "sin", "\\cos": "cos", "\\tan": "tan", "\\cot": "cot", "\\sec": "sec", "\\csc": "csc",
    "\\arcsin": "asin", "\\arccos": "acos", "\\arctan": "atan", "\\ln": "log", "\\log": "log", "\\exp": "exp",
}  # fmt: skip
_PRODUCT = {"*", "\\cdot", "\\times"}
_DIVISION = {"/", "\\div"}


class LatexParseError(ValueError):
    pass


def _tokenize(text: str) -> list[str]:
    tokens = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:  # only trailing whitespace is left
            break
        tokens.append(next(group for group in match.groups() if group is not None))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        import sympy

        self.sp = sympy
        self.tokens = _tokenize(text)
        self.index = 0

    def peek(self) -> str | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise LatexParseError(f"expected {expected or 'more input'}, got {token!r}")
        self.index += 1
        return token

    def parse(self) -> Any:
        value = self.expression()
        if self.peek() is not None:
            raise LatexParseError(f"unexpected {self.peek()!r}")
        return value

    def expression(self) -> Any:
        sign = 1
        if self.peek() in ("+", "-"):
            sign = -1 if self.take() == "-" else 1
        value = sign * self.term()
        while self.peek() in ("+", "-"):
            value = value + self.term() if self.take() == "+" else value - self.term()
        return value

    def term(self) -> Any:
        value = self.factor()
        while True:
            token = self.peek()
            if token in _PRODUCT:
                self.take()
                value = value * self.factor()
            elif token in _DIVISION:
                self.take()
                value = value / self.factor()
            elif token is not None and self._starts_atom(token):
                value = value * self.factor()  # implicit product: 2\sqrt{3}, 3x, x(y+1)
            else:
                return value

    def factor(self) -> Any:
        if self.peek() == "-":
            self.take()
            return -self.factor()
        base = self.atom()
        if self.peek() == "^":
            self.take()
            exponent = self.exponent()
            if exponent.is_Number and abs(exponent) > MAX_EXPONENT:
                raise LatexParseError("exponent too large to evaluate")
            return base**exponent
        return base

    def exponent(self) -> Any:
        if self.peek() == "{":
            return self.group()
        if self.peek() == "-":
            self.take()
            return -self.atom()
        return self.atom()

    def group(self, opening: str = "{", closing: str = "}") -> Any:
        self.take(opening)
        value = self.expression()
        self.take(closing)
        return value

    @staticmethod
    def _starts_atom(token: str) -> bool:
        return token in ("(", "{", "\\frac", "\\sqrt", "\\pi", "\\infty") or token in _FUNCTIONS or token[0].isalnum()

    def atom(self) -> Any:
        token = self.peek()
        if token is None:
            raise LatexParseError("unexpected end of answer")
        if token[0].isdigit() or token[0] == ".":
            self.take()
            return self.sp.Rational(token)  # exact, so 0.5 == 1/2
        if len(token) == 1 and token.isalpha():
            self.take()
            return self.sp.I if token == "i" else self.sp.Symbol(token)
        if token == "(":
            return self.group("(", ")")
        if token == "{":
            return self.group()
        if token == "\\frac":
            self.take()
            numerator = self.group()
            return numerator / self.group()
        if token == "\\sqrt":
            self.take()
            root = self.group("[", "]") if self.peek() == "[" else self.sp.Integer(2)
            return self.sp.root(self.group() if self.peek() == "{" else self.atom(), root)
        if token == "\\pi":
            self.take()
            return self.sp.pi
        if token == "\\infty":
            self.take()
            return self.sp.oo
        if token in _FUNCTIONS:
            return self.function()
        raise LatexParseError(f"unsupported {token!r}")

    def function(self) -> Any:
        function = getattr(self.sp, _FUNCTIONS[self.take()])
        power = None
        if self.peek() == "^":  # \sin^2 x
            self.take()
            power = self.exponent()
        argument = self.factor()
        value = function(argument)
        return value**power if power is not None else value


def parse_latex_answer(text: str) -> Any:
    """A sympy expression for ``text``, or ``LatexParseError``."""
    return _Parser(text).parse()


def _numerically_zero(difference: Any, sympy: Any) -> bool:
    """Is ``difference`` 0? Exact check first, then at fixed pseudo-random points for each free symbol."""
    if difference == 0:
        return True
    symbols = sorted(difference.free_symbols, key=str)
    points = [{s: sympy.Rational(7 + 3 * i + j, 5 + i) for j, s in enumerate(symbols)} for i in range(3)]
    for point in points if symbols else [{}]:
        value = complex(difference.subs(point).evalf(30))
        if abs(value) > 1e-9:
            return False
    return True


def _has_words(text: str) -> bool:
    """Three letters in a row outside a command: prose, not a product of variables."""
    return re.search(r"[a-zA-Z]{3,}", re.sub(r"\\[a-zA-Z]+", " ", text)) is not None


def sympy_equal(left: str, right: str, timeout_s: float = 2.0) -> bool | None:
    """True/False when both parse and compare in time; None when sympy cannot decide.

    The comparison runs in a daemon thread so a pathological expression cannot stall an evaluation
    for more than ``timeout_s`` (the thread may finish in the background; exponents are capped so it ends).
    """
    if _has_words(left) or _has_words(right):
        return None  # "Evelyn" would parse as the product E*v*e*l*y*n and equal any anagram
    try:
        import sympy
    except ImportError:
        return None
    outcome: list[bool | None] = []

    def compare() -> None:
        try:
            a, b = parse_latex_answer(left), parse_latex_answer(right)
            if a.has(sympy.oo, -sympy.oo, sympy.zoo) or b.has(sympy.oo, -sympy.oo, sympy.zoo):
                outcome.append(bool(a == b))
                return
            outcome.append(_numerically_zero(a - b, sympy))
        except Exception:  # parse failures, sympy errors, recursion: sympy cannot decide, strings will
            outcome.append(None)

    worker = threading.Thread(target=compare, daemon=True)
    worker.start()
    worker.join(timeout_s)
    return outcome[0] if outcome else None
