"""Loaders, the min-words filter, the chunker and content-hash ids (no model, no store: fast)."""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import Any

import pytest

from promptkit.errors import DataError, InputError
from promptkit.retrieval import ColumnMap, Passage, chunk_passages, chunk_text, filter_min_words, load_passages
from promptkit.retrieval.chunking import word_spans
from promptkit.retrieval.passages import normalize_text, passage_id

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "data"


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_ids_are_content_hashes_of_normalized_text_and_source() -> None:
    a = Passage(text="Red  blood\ncells", source_id="doc1")
    b = Passage(text=" Red blood cells ", source_id="doc1")
    assert a.id == b.id == passage_id("Red blood cells", "doc1")
    assert Passage(text="Red blood cells", source_id="doc2").id != a.id
    assert Passage(text="red blood cells", source_id="doc1").id != a.id  # case is meaningful
    assert normalize_text("ﬁne\u00a0print") == "fine print"  # NFKC folds ligatures and odd spaces


def test_jsonl_maps_columns_and_keeps_other_fields_as_metadata(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "c.jsonl",
        [
            {"doc": "d1", "heading": "H1", "body": "first passage", "lang": "en"},
            {"doc": "d2", "heading": "H2", "body": "second passage", "lang": "fr"},
        ],
    )
    passages = load_passages(path, columns=ColumnMap(text="body", title="heading", id="doc"), metadata={"corpus": "t"})
    assert [(p.text, p.title, p.source_id) for p in passages] == [
        ("first passage", "H1", "d1"),
        ("second passage", "H2", "d2"),
    ]
    assert passages[1].metadata == {"lang": "fr", "corpus": "t"}
    assert passages[0].long_text == "first passage"


def test_jsonl_without_id_uses_the_file_as_source_so_reordering_keeps_ids(tmp_path: Path) -> None:
    first = load_passages(write_jsonl(tmp_path / "c.jsonl", [{"text": "alpha"}, {"text": "beta"}]))
    second = load_passages(write_jsonl(tmp_path / "c.jsonl", [{"text": "beta"}, {"text": "alpha"}]))
    assert {p.id for p in first} == {p.id for p in second}


def test_csv_loader_and_wrong_column_names_the_file_line_and_columns(tmp_path: Path) -> None:
    good = tmp_path / "c.csv"
    good.write_text('id,text,brand\n1,"A phone, with a comma",X\n2,Another phone,Y\n', encoding="utf-8")
    passages = load_passages(good)
    assert [p.text for p in passages] == ["A phone, with a comma", "Another phone"]
    assert passages[0].metadata == {"brand": "X"} and passages[1].source_id == "2"
    with pytest.raises(DataError) as err:
        load_passages(good, columns=ColumnMap(text="review"))
    message = str(err.value)
    assert "c.csv:2" in message and "'review'" in message and "brand" in message and "fix:" in message


def test_beir_corpus_folder_uses_underscore_id(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "corpus.jsonl", [{"_id": "4983", "title": "T", "text": "Microstructural development"}])
    (passage,) = load_passages(tmp_path)
    assert (passage.source_id, passage.title, passage.text) == ("4983", "T", "Microstructural development")


def test_text_lines_and_folder_of_files(tmp_path: Path) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text("first line\n\n  second line  \n", encoding="utf-8")
    assert [(p.text, p.metadata["line"]) for p in load_passages(lines)] == [("first line", 1), ("second line", 3)]
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("Doc A text", encoding="utf-8")
    (folder / "sub" / "b.md").write_text("Doc B text", encoding="utf-8")
    (folder / "image.png").write_bytes(b"\x89PNG")
    assert [(p.source_id, p.title) for p in load_passages(folder)] == [("a.txt", "a"), ("sub/b.md", "b")]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.jsonl", "", "empty"),
        ("blank.txt", "\n\n", "empty"),
        ("header_only.csv", "id,text\n", "empty"),
        ("broken.jsonl", '{"text": "ok"}\n{"text": \n', "broken.jsonl:2"),
        ("list.jsonl", "[1, 2]\n", "expected a JSON object"),
        ("number.jsonl", '{"text": 5}\n', "holds a int"),
        ("corpus.xml", "<a/>", "suffix"),
    ],
)
def test_bad_corpora_raise_data_errors_naming_the_file(tmp_path: Path, name: str, content: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_passages(path)
    assert expected in str(err.value) and name in str(err.value)


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found") as err:
        load_passages(tmp_path / "nope.jsonl")
    assert "nope.jsonl" in str(err.value)
    with pytest.raises(InputError, match="unknown corpus format"):
        load_passages(EXAMPLES / "bioasq_passages.jsonl", format="xml")


def test_parquet_without_pyarrow_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_pyarrow(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("pyarrow"):
            raise ImportError("no pyarrow")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    path = tmp_path / "p.parquet"
    path.write_bytes(b"PAR1")
    with pytest.raises(DataError, match="pip install pyarrow") as err:
        load_passages(path)
    assert "p.parquet" in str(err.value)


def test_parquet_loader_when_pyarrow_is_installed(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "passage": ["one text", "two text"]}), path)
    passages = load_passages(path, columns=ColumnMap(text="passage"))
    assert [(p.source_id, p.text) for p in passages] == [("a", "one text"), ("b", "two text")]


def test_min_words_filter_keeps_passages_with_more_than_n_words() -> None:
    passages = [Passage(text=" ".join(["w"] * n)) for n in (3, 4, 5)]
    assert [len(p.text.split()) for p in filter_min_words(passages, 4)] == [5]
    assert len(filter_min_words(passages, 0)) == 3
    with pytest.raises(InputError):
        filter_min_words(passages, -1)
    bio = load_passages(EXAMPLES / "bioasq_passages.jsonl")
    kept = filter_min_words(bio, 20)
    assert 0 < len(kept) < len(bio) and all(len(p.text.split()) > 20 for p in kept)


def test_word_chunks_have_the_size_and_overlap_asked_and_cover_the_text() -> None:
    text = " ".join(f"w{i}" for i in range(23))
    chunks = chunk_text(text, 10, 3)
    assert [len(c.split()) for c in chunks] == [10, 10, 9]
    assert chunks[0].split()[-3:] == chunks[1].split()[:3]  # overlap
    covered = {w for c in chunks for w in c.split()}
    assert covered == set(text.split())
    assert chunk_text("short text", 10) == ["short text"]
    with pytest.raises(InputError):
        chunk_text(text, 5, 5)


def test_token_chunks_slice_the_original_characters() -> None:
    text = "Erythropoietin stimulates erythropoiesis in the bone marrow. " * 6

    def spans(value: str) -> list[tuple[int, int]]:  # a stand-in tokenizer: 2 tokens per word
        out = []
        for a, b in word_spans(value):
            mid = (a + b) // 2
            out += [(a, mid), (mid, b)]
        return out

    chunks = chunk_text(text, 12, 2, unit="tokens", token_spans=spans)
    assert all(c in text for c in chunks) and len(chunks) > 1
    assert all(len(spans(c)) <= 12 for c in chunks)  # 2 tokens per word: 6 whole words per chunk
    assert [len(c.split()) for c in chunks[:-1]] == [6] * (len(chunks) - 1)
    assert chunks[0].split()[-1] == chunks[1].split()[0]  # overlap of 2 tokens = 1 word
    long_word = "Pneumonoultramicroscopic"  # 2 tokens, more than a chunk: kept whole, alone
    assert chunk_text(long_word, 1, 0, unit="tokens", token_spans=spans) == [long_word]


def test_chunked_passages_keep_title_source_and_metadata() -> None:
    doc = Passage(text=" ".join(f"w{i}" for i in range(25)), title="T", source_id="d", metadata={"k": "v"})
    chunks = chunk_passages([doc, Passage(text="tiny", source_id="e")], 10, 2)
    assert [c.metadata.get("chunk") for c in chunks] == [0, 1, 2, None]
    assert all(c.title == "T" and c.source_id == "d" and c.metadata["k"] == "v" for c in chunks[:3])
    assert len({c.id for c in chunks}) == 4
    assert "chunk" not in doc.metadata  # the source passage is untouched
