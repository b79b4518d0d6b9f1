"""The loop guard of the embedded model: finding a repeated span token by token, ending it, trimming it;
and the grammar the engine builds for long field budgets. The model-backed checks are marked ``local``."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from promptkit.lm.grammar import collapse_repetitions, gbnf_for_response_format
from promptkit.lm.local_loops import CLOSING_RESERVE, MIN_LOOP_TOKENS, LoopDetector, LoopGuard

# A toy vocabulary: token i renders as WORDS[i]; 0 is the end of generation, 1 and 2 open with a quote.
WORDS = ["</s>", '"', '",', " The", " answer", " is", " 16", ".", " so", " we", " add", " 3", " and", " 4"]
SENTENCE = [3, 4, 5, 6, 7]  # " The answer is 16."


class ToyLlama:
    model_path = "toy.gguf"

    def n_vocab(self) -> int:
        return len(WORDS)

    def token_eos(self) -> int:
        return 0

    def detokenize(self, tokens: list[int]) -> bytes:
        return "".join(WORDS[t] for t in tokens).encode()


def render(tokens: list[int]) -> str:
    return "".join(WORDS[t] for t in tokens)


def generate(guard: LoopGuard, prompt: list[int], wanted: list[int]) -> tuple[list[int], list[np.ndarray]]:
    """Feed ``wanted`` as the model's choices; where the guard pushes, take its top token instead."""
    ids = list(prompt)
    pushed = []
    for token in wanted:
        scores = guard(np.array(ids), np.zeros(len(WORDS), dtype=np.single))
        if scores.max() > 0:
            pushed.append(scores)
            token = int(scores.argmax())
        ids.append(token)
        if token in (0, 1, 2):
            break
    return ids[len(prompt) :], pushed


def test_a_repeated_sentence_is_found_once_three_copies_and_enough_tokens_are_there() -> None:
    detector = LoopDetector()
    found = [detector.push(token) for token in SENTENCE * 6]
    first = next(i for i, hit in enumerate(found) if hit)
    period, repeated = found[first]  # type: ignore[misc]
    assert period == len(SENTENCE) and repeated == first + 1 - period
    assert first + 1 >= max(3 * period, MIN_LOOP_TOKENS)  # three copies and 24 tokens before it counts


@pytest.mark.parametrize(
    "tokens",
    [
        [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13] * 2,  # said twice is not a loop
        [11] * (MIN_LOOP_TOKENS - 1),  # one token, not yet long enough
        random.Random(0).choices(range(3, 14), k=200),  # varied
    ],
)
def test_text_that_does_not_loop_is_left_alone(tokens: list[int]) -> None:
    detector = LoopDetector()
    assert not any(detector.push(token) for token in tokens)


def test_a_single_token_run_is_a_loop_at_the_minimum_length() -> None:
    detector = LoopDetector()
    hits = [detector.push(11) for _ in range(MIN_LOOP_TOKENS)]
    assert hits[-1] == (1, MIN_LOOP_TOKENS - 1) and not any(hits[:-1])


def test_with_a_grammar_the_guard_pushes_the_tokens_that_close_a_string() -> None:
    guard = LoopGuard(ToyLlama(), grammar=True)
    generated, pushed = generate(guard, prompt=[8, 9], wanted=SENTENCE * 20)
    assert guard.loops == 1 and len(pushed) == 1
    assert set(np.flatnonzero(pushed[0] > 0)) == {1, 2}  # '"' and '",': the grammar keeps the legal one
    assert len(generated) < len(SENTENCE) * 6 and generated[-1] in (1, 2)


def test_without_a_grammar_the_guard_pushes_the_end_of_generation() -> None:
    guard = LoopGuard(ToyLlama(), grammar=False)
    generated, pushed = generate(guard, prompt=[8], wanted=SENTENCE * 20)
    assert set(np.flatnonzero(pushed[0] > 0)) == {0} and generated[-1] == 0


def test_after_a_loop_is_ended_a_new_one_must_build_up_again() -> None:
    guard = LoopGuard(ToyLlama(), grammar=True)
    ids = [8]
    pushes = 0
    for token in SENTENCE * 12:  # the push is ignored here (as when the grammar allows no quote yet)
        pushes += guard(np.array(ids), np.zeros(len(WORDS), dtype=np.single)).max() > 0
        ids.append(token)
    assert guard.loops == pushes == 2  # not one push per token once looping


def test_under_a_grammar_the_last_tokens_before_max_tokens_close_the_object() -> None:
    guard = LoopGuard(ToyLlama(), grammar=True, max_tokens=200)
    varied = random.Random(1).choices(range(3, 14), k=300)
    generated, pushed = generate(guard, prompt=[8], wanted=varied)
    assert guard.loops == 0 and guard.closed_early
    assert len(generated) == 200 - CLOSING_RESERVE + 1  # the first reserved step took a closing token
    assert set(np.flatnonzero(pushed[0] > 0)) == {0, 1, 2}  # quotes and the end: the grammar picks


def test_without_a_grammar_max_tokens_is_left_to_cut() -> None:
    guard = LoopGuard(ToyLlama(), grammar=False, max_tokens=50)
    generated, pushed = generate(guard, prompt=[8], wanted=random.Random(1).choices(range(3, 14), k=60))
    assert not pushed and len(generated) == 60 and not guard.closed_early


def test_the_reply_keeps_each_loop_once_cut_at_a_sentence_end() -> None:
    guard = LoopGuard(ToyLlama(), grammar=True)
    # '{"r": "' is the prompt side here; the loop starts mid-sentence (" answer is 16. The ...").
    generated, _ = generate(guard, prompt=[8], wanted=[3] + [4, 5, 6, 7, 3] * 10)
    text = render(generated)
    trimmed = guard.trim(text + "}", lambda ids: render(list(ids)))
    assert trimmed.startswith(" The answer is 16.") and trimmed.count("answer") == 1
    assert trimmed.endswith(render([generated[-1]]) + "}")  # what came after the loop is kept


def test_a_reply_the_guard_did_not_see_verbatim_is_not_trimmed() -> None:
    guard = LoopGuard(ToyLlama(), grammar=False)
    generate(guard, prompt=[8], wanted=SENTENCE * 10)
    assert guard.trim("something else", lambda ids: render(list(ids))) == "something else"


def test_long_string_budgets_become_a_bounded_repetition() -> None:
    schema = {
        "type": "object",
        "properties": {
            "reasoning": {"type": "string", "minLength": 1, "maxLength": 1188},
            "answer": {"type": "string", "minLength": 2, "maxLength": 300},
            "free": {"type": "string"},
        },
        "required": ["reasoning", "answer", "free"],
    }
    grammar = gbnf_for_response_format({"type": "json_schema", "json_schema": {"name": "o", "schema": schema}})
    assert grammar is not None
    assert 'reasoning ::= "\\"" char{1,1188} "\\"" space' in grammar
    assert 'answer ::= "\\"" char{2,300} "\\"" space' in grammar
    assert "(char" not in grammar and len(grammar) < 2000  # not 1,188 nested groups


def test_other_rules_are_not_rewritten() -> None:
    grammar = 'root ::= "{" space "\\"a\\"" space ":" space a "}"\na ::= "\\"" [a-z] (x (x)?)? "\\"" space\n'
    assert collapse_repetitions(grammar) == grammar


@pytest.mark.local
def test_an_unbounded_field_still_closes_before_max_tokens() -> None:
    import dspy

    import promptkit
    from promptkit.lm.local import local_lm

    question = "List the first twenty prime numbers and explain each one."
    replies = {}
    for guard in (False, True):
        lm = local_lm(cache=False, max_tokens=64, loop_guard=guard)
        with dspy.context(lm=lm, adapter=promptkit.TemplateAdapter(field_budgets=False)):  # no maxLength at all
            dspy.ChainOfThought("question -> answer")(question=question)
        replies[guard] = (lm.history[-1]["outputs"][0], lm.history[-1]["usage"]["completion_tokens"])
    (cut, cut_tokens), (closed, tokens) = replies[False], replies[True]
    assert cut_tokens == 64 and not cut.rstrip().endswith("}")  # the premise: cut off at max_tokens
    assert tokens <= 64 and json.loads(closed).keys() == {"reasoning", "answer"}


@pytest.mark.local
def test_a_budget_llama_cpp_would_refuse_as_nested_groups_runs() -> None:
    from promptkit.lm.local import local_lm

    lm = local_lm(max_tokens=24, cache=False)
    schema = {
        "type": "object",
        "properties": {"story": {"type": "string", "minLength": 1, "maxLength": 5000}},
        "required": ["story"],
    }
    reply = lm(
        messages=[{"role": "user", "content": "Tell a story."}],
        response_format={"type": "json_schema", "json_schema": {"name": "o", "schema": schema}},
    )
    assert isinstance(reply[0], str) and reply[0].startswith("{")  # (before: a segfault on the first token)


@pytest.mark.local
def test_a_grammar_llama_cpp_refuses_falls_back_to_any_json_object(caplog: pytest.LogCaptureFixture) -> None:
    from promptkit.lm.local import local_lm

    lm = local_lm(max_tokens=24, cache=False)
    # llama-cpp-python's converter writes this pattern as 3,000 nested groups, which llama.cpp refuses.
    bad = {"type": "object", "properties": {"x": {"type": "string", "pattern": "^a{1,3000}$"}}, "required": ["x"]}
    with caplog.at_level("WARNING"):
        reply = lm(
            messages=[{"role": "user", "content": "Say a."}],
            response_format={"type": "json_schema", "json_schema": {"name": "o", "schema": bad}},
        )
    assert reply[0].lstrip().startswith("{")  # constrained to JSON still (before: a segfault)
    assert "refused the grammar" in caplog.text


# GSM8K train row 9: SmolLM2-135M under greedy decoding writes "The answer is $16." over and over.
LOOPING_QUESTION = (
    "Alexis is applying for a new job and bought a new set of business clothes to wear to the interview. "
    "She went to a department store with a budget of $200 and spent $30 on a button-up shirt, $46 on suit "
    "pants, $38 on a suit coat, $11 on socks, and $18 on a belt. She also purchased a pair of shoes, but "
    "lost the receipt for them. She has $16 left from her budget. How much did Alexis pay for the shoes?"
)


@pytest.mark.local
def test_the_embedded_model_ends_a_loop_and_the_reply_says_it_once() -> None:
    import dspy

    import promptkit
    from promptkit.lm.local import local_lm

    replies = {}
    for guard in (False, True):
        lm = local_lm(cache=False, loop_guard=guard, max_tokens=192)  # enough for the loop, and quick
        with dspy.context(lm=lm, adapter=promptkit.TemplateAdapter()):
            prediction = dspy.ChainOfThought("question -> answer")(question=LOOPING_QUESTION)
        replies[guard] = (prediction, lm.history[-1]["usage"]["completion_tokens"], lm.engine.stats.loops_ended)
    (looped, looped_tokens, _), (ended, tokens, loops) = replies[False], replies[True]
    assert looped.reasoning.count("The answer is") >= 3  # the premise: without the guard it loops
    assert loops >= 1 and tokens < looped_tokens / 2
    assert ended.reasoning.count("The answer is") == 1 and ended.answer


def test_replies_made_with_other_decoding_options_are_cached_apart() -> None:
    from promptkit.lm.local import local_lm

    default, off, penalty = (
        local_lm(cache=False, **options).kwargs.get("rollout_id")
        for options in ({}, {"loop_guard": False}, {"repeat_penalty": 1.1})
    )
    assert default is None  # the defaults keep the plain cache key
    assert off is not None and penalty is not None and off != penalty
    assert local_lm(cache=False, loop_guard=False).kwargs["rollout_id"] == off  # stable across processes
