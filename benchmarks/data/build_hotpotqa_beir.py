"""Build a small BEIR-format retrieval set from HotPotQA dev (distractor) questions.

    python benchmarks/data/build_hotpotqa_beir.py --out /tmp/hotpotqa_beir --questions 150

Input: the HotPotQA JSONL sample (``/work/shared/data/hotpotqa/hotpotqa_dev_500.jsonl``: ``id``,
``question``, ``supporting_facts`` {title, sent_id}, ``context`` {title, sentences}). Output::

    OUT/corpus.jsonl     one passage per (title, paragraph) of the questions' contexts, de-duplicated
    OUT/queries.jsonl    the questions ({"_id", "text"})
    OUT/qrels/test.tsv   query-id, corpus-id, score: 1 for the paragraphs of the supporting-fact titles

Each question's context holds its two gold paragraphs and eight distractors, so the corpus is
the union of every question's candidates: retrieval must find the gold pair among all of them.
Corpus ids are content hashes of (title, text), so the same paragraph keeps its id whatever the
subset. HotPotQA is CC BY-SA 4.0 (Yang et al., 2018): the built set is for local evaluation and is
not shipped with promptkit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

DEFAULT_SOURCE = Path("/work/shared/data/hotpotqa/hotpotqa_dev_500.jsonl")


def corpus_id(title: str, text: str) -> str:
    return "hp-" + hashlib.sha1(f"{title}\x1f{text}".encode()).hexdigest()[:16]


def read_questions(source: Path, limit: int | None) -> list[dict[str, Any]]:
    questions = []
    with source.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                context, facts = record["context"], record["supporting_facts"]
                if not isinstance(context["title"], list) or not isinstance(facts["title"], list):
                    raise TypeError("context.title and supporting_facts.title must be lists")
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise SystemExit(f"{source}:{number}: not a HotPotQA record ({exc})") from None
            questions.append(record)
            if limit is not None and len(questions) >= limit:
                break
    return questions


def build(source: Path, out: Path, limit: int | None = None) -> dict[str, int]:
    """Write the BEIR folder ``out`` from the first ``limit`` questions of ``source``; return the counts."""
    corpus: dict[str, dict[str, str]] = {}
    queries: list[dict[str, str]] = []
    qrels: list[tuple[str, str]] = []
    for record in read_questions(source, limit):
        ids_by_title: dict[str, str] = {}
        for title, sentences in zip(record["context"]["title"], record["context"]["sentences"], strict=True):
            # HotPotQA sentences keep their leading space, so joining them restores the paragraph.
            text = "".join(sentences).strip()
            doc_id = corpus_id(title, text)
            corpus.setdefault(doc_id, {"_id": doc_id, "title": title, "text": text})
            ids_by_title[title] = doc_id
        gold_titles = dict.fromkeys(record["supporting_facts"]["title"])  # ordered, de-duplicated
        judged = [ids_by_title[title] for title in gold_titles if title in ids_by_title]
        if not judged:
            continue  # a question whose gold paragraphs are not in its context cannot be judged
        queries.append({"_id": str(record["id"]), "text": record["question"]})
        qrels += [(str(record["id"]), doc_id) for doc_id in judged]
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    _write_lines(out / "corpus.jsonl", [json.dumps(doc, ensure_ascii=False) for doc in corpus.values()])
    _write_lines(out / "queries.jsonl", [json.dumps(query, ensure_ascii=False) for query in queries])
    _write_lines(out / "qrels" / "test.tsv", ["query-id\tcorpus-id\tscore", *(f"{q}\t{d}\t1" for q, d in qrels)])
    return {"passages": len(corpus), "queries": len(queries), "judgements": len(qrels)}


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="HotPotQA JSONL file")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the BEIR set into")
    parser.add_argument("--questions", type=int, default=None, help="use the first N questions (default: all)")
    args = parser.parse_args()
    counts = build(args.source, args.out, args.questions)
    print(f"{args.out}: {counts['queries']} queries, {counts['passages']} passages, {counts['judgements']} judgements")


if __name__ == "__main__":
    main()
