"""Tools for ``promptkit ask --tool tests.ask_tools:NAME`` in tests/test_cli_ask_needs.py."""

from __future__ import annotations


def calculator(expression: str) -> str:
    """evaluates an arithmetic expression of digits and + - * /."""
    allowed = set("0123456789+-*/(). ")
    if not set(expression) <= allowed:
        return f"cannot evaluate {expression!r}: only digits and + - * / ( ) are allowed"
    return str(eval(expression))


NOT_A_FUNCTION = 42
