"""The seed's passage filter (keep passages with more than N words) and a chunker for long documents.

Chunks are cut by words or by tokens of the embedder's tokenizer, with an overlap. They always keep
the original characters of the text (token chunks are sliced by character offsets, not decoded) and
never end inside a word.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

from promptkit.errors import InputError
from promptkit.retrieval.passages import Passage

ChunkUnit = Literal["words", "tokens"]
# A tokenizer for token chunks: text -> the (start, end) character span of each token.
TokenSpans = Callable[[str], Sequence[tuple[int, int]]]

_WORD = re.compile(r"\S+")


def word_count(text: str) -> int:
    return len(text.split())


def filter_min_words(passages: Iterable[Passage], min_words: int) -> list[Passage]:
    """Keep passages with *more than* ``min_words`` words (the seed's ``len(x.split(' ')) > 20``)."""
    if min_words < 0:
        raise InputError(f"min_words must be >= 0, got {min_words}", hint="pass 0 to keep every passage")
    return [p for p in passages if word_count(p.text) > min_words]


def _check_window(size: int, overlap: int) -> None:
    if size <= 0:
        raise InputError(f"chunk size must be > 0, got {size}", hint="pass a positive chunk size (e.g. 200)")
    if not 0 <= overlap < size:
        raise InputError(
            f"chunk overlap must be >= 0 and smaller than the chunk size ({size}), got {overlap}",
            hint="use an overlap of about 10-20% of the chunk size",
        )


def _words_of_tokens(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """Group adjacent token spans (no whitespace between) into words: (start, end, token count)."""
    words: list[tuple[int, int, int]] = []
    for start, end in spans:
        if words and start == words[-1][1]:
            first, _, count = words[-1]
            words[-1] = (first, end, count + 1)
        else:
            words.append((start, end, 1))
    return words


def _windows(units: Sequence[tuple[int, int, int]], size: int, overlap: int) -> list[tuple[int, int]]:
    """Character ranges of windows of whole units (start, end, weight) weighing at most ``size``,
    consecutive windows sharing trailing units that weigh at most ``overlap``.

    Windows never cut a unit, so a token chunk never ends inside a word; a single unit heavier than
    ``size`` (a very long word) gets a window of its own.
    """
    ranges: list[tuple[int, int]] = []
    first = 0
    while first < len(units):
        last, weight = first, 0
        while last < len(units) and (weight + units[last][2] <= size or last == first):
            weight += units[last][2]
            last += 1
        ranges.append((units[first][0], units[last - 1][1]))
        if last >= len(units):
            break
        shared, back = 0, last
        while back - 1 > first and shared + units[back - 1][2] <= overlap:
            back -= 1
            shared += units[back][2]
        first = back
    return ranges


def word_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _WORD.finditer(text)]


def chunk_text(
    text: str,
    size: int,
    overlap: int = 0,
    *,
    unit: ChunkUnit = "words",
    token_spans: TokenSpans | None = None,
) -> list[str]:
    """Split ``text`` into chunks of at most ``size`` words (or tokens) sharing ``overlap`` of them."""
    _check_window(size, overlap)
    if unit == "words":
        units = [(a, b, 1) for a, b in word_spans(text)]
    elif unit == "tokens":
        units = _words_of_tokens((token_spans or default_token_spans())(text))
    else:
        raise InputError(f"unknown chunk unit {unit!r}", hint="use 'words' or 'tokens'")
    return [text[a:b] for a, b in _windows(units, size, overlap)]


def chunk_passages(
    passages: Iterable[Passage],
    size: int,
    overlap: int = 0,
    *,
    unit: ChunkUnit = "words",
    token_spans: TokenSpans | None = None,
) -> list[Passage]:
    """Chunk every passage; a chunk keeps its document's title, source id and metadata, plus ``chunk``."""
    if unit == "tokens" and token_spans is None:
        token_spans = default_token_spans()
    out: list[Passage] = []
    for passage in passages:
        pieces = chunk_text(passage.text, size, overlap, unit=unit, token_spans=token_spans)
        if len(pieces) == 1 and pieces[0] == passage.text:
            out.append(passage)
            continue
        for number, piece in enumerate(pieces):
            chunk = passage.with_text(piece)
            chunk.metadata["chunk"] = number
            out.append(chunk)
    return out


def default_token_spans() -> TokenSpans:
    """Token spans from the default embedder's tokenizer (all-MiniLM-L6-v2's WordPiece), loaded offline."""
    from tokenizers import Tokenizer  # lazy: a Rust extension, not needed unless chunking by tokens

    from promptkit.retrieval.model_files import bundled_model_path

    tokenizer = Tokenizer.from_file(str(bundled_model_path() / "tokenizer.json"))
    # The model's tokenizer.json pads and truncates to 128 tokens; chunking needs every real token.
    tokenizer.no_truncation()
    tokenizer.no_padding()

    def spans(text: str) -> list[tuple[int, int]]:
        encoding = tokenizer.encode(text, add_special_tokens=False)
        return [(int(a), int(b)) for a, b in encoding.offsets]

    return spans
