"""The ``Passage`` type shared by loaders, stores, the retriever and the RAG programs.

A passage's id is a content hash (uuid5 of its normalized text and its source id), so indexing
the same passage twice writes the same point and adds nothing.
"""

from __future__ import annotations

import re
import string
import unicodedata
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from promptkit.errors import InputError

# A fixed namespace: ids must be stable across processes, machines and promptkit versions.
PASSAGE_NAMESPACE = uuid.UUID("6f1c2a4e-8b0d-5c3e-9a71-2d4b6e8f0a13")

_WHITESPACE = re.compile(r"\s+")

# What is embedded (and BM25-indexed) for a passage: its title, then its text, as BEIR and MTEB do.
DEFAULT_EMBED_TEMPLATE = "{title} {text}"
# Collections built before titles were embedded recorded no template: their passages were text alone.
LEGACY_EMBED_TEMPLATE = "{text}"
EMBED_FIELDS = ("title", "text", "source_id")


def normalize_text(text: str) -> str:
    """NFKC + collapsed whitespace: the form ids are computed on (case is kept: it can carry meaning)."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def passage_id(text: str, source_id: str = "") -> str:
    """Content-hash id of a passage: the same text from the same source always gets the same id."""
    # The unit separator keeps ("ab", "c") and ("a", "bc") apart.
    return str(uuid.uuid5(PASSAGE_NAMESPACE, normalize_text(text) + "\x1f" + source_id))


def check_embed_template(template: str) -> str:
    """``template`` if it is a format string over the passage fields (``{title}``, ``{text}``, ``{source_id}``)."""
    hint = f"e.g. {DEFAULT_EMBED_TEMPLATE!r} or 'Title: {{title}}\\n{{text}}'; fields: {', '.join(EMBED_FIELDS)}"
    try:
        # Plain names only: no attribute or index access, no conversions, so a template only places fields.
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise InputError(f"embed template {template!r} is not a format string: {exc}", hint=hint) from None
    bad = [name for name, spec, conv in fields if name not in EMBED_FIELDS or spec or conv]
    if bad or "text" not in {name for name, _, _ in fields}:
        problem = f"unknown or decorated field {bad[0]!r}" if bad else "no {text} field"
        raise InputError(f"embed template {template!r}: {problem}", hint=hint)
    return template


@dataclass(frozen=True)
class Passage:
    """One retrievable piece of text.

    ``score`` is the similarity to the query (None for passages that were loaded, not retrieved).
    ``source_id`` names the document the passage came from (a row id, a file name, a BEIR ``_id``).
    """

    text: str
    id: str = ""
    score: float | None = None
    title: str = ""
    source_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", passage_id(self.text, self.source_id))

    @property
    def long_text(self) -> str:
        """What ``dspy.Retrieve`` reads from each hit of an ``rm``."""
        return self.text

    def embedding_text(self, template: str = DEFAULT_EMBED_TEMPLATE) -> str:
        """What is embedded and BM25-indexed for this passage (an empty title leaves the text alone)."""
        return template.format(title=self.title, text=self.text, source_id=self.source_id).strip()

    def with_score(self, score: float) -> Passage:
        return replace(self, score=score)

    def with_text(self, text: str, *, source_id: str | None = None) -> Passage:
        """A new passage (new content id) with other text, e.g. a chunk of this one."""
        return Passage(
            text=text,
            title=self.title,
            source_id=self.source_id if source_id is None else source_id,
            metadata=dict(self.metadata),
        )

    def to_payload(self) -> dict[str, Any]:
        """The payload stored with the vector (everything a hit needs to be rebuilt).

        Empty fields are left out: the Qdrant edge engine converts payloads key by key (~8 us each),
        a large share of its write cost.
        """
        payload: dict[str, Any] = {"text": self.text, "source_id": self.source_id}
        if self.title:
            payload["title"] = self.title
        if self.metadata:
            payload["metadata"] = dict(self.metadata)
        return payload

    @classmethod
    def from_payload(cls, point_id: str, payload: dict[str, Any], score: float | None = None) -> Passage:
        return cls(
            text=str(payload.get("text", "")),
            id=str(point_id),
            score=score,
            title=str(payload.get("title", "") or ""),
            source_id=str(payload.get("source_id", "") or ""),
            metadata=dict(payload.get("metadata") or {}),
        )

    def __str__(self) -> str:
        return self.text
