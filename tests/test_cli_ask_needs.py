"""`promptkit ask` gives techniques what they need: --collection (Search/Lookup tools, a retriever, a context)
and --tool module:function; a missing requirement names the flag that provides it. ``ask --cot`` is promptkit's
``cot`` technique. FakeLM and a keyword retriever here; the embedded model and a real index at the end."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from promptkit.cli import app
from promptkit.cli import ask as ask_module
from promptkit.lm import FakeLM
from promptkit.retrieval import Passage
from promptkit.retrieval.tools import IndexTools

CORPUS = {
    "anemia": "Anemia is a shortage of red blood cells. It causes fatigue. Iron deficiency is a common cause.",
    "insulin": "Insulin is made by the beta cells of the pancreas. It lowers blood sugar.",
}


class KeywordRetriever:
    """Passages whose title shares a word with the query; records every query."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    def __call__(self, query: str, k: int | None = None, **_: Any) -> list[Passage]:
        self.queries.append(query)
        words = set(re.findall(r"\w+", query.lower()))
        hits = [Passage(text=text, title=title, score=1.0) for title, text in CORPUS.items() if title in words]
        return hits[: k or 3]


@pytest.fixture
def keyword_index(monkeypatch: pytest.MonkeyPatch) -> KeywordRetriever:
    """``--collection`` opens this retriever instead of a Qdrant collection; the arguments are recorded."""
    retriever = KeywordRetriever()
    opened: list[tuple[str, str, int]] = []

    def open_retriever(store: str, collection: str, *, k: int) -> KeywordRetriever:
        opened.append((store, collection, k))
        return retriever

    monkeypatch.setattr(ask_module, "open_retriever", open_retriever)
    retriever.opened = opened  # type: ignore[attr-defined]
    return retriever


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``scripted(answers)``: the FakeLM `ask` answers with (instead of --model)."""

    def install(answers: Any) -> FakeLM:
        lm = FakeLM(answers)
        monkeypatch.setattr(ask_module, "build_lm", lambda *args: lm)
        return lm

    return install


def ask(*args: str) -> Any:
    return CliRunner().invoke(app, ["ask", *args], env={"PROMPTKIT_DEBUG": None})


def test_index_tools_search_then_lookup_reads_the_searched_passages() -> None:
    tools = IndexTools(KeywordRetriever())
    assert tools.lookup("cells") == "No passage is open: Search first."
    page = tools.search("anemia")
    assert page.startswith("[1] anemia: Anemia is a shortage")
    assert tools.lookup("cause") == "(Result 1 / 2) It causes fatigue."
    assert tools.lookup("cause") == "(Result 2 / 2) Iron deficiency is a common cause."
    assert tools.lookup("cause") == "No more results."
    assert tools.lookup("red") == "(Result 1 / 1) [1] anemia: Anemia is a shortage of red blood cells."
    assert tools.search("unknown words").startswith("Could not find [unknown words]")
    assert tools.lookup("fatigue") == "(Result 1 / 1) It causes fatigue."  # a failed search keeps the last page


def test_ask_react_with_a_collection_searches_it_and_prints_the_trajectory(
    keyword_index: KeywordRetriever, scripted: Any
) -> None:
    lm = scripted(
        [
            {"thought": "I need to look up anemia.", "action": "Search[anemia]"},
            {"thought": "Find what it is short of.", "action": "Lookup[shortage]"},
            {"thought": "It is a shortage of red blood cells.", "action": "Finish[red blood cells]"},
        ]
    )
    result = ask("What is anemia a shortage of?", "--technique", "react", "--collection", "medical", "--k", "2")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "red blood cells"
    assert keyword_index.opened == [(".promptkit/index", "medical", 2)]  # type: ignore[attr-defined]
    assert keyword_index.queries == ["anemia"]
    assert "Action 1: Search[anemia]" in result.stderr
    assert "Observation 1: [1] anemia: Anemia is a shortage of red blood cells." in result.stderr
    assert "Observation 2: (Result 1 / 1) [1] anemia: Anemia is a shortage" in result.stderr
    assert "Search" in lm.calls[0].prompt and "Lookup" in lm.calls[0].prompt  # the tools are described


def test_ask_react_with_a_python_tool(scripted: Any) -> None:
    scripted(
        [
            {"thought": "Compute it.", "action": "calculator[17 * 3]"},
            {"thought": "The tool said 51.", "action": "Finish[51]"},
        ]
    )
    result = ask("What is 17 times 3?", "-t", "react", "--tool", "tests.ask_tools:calculator")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "51"
    assert "Observation 1: 51" in result.stderr


def test_react_gets_both_index_tools_and_python_tools(keyword_index: KeywordRetriever) -> None:
    tools = ask_module.load_tools(["tests.ask_tools:calculator"])
    needs = ask_module.TechniqueNeeds(retriever=keyword_index, tools=tools)
    program, context_from = ask_module.build_program("react", False, needs)
    assert list(program.tools) == ["Search", "Lookup", "calculator"] and context_from is None


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("calculator", "is not module:function"),
        ("tests.no_such_module:calculator", "cannot import module"),
        ("tests.ask_tools:missing", "has no attribute"),
        ("tests.ask_tools:NOT_A_FUNCTION", "is a int, not a function"),
    ],
)
def test_a_bad_tool_spec_is_an_input_error_naming_it(spec: str, says: str) -> None:
    result = ask("q", "--model", "fake", "-t", "react", "--tool", spec)
    assert result.exit_code == 2
    assert f"--tool {spec!r}" in result.stderr and says in result.stderr
    assert "fix: write --tool module:function" in result.stderr


def test_a_missing_requirement_names_the_flag_that_gives_it() -> None:
    result = ask("q", "--model", "fake", "-t", "react")
    assert result.exit_code == 2
    assert "technique 'react' needs tools" in result.stderr and "--collection" in result.stderr
    assert "--tool module:function" in result.stderr
    pool = ask("q", "--model", "fake", "-t", "auto_cot")
    assert pool.exit_code == 2 and "needs questions" in pool.stderr and "--questions FILE" in pool.stderr
    chain = ask("q", "--model", "fake", "-t", "chained_tasks")
    assert chain.exit_code == 2 and "needs chain" in chain.stderr and "--chain SPEC.yaml" in chain.stderr


def test_auto_cot_takes_its_pool_from_a_data_file(tmp_path: Path, scripted: Any) -> None:
    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(f'{{"question": "What is {i} + {i}?"}}\n' for i in range(4)), encoding="utf-8")
    lm = scripted(lambda call: {"reasoning": "Add them.", "answer": "4"})
    result = ask("What is 2 + 2?", "-t", "auto_cot", "--questions", str(pool))
    assert result.exit_code == 0 and result.stdout.strip() == "4", result.output
    last = lm.history[-1]["messages"]
    assert any("What is 0 + 0?" in m["content"] or "What is 3 + 3?" in m["content"] for m in last)


def test_chained_tasks_runs_a_bundled_chain_with_the_question_as_its_input(scripted: Any) -> None:
    lm = scripted(
        [
            "The signal drops every evening; customers are annoyed",
            '{"The signal drops every evening": "service reliability", "customers are annoyed": "others"}',
            '{"service reliability": "add capacity", "pricing concerns": "none", "customer support quality": "none"}',
        ]
    )
    result = ask("The signal drops every evening.", "-t", "chained_tasks", "--chain", "telecom_feedback")
    assert result.exit_code == 0 and "add capacity" in result.stdout, result.output
    assert any("The signal drops every evening." in m["content"] for m in lm.history[0]["messages"])


def test_an_option_flag_a_technique_cannot_use_is_an_input_error(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("a,b\n1,2\n", encoding="utf-8")
    result = ask("q", "--model", "fake", "-t", "vanilla", "--table", str(table))
    assert result.exit_code == 2 and "takes no --table" in result.stderr


def test_flags_a_technique_cannot_use_are_input_errors(keyword_index: KeywordRetriever) -> None:
    tools = ask("q", "--model", "fake", "-t", "vanilla", "--tool", "tests.ask_tools:calculator")
    assert tools.exit_code == 2 and "takes no tools" in tools.stderr
    index = ask("q", "--model", "fake", "-t", "vanilla", "--collection", "medical")
    assert index.exit_code == 2 and "searches no index" in index.stderr
    plain = ask("q", "--model", "fake", "--collection", "medical")
    assert plain.exit_code == 2 and "promptkit rag" in plain.stderr


def test_a_technique_with_a_retriever_option_gets_the_collection(keyword_index: KeywordRetriever) -> None:
    program, _ = ask_module.build_program("verify_and_edit", False, ask_module.TechniqueNeeds(retriever=keyword_index))
    assert program.retrieval.retriever is keyword_index
    cok, _ = ask_module.build_program("cok", False, ask_module.TechniqueNeeds(retriever=keyword_index))
    assert cok.retrieval.retriever is keyword_index


def test_implicit_rag_reads_its_context_from_the_collection(keyword_index: KeywordRetriever, scripted: Any) -> None:
    lm = scripted([{"snippets": ["Insulin is made by the beta cells of the pancreas."], "answer": "the pancreas"}])
    result = ask("Which organ makes insulin?", "-t", "implicit_rag", "--collection", "medical")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "the pancreas"
    assert keyword_index.queries == ["Which organ makes insulin?"]
    assert "beta cells of the pancreas" in lm.calls[0].prompt  # the retrieved passage is the context


def test_ask_cot_is_promptkits_cot_technique() -> None:
    from promptkit.techniques.prompted import ZeroShotCoT

    program, _ = ask_module.build_program(None, True)
    assert isinstance(program, ZeroShotCoT)


@pytest.mark.local
@pytest.mark.retrieval
@pytest.mark.slow
@pytest.mark.usefixtures("memory_only_cache")
def test_ask_react_over_a_real_index_on_the_embedded_model(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """End to end: a MiniLM index on disk, `ask --technique react --collection` on the embedded model. The
    action pattern in the grammar makes SmolLM2-135M write Name[argument] (it wrote its thought there before),
    and the first step's pattern has no Finish, so the run searches the index before it answers."""
    from promptkit.retrieval import Embedder, build_index

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        '{"id": "1", "title": "Eiffel Tower", "text": "The Eiffel Tower is in Paris. It was completed in 1889."}\n'
        '{"id": "2", "title": "Big Ben", "text": "Big Ben is a clock tower in London. It was completed in 1859."}\n',
        encoding="utf-8",
    )
    store = str(tmp_path / "index")
    build_index(corpus, "landmarks", store=store, embedder=Embedder(cache=tmp_path / "c.sqlite"))
    question = "In which year was the Eiffel Tower completed?"
    result = CliRunner().invoke(
        app,
        [
            "ask",
            question,
            "--technique",
            "react",
            "--collection",
            "landmarks",
            "--store",
            store,
            "--model",
            "local",
            "--max-tokens",
            "96",
        ],
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"^Action 1: Search\[[^\]]+\]$", result.stderr, re.M), result.stderr  # the first step searched
    assert "Eiffel Tower" in result.stderr.partition("Observation 1:")[2]  # its observation came from the index
    assert all(
        re.fullmatch(r"(Search|Lookup|Finish)\[[^\]]+\]", action)  # every action is well formed
        for action in re.findall(r"^Action \d+: (.*)$", result.stderr, re.M)
    )
    assert result.stdout.strip(), result.output  # an answer
    assert "constraining to any JSON object instead" not in caplog.text  # llama.cpp took the pattern's grammar
