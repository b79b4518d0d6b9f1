"""The technique registry: what each technique is (paper, family, cost, needs) and how to build it.

The metadata lives in one place, ``techniques.yaml`` next to this module; this module derives the
lookups from it. Importing it imports neither DSPy nor a technique: each entry names its builder as
``"module:Class"``, loaded on :meth:`TechniqueInfo.load`, so ``promptkit techniques list`` is fast.
"""

from __future__ import annotations

import builtins
import difflib
import importlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from promptkit.errors import DataError, InputError
from promptkit.yaml_files import load_yaml_file

FAMILIES = (
    "zero-shot",
    "few-shot",
    "thought generation",
    "decomposition",
    "ensembling",
    "self-criticism",
    "tool use",
)
DEFAULT_SIGNATURE = "question -> answer"


@dataclass(frozen=True)
class TechniqueInfo:
    """One registered technique.

    ``calls`` is the number of LM calls per input as a formula of the options; ``requires`` lists the
    options ``build`` cannot do without (so the technique does not fit a bare ``question -> answer``);
    ``templates`` are names under the template roots.
    """

    id: str
    name: str
    family: str
    paper: str
    authors: str
    year: int
    arxiv: str
    calls: str
    needs: tuple[str, ...]
    description: str
    templates: tuple[str, ...]
    builder: str
    requires: tuple[str, ...] = ()
    example_signature: str = DEFAULT_SIGNATURE
    aliases: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv}"

    @property
    def fits_question_answer(self) -> bool:
        """True when ``build(id)`` works with ``question -> answer`` and no options."""
        return not self.requires

    def load(self) -> type[Any]:
        """The technique's ``dspy.Module`` class (imports DSPy)."""
        module_name, _, attr = self.builder.partition(":")
        cls: type[Any] = getattr(importlib.import_module(module_name), attr)
        return cls

    def option_names(self) -> builtins.list[str]:
        """The keyword options the builder accepts (its own, then its family's)."""
        from promptkit.techniques.options import option_names

        return option_names(self.load())

    def build(self, signature: Any = DEFAULT_SIGNATURE, **options: Any) -> Any:
        """The technique as a ``dspy.Module`` over ``signature``; unknown or missing options are InputErrors."""
        accepted = self.option_names()
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise InputError(
                f"technique {self.id!r} has no option {unknown[0]!r}",
                hint=f"its options are: {', '.join(accepted) or 'none'}",
            )
        missing = [name for name in self.requires if options.get(name) is None]
        if missing:
            raise InputError(
                f"technique {self.id!r} needs option {missing[0]}=... ({', '.join(self.needs)})",
                hint=f"see `promptkit techniques show {self.id}`",
            )
        return self.load()(signature, **options)


DATA_FILE = Path(__file__).with_name("techniques.yaml")
_PACKAGE = "promptkit.techniques."


def _info(entry: Any, index: int) -> TechniqueInfo:
    """One entry of ``techniques.yaml`` as a TechniqueInfo; a malformed entry is a DataError naming it."""
    names = {f.name for f in fields(TechniqueInfo)}
    if not isinstance(entry, dict) or not names >= set(entry) or entry.get("family") not in FAMILIES:
        raise DataError(
            f"technique entry {index + 1} ({entry.get('id') if isinstance(entry, dict) else entry!r}) is malformed",
            path=str(DATA_FILE),
            hint=f"each entry is a mapping of {', '.join(sorted(names))}, family in FAMILIES",
        )
    lists = {key: tuple(entry.get(key) or ()) for key in ("needs", "templates", "requires", "aliases")}
    lists["templates"] = tuple(f"techniques/{name}" for name in lists["templates"])
    try:
        return TechniqueInfo(**{**entry, **lists, "builder": _PACKAGE + entry["builder"]})
    except TypeError as exc:  # a required field is missing
        raise DataError(f"technique entry {index + 1} ({entry.get('id')}): {exc}", path=str(DATA_FILE)) from None


TECHNIQUES: tuple[TechniqueInfo, ...] = tuple(
    _info(entry, index) for index, entry in enumerate(load_yaml_file(DATA_FILE, what="technique registry") or [])
)
_BY_ID = {t.id: t for t in TECHNIQUES}
_ALIASES = {alias: t.id for t in TECHNIQUES for alias in t.aliases}


def get(technique_id: str) -> TechniqueInfo:
    """The technique with this id (or alias); an unknown id is an InputError listing close matches."""
    key = str(technique_id).strip().lower().replace("-", "_")
    found = _BY_ID.get(key) or _BY_ID.get(_ALIASES.get(key, ""))
    if found is not None:
        return found
    close = difflib.get_close_matches(key, [*_BY_ID, *_ALIASES], n=3, cutoff=0.5)
    suggestion = ", ".join(dict.fromkeys(_ALIASES.get(c, c) for c in close))
    raise InputError(
        f"unknown technique {technique_id!r}" + (f"; did you mean {suggestion}?" if suggestion else ""),
        hint="run `promptkit techniques list` to see every technique",
    )


def list_techniques(family: str | None = None) -> builtins.list[TechniqueInfo]:
    """Every registered technique (of ``family`` when given), in registry order."""
    if family is not None and family not in FAMILIES:
        raise InputError(f"unknown technique family {family!r}", hint=f"use one of: {', '.join(FAMILIES)}")
    return [t for t in TECHNIQUES if family is None or t.family == family]


def build(technique_id: str, signature: Any = DEFAULT_SIGNATURE, **options: Any) -> Any:
    """``get(technique_id).build(signature, **options)``: the technique as a ``dspy.Module``."""
    return get(technique_id).build(signature, **options)


def example_options(info: TechniqueInfo) -> dict[str, Any]:
    """Options that let ``info`` be built for a demonstration (``techniques show``, the examples):
    a two-page docstore for the ReAct tools, the bundled telecom chain for ``chained_tasks``, a medal table
    for the table techniques."""
    options: dict[str, Any] = {}
    if "tools" in info.requires:
        from promptkit.techniques.react import DocstoreTools

        docs = {
            "Colorado orogeny": "The Colorado orogeny was an episode of mountain building (an orogeny) in Colorado "
            "and surrounding areas. The eastern sector extends into the High Plains and is called the Central "
            "Plains orogeny.",
            "High Plains": "The High Plains are a subregion of the Great Plains. They rise in elevation from around "
            "1,800 to 7,000 ft (550 to 2,130 m).",
        }
        tools = DocstoreTools(docs).tools()
        options["tools"] = tools if info.id == "react" else [_named(name, fn) for name, fn in tools.items()]
    if "chain" in info.requires:
        options["chain"] = "telecom_feedback"
    if "table" in info.requires:
        options["table"] = "Nation,Gold,Silver\nNorway,16,8\nGermany,12,10\nChina,9,4\n"
    return options


def _named(name: str, fn: Any) -> Any:
    def tool(query: str) -> str:
        return str(fn(query))

    tool.__name__ = name.lower()
    tool.__doc__ = fn.__doc__
    return tool
