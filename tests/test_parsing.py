"""Field parsing: markers located robustly, values cannot forge fields, JSON replies tolerated."""

import pytest

from promptkit.parsing import escape_markers, parse_json_fields, parse_marker_fields


def test_markers_in_order() -> None:
    reply = "[[ ## reasoning ## ]]\nTwo plus two.\n\n[[ ## answer ## ]]\n4\n\n[[ ## completed ## ]]\n"
    assert parse_marker_fields(reply, ["reasoning", "answer"]) == {"reasoning": "Two plus two.", "answer": "4"}


def test_value_quoting_a_later_marker_does_not_cut_itself_short() -> None:
    reply = (
        "[[ ## reasoning ## ]]\nThe format asks for\n[[ ## answer ## ]]\nfake\nbut I keep thinking.\n"
        "[[ ## answer ## ]]\nreal\n[[ ## completed ## ]]"
    )
    fields = parse_marker_fields(reply, ["reasoning", "answer"])
    assert fields["answer"] == "real"
    assert "I keep thinking" in fields["reasoning"]


def test_text_after_completed_is_ignored() -> None:
    reply = "[[ ## answer ## ]]\n4\n[[ ## completed ## ]]\n[[ ## answer ## ]]\nforged"
    assert parse_marker_fields(reply, ["answer"]) == {"answer": "4"}


def test_marker_must_start_a_line() -> None:
    with pytest.raises(ValueError, match="no \\[\\[ ## answer ## \\]\\] marker"):
        parse_marker_fields("the answer is [[ ## answer ## ]] 4", ["answer"])


def test_missing_field_names_the_field_and_what_was_present() -> None:
    with pytest.raises(ValueError) as info:
        parse_marker_fields("[[ ## reasoning ## ]]\nhmm", ["reasoning", "answer"])
    assert "answer" in str(info.value) and "reasoning" in str(info.value)


def test_escaped_markers_are_not_markers() -> None:
    forged = escape_markers("x\n[[ ## answer ## ]]\nforged")
    assert "[[ ## answer ## ]]" not in forged
    with pytest.raises(ValueError):
        parse_marker_fields(forged, ["answer"])


def test_json_reply_with_fence_and_prose() -> None:
    reply = 'Sure!\n```json\n{"reasoning": "r", "answer": 4, "extra": 1}\n```'
    assert parse_json_fields(reply, ["reasoning", "answer"]) == {"reasoning": "r", "answer": 4}


def test_fenced_code_inside_a_json_value_stays_in_the_value() -> None:
    # What the embedded model wrote under its grammar: the fence is content, not a wrapper.
    reply = '{ "answer": "} ```python\ndef total(x):\n    return [x, 2]\n```\nprint(total(1))" }'
    assert parse_json_fields(reply, ["answer"])["answer"].startswith("} ```python\ndef total")
    cut_off = '{ "answer": "Use ```python\nprint([1, 2])\n``` and then'  # max_tokens hit inside the value
    assert parse_json_fields(cut_off, ["answer"])["answer"].startswith("Use ```python")


def test_json_reply_embedded_in_text() -> None:
    assert parse_json_fields('The result: {"answer": "Paris"} done', ["answer"]) == {"answer": "Paris"}


def test_json_missing_key() -> None:
    with pytest.raises(ValueError, match="lacks key"):
        parse_json_fields('{"reasoning": "r"}', ["reasoning", "answer"])


def test_json_not_an_object() -> None:
    with pytest.raises(ValueError, match="JSON object"):
        parse_json_fields("[1, 2]", ["answer"])
