"""ReAct on FakeLM: the seed's HotPotQA trace (Search / Lookup / Finish), any tool, malformed actions,
unknown tools, tools that raise, the step limit, and DSPy's native dspy.ReAct route."""

from __future__ import annotations

import re
from typing import Any

import pytest

from promptkit.errors import InputError, ParseError
from promptkit.techniques import build
from promptkit.techniques.react import ActionFormatError, DocstoreTools, ToolError, action_pattern, parse_action

DOCS = {
    "Colorado orogeny": "The Colorado orogeny was an episode of mountain building (an orogeny) in Colorado and "
    "surrounding areas. The eastern sector extends into the High Plains and is called the Central Plains orogeny.",
    "High Plains": "The High Plains are a subregion of the Great Plains. From east to west, the High Plains rise in "
    "elevation from around 1,800 to 7,000 ft (550 to 2,130 m).",
}
QUESTION = "What is the elevation range for the area that the eastern sector of the Colorado orogeny extends into?"


def step(thought: str, action: str) -> dict[str, str]:
    return {"thought": thought, "action": action}


def test_the_seed_hotpotqa_trajectory(fake: Any) -> None:
    lm = fake(
        [
            step("I need to search Colorado orogeny.", "Search[Colorado orogeny]"),
            step(
                "It does not mention the eastern sector. So I need to look up eastern sector.", "Lookup[eastern sector]"
            ),
            step("I need to search High Plains and find its elevation range.", "Search[High Plains]"),
            step("The elevation range is 1,800 to 7,000 ft.", "Finish[1,800 to 7,000 ft]"),
        ]
    )
    react = build("react", tools=DocstoreTools(DOCS).tools(), max_steps=6)
    prediction = react(question=QUESTION)
    assert len(lm.calls) == 4
    assert prediction.answer == "1,800 to 7,000 ft" and prediction.finished is True
    observations = [s.get("observation") for s in prediction.trajectory]
    assert observations[0].startswith("The Colorado orogeny was an episode of mountain building")
    assert observations[1] == (
        "(Result 1 / 1) The eastern sector extends into the High Plains and is called the Central Plains orogeny."
    )
    assert observations[2].startswith("The High Plains are a subregion")
    assert observations[3] is None  # Finish ends the loop: no observation
    # Each call sees the whole trajectory so far, in the paper's format.
    third = lm.calls[2].last_user_message
    assert "Action 1: Search[Colorado orogeny]\nObservation 1: The Colorado orogeny" in third
    assert "Action 2: Lookup[eastern sector]\nObservation 2: (Result 1 / 1)" in third
    instructions = lm.calls[0].messages[0]["content"]
    assert "(1) Search[entity]" in instructions and "(2) Lookup[keyword]" in instructions
    assert "(3) Finish[answer]" in instructions and "at most 6 steps" in instructions
    assert "Thought 1: I need to search Colorado orogeny." in prediction.trajectory_text


def test_any_python_callable_is_a_tool(fake: Any) -> None:
    seen: list[str] = []

    def calculator(expression: str) -> str:
        """evaluates an arithmetic expression."""
        seen.append(expression)
        return str(eval(expression, {"__builtins__": {}}))  # test tool on a fixed expression

    lm = fake([step("compute", "Calculator[6 * 7]"), step("done", "Finish[42]")])
    prediction = build("react", "question -> answer: int", tools={"Calculator": calculator})(question="6*7?")
    assert seen == ["6 * 7"] and prediction.answer == 42
    assert "(1) Calculator[expression], evaluates an arithmetic expression." in lm.calls[0].messages[0]["content"]
    assert "Observation 1: 42" in lm.calls[1].last_user_message


def test_tools_can_be_a_list_of_functions(fake: Any) -> None:
    def lookup_capital(country: str) -> str:
        return {"France": "Paris"}.get(country, "unknown")

    fake([step("look", "lookup_capital[France]"), step("done", "Finish[Paris]")])
    prediction = build("react", tools=[lookup_capital])(question="Capital of France?")
    assert prediction.trajectory[0]["observation"] == "Paris" and prediction.answer == "Paris"


def test_malformed_action_is_reported_back_as_an_observation(fake: Any) -> None:
    lm = fake([step("hmm", "I should search for it"), step("ok", "Finish[x]")])
    prediction = build("react", tools=DocstoreTools(DOCS).tools())(question="q")
    observation = prediction.trajectory[0]["observation"]
    assert "Invalid action" in observation and "not of the form Name[argument]" in observation
    assert "Search[...], Lookup[...], Finish[answer]" in observation
    assert observation in lm.calls[1].last_user_message
    assert prediction.answer == "x"


def test_unknown_tool_is_refused_with_the_known_ones(fake: Any) -> None:
    fake([step("google it", "Google[Colorado]"), step("ok", "Finish[x]")])
    prediction = build("react", tools=DocstoreTools(DOCS).tools())(question="q")
    observation = prediction.trajectory[0]["observation"]
    assert "unknown tool 'Google'" in observation and "Search[...], Lookup[...], Finish[answer]" in observation


def test_too_many_invalid_actions_is_a_typed_error(fake: Any) -> None:
    fake([step("a", "nonsense"), step("b", "Google[x]")])
    with pytest.raises(ActionFormatError) as caught:
        build("react", tools=DocstoreTools(DOCS).tools(), max_invalid=2)(question="q")
    assert isinstance(caught.value, ParseError)
    assert "Action 2: Google[x]" in caught.value.raw


def test_a_raising_tool_becomes_an_observation(fake: Any) -> None:
    def flaky(query: str) -> str:
        raise ValueError("backend down")

    lm = fake([step("try", "Flaky[x]"), step("give up", "Finish[unknown]")])
    prediction = build("react", tools={"Flaky": flaky})(question="q")
    assert prediction.trajectory[0]["observation"] == "Error: Flaky raised ValueError: backend down"
    assert "backend down" in lm.calls[1].last_user_message
    assert prediction.answer == "unknown"


def test_a_tool_that_keeps_raising_is_a_typed_error(fake: Any) -> None:
    def broken(query: str) -> str:
        raise RuntimeError(f"cannot handle {query}")

    fake([step("1", "Broken[a]"), step("2", "Broken[b]")])
    with pytest.raises(ToolError) as caught:
        build("react", tools={"Broken": broken}, max_tool_errors=2)(question="q")
    assert "Broken[b] raised RuntimeError: cannot handle b" in str(caught.value)
    assert len(caught.value.trajectory) == 2


def test_step_limit_extracts_the_answer_from_the_trajectory(fake: Any) -> None:
    lm = fake(
        [step("search", "Search[High Plains]"), step("search", "Search[Colorado orogeny]"), {"answer": "best guess"}]
    )
    prediction = build("react", tools=DocstoreTools(DOCS).tools(), max_steps=2)(question="q")
    assert len(lm.calls) == 3 and prediction.finished is False and prediction.answer == "best guess"
    assert "Observation 2: The Colorado orogeny" in lm.calls[2].last_user_message
    assert lm.calls[2].output_fields == ["answer"]


def test_several_outputs_are_extracted_after_finish(fake: Any) -> None:
    lm = fake([step("done", "Finish[Paris, France]"), {"city": "Paris", "country": "France"}])
    prediction = build("react", "question -> city, country", tools={"Search": str})(question="q")
    assert (prediction.city, prediction.country) == ("Paris", "France") and prediction.finished is True
    assert "Finish[Paris, France]" in lm.calls[1].last_user_message


@pytest.mark.parametrize(
    ("tools", "message"),
    [
        (None, "needs option tools"),
        ({"Finish": str}, "not allowed"),
        ({"Search": 3}, "not a function"),
        ({"search": str, "SEARCH": str}, "two tools"),
        ({"bad name": str}, "not allowed"),
    ],
)
def test_bad_tools_are_typed_errors(tools: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        build("react", tools=tools)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("Search[Colorado orogeny]", ("Search", "Colorado orogeny")),
        ("Action 3: Finish[yes]", ("Finish", "yes")),
        ("Lookup[a [nested] b]", ("Lookup", "a [nested] b")),
        ("no action here", None),
        ("", None),
    ],
)
def test_parse_action(text: str, parsed: tuple[str, str] | None) -> None:
    assert parse_action(text) == parsed


def test_docstore_search_suggests_similar_titles() -> None:
    tools = DocstoreTools(DOCS)
    assert "Similar: ['High Plains']" in tools.search("High Plain")
    assert tools.lookup("x") == "No page is open: Search for an entity first."
    tools.search("colorado orogeny")
    assert tools.lookup("sector").startswith("(Result 1 / 1)") and tools.lookup("sector") == "No more results."


def test_react_native_runs_dspy_react_with_template_instructions(fake: Any) -> None:
    def get_weather(city: str) -> str:
        """Return the weather for a city."""
        return f"The weather in {city} is sunny."

    lm = fake(
        [
            {"next_thought": "look it up", "next_tool_name": "get_weather", "next_tool_args": {"city": "Tokyo"}},
            {"next_thought": "done", "next_tool_name": "finish", "next_tool_args": {}},
            {"reasoning": "the tool said sunny", "answer": "sunny"},
        ]
    )
    prediction = build("react_native", tools=[get_weather], max_iters=4)(question="Weather in Tokyo?")
    assert prediction.answer == "sunny"
    assert prediction.trajectory["observation_0"] == "The weather in Tokyo is sunny."
    instructions = lm.calls[0].messages[0]["content"]
    assert "You are an Agent." in instructions and "(1) get_weather, whose description is" in instructions
    assert "Return the weather for a city." in instructions


def test_react_native_ends_on_a_step_reply_that_does_not_parse_and_still_answers(fake: Any) -> None:
    # The embedded model's first step was JSON without the step's fields: the parse error escaped dspy.ReAct.
    def get_weather(city: str) -> str:
        """Return the weather for a city."""
        return f"The weather in {city} is sunny."

    lm = fake(
        [
            {"next_thought": "look it up", "next_tool_name": "get_weather", "next_tool_args": {"city": "Tokyo"}},
            '{"thought": "no step fields here"}',
            {"reasoning": "the tool said sunny", "answer": "sunny"},
        ]
    )
    prediction = build("react_native", tools=[get_weather], max_iters=4)(question="Weather in Tokyo?")
    assert prediction.answer == "sunny" and len(lm.calls) == 3
    assert prediction.trajectory["observation_0"] == "The weather in Tokyo is sunny."
    assert "thought_1" not in prediction.trajectory  # the unparsed step ended the loop


@pytest.mark.parametrize(
    ("action", "first", "later"),
    [
        ("Search[Eiffel Tower]", True, True),
        ("Lookup[completed]", True, True),
        ("Finish[1889]", False, True),
        ("Action 1: The Eiffel Tower was completed in 1989.", False, False),
        ("Google[x]", False, False),
        ("Search[]", False, False),
        ('Search[a "quoted" word]', False, False),
        ("Search[a]b]", False, False),
    ],
)
def test_action_pattern_takes_known_tools_and_finish_only_after_the_first_step(
    action: str, first: bool, later: bool
) -> None:
    assert bool(re.fullmatch(action_pattern(["Search", "Lookup"], finish=False), action)) is first
    assert bool(re.fullmatch(action_pattern(["Search", "Lookup"]), action)) is later


def test_the_step_schema_carries_the_action_pattern_and_the_first_step_leaves_finish_out(fake: Any) -> None:
    lm = fake([step("search it", "Search[High Plains]"), step("done", "Finish[1,800 to 7,000 ft]")])
    lm.structured_output = "json_schema"  # a grammar route: the adapter sends the output schema
    prediction = build("react", tools=DocstoreTools(DOCS).tools())(question=QUESTION)
    assert prediction.answer == "1,800 to 7,000 ft"
    first, later = (call.config["response_format"]["json_schema"]["schema"]["properties"] for call in lm.calls)
    assert first["action"]["pattern"] == action_pattern(["Search", "Lookup"], finish=False)
    assert later["action"]["pattern"] == action_pattern(["Search", "Lookup"])
    assert list(first) == list(later) == ["thought", "action"]
    assert lm.calls[0].messages[0]["content"] == lm.calls[1].messages[0]["content"]  # the same instructions
    assert "The first action must be Search or Lookup, not Finish" in lm.calls[0].messages[0]["content"]


def test_repeating_an_action_that_observes_nothing_new_ends_the_loop(fake: Any) -> None:
    lm = fake(
        [
            step("look", "Search[High Plains]"),
            step("look", "Lookup[elevation]"),
            step("again", "Lookup[elevation]"),
            step("again", "Search[High Plains]"),
            step("again", "Search[High Plains]"),
            {"answer": "from the pages"},
        ]
    )
    prediction = build("react", tools=DocstoreTools(DOCS).tools(), max_steps=8)(question=QUESTION)
    actions = [s["action"] for s in prediction.trajectory]
    # Lookup again reads the next match (a new observation); the same Search twice in a row does not.
    assert actions == [
        "Search[High Plains]",
        "Lookup[elevation]",
        "Lookup[elevation]",
        "Search[High Plains]",
        "Search[High Plains]",
    ]
    assert prediction.trajectory[2]["observation"] == "No more results."
    assert len(lm.calls) == 6 and lm.calls[-1].output_fields == ["answer"]
    assert prediction.finished is False and prediction.answer == "from the pages"
