"""``promptkit ask``: one question to a model, answered through the TemplateAdapter."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from promptkit.cli._common import err, handle_errors, out


def build_lm(model: str | None, api_base: str | None, temperature: float | None, max_tokens: int | None) -> Any:
    from promptkit.lm import lm as make_lm

    return make_lm(model, api_base=api_base, temperature=temperature, max_tokens=max_tokens)


def show_messages(messages: list[dict[str, Any]]) -> None:
    for message in messages:
        out.rule(f"[bold]{message['role']}[/]", align="left")
        out.print(str(message["content"]), markup=False, highlight=False)
    out.rule()


def predictor_for(program: Any) -> Any:
    """The dspy.Predict that will make the (first) LM call of ``program``."""
    predictors = program.predictors()
    return predictors[0]


@handle_errors
def ask(
    question: Annotated[str, typer.Argument(help="the question")],
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="LM route: local, fake, ollama_chat/NAME, ...")
    ] = None,
    cot: Annotated[bool, typer.Option("--cot", help="think step by step (ChainOfThought)")] = False,
    show_prompt: Annotated[bool, typer.Option("--show-prompt", help="print the rendered messages")] = False,
    api_base: Annotated[str | None, typer.Option("--api-base", help="LM server URL")] = None,
    temperature: Annotated[float | None, typer.Option("--temperature")] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens")] = None,
) -> None:
    """Ask one question (question -> answer) and print the answer."""
    import dspy

    from promptkit.adapter import TemplateAdapter

    lm = build_lm(model, api_base, temperature, max_tokens)
    adapter = TemplateAdapter()
    program: Any = dspy.ChainOfThought("question -> answer") if cot else dspy.Predict("question -> answer")
    with dspy.context(lm=lm, adapter=adapter):
        if show_prompt:
            predictor = predictor_for(program)
            show_messages(adapter.format(predictor.signature, predictor.demos, {"question": question}))
        prediction = program(question=question)
    if cot:
        err.print(f"[dim]reasoning:[/] {prediction.reasoning}", highlight=False)
    out.print(str(prediction.answer), markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)
