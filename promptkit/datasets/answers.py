"""Final-answer extraction for the official GSM8K and MATH formats.

Dependency-free on purpose: the dataset readers use it to build gold answers and the metrics use it
to read a model's answer out of a worked solution, so both sides agree on what "the answer" is.
"""

from __future__ import annotations

import re
from fractions import Fraction

GSM8K_MARKER = "####"
_BOX_COMMANDS = ("\\boxed", "\\fbox")


def extract_gsm8k_answer(solution: str) -> str | None:
    """The final answer after the last ``####`` with thousands commas removed (``"#### 1,234"`` -> ``"1234"``)."""
    _, marker, answer = solution.rpartition(GSM8K_MARKER)
    if not marker:
        return None
    answer = answer.strip().replace(",", "")
    return answer or None


def gsm8k_rationale(solution: str) -> str:
    """The worked solution before the ``####`` line."""
    before, marker, _ = solution.rpartition(GSM8K_MARKER)
    return (before if marker else solution).strip()


def extract_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (or ``\\fbox{...}``) in ``text``; braces may nest.

    Also accepts the brace-less form ``\\boxed 5`` seen in some MATH solutions. Returns ``None``
    when there is no box or its braces never close.
    """
    start = max(text.rfind(command) for command in _BOX_COMMANDS)
    if start < 0:
        return None
    command = next(c for c in _BOX_COMMANDS if text.startswith(c, start))
    position = start + len(command)
    after_spaces = position
    while after_spaces < len(text) and text[after_spaces] == " ":
        after_spaces += 1
    if after_spaces < len(text) and text[after_spaces] == "{":
        position = after_spaces
    elif after_spaces > position:
        # "\boxed 5$": the argument is one token, ended by whitespace or the closing '$'.
        rest = text[after_spaces:].split()
        return (rest[0].split("$")[0] if rest else "") or None
    else:
        return None
    depth = 0
    for index in range(position, len(text)):
        char = text[index]
        escaped = text[index - 1] == "\\"  # \{ and \} are literal braces (a set), not a group
        if char == "{" and not escaped:
            depth += 1
        elif char == "}" and not escaped:
            depth -= 1
            if depth == 0:
                return text[position + 1 : index]
    return None


# A minus sign counts only when it is not a hyphen or a subtraction ("3-5" is 3 and 5, not 3 and -5).
_NUMBER = re.compile(
    r"(?P<sign>(?<![\w)\]}])[-−])?"
    r"(?P<number>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)"
    r"(?:/(?P<den>\d+)(?![\d.]))?"
)


def _value(match: re.Match[str]) -> Fraction:
    number, denominator = match.group("number"), match.group("den")
    value = Fraction(number.replace(",", ""))
    if denominator is not None and "." not in number and int(denominator) != 0:
        value /= int(denominator)
    return -value if match.group("sign") else value


def extract_number(text: str) -> Fraction | None:
    """The final numeric answer in ``text``, exactly, or None: the content of a ``\\boxed{}`` if there is
    one, else the number after the last ``####`` (GSM8K's marker), else the last number in the text.
    Thousands commas, currency symbols, units, ``%`` and a trailing ``.0`` do not matter:
    ``"$1,234.00 dollars."`` reads as 1234."""
    boxed = extract_boxed(text)
    if boxed is not None:
        in_box = list(_NUMBER.finditer(boxed))
        if in_box:
            return _value(in_box[-1])
    _, marker, after = text.rpartition(GSM8K_MARKER)
    if marker:
        first = _NUMBER.search(after)
        if first:
            return _value(first)
    matches = list(_NUMBER.finditer(text))
    return _value(matches[-1]) if matches else None
