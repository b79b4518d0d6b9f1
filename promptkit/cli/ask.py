"""``promptkit ask``: one question to a model, answered through the TemplateAdapter."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from promptkit.cli._common import ROUTER_HELP, err, handle_errors, out


def build_lm(
    model: str | None,
    api_base: str | None,
    temperature: float | None,
    max_tokens: int | None,
    router: Path | None = None,
) -> Any:
    from promptkit.lm import lm as make_lm

    return make_lm(model, api_base=api_base, temperature=temperature, max_tokens=max_tokens, router=router)


def show_messages(messages: list[dict[str, Any]]) -> None:
    for message in messages:
        out.rule(f"[bold]{message['role']}[/]", align="left")
        out.print(str(message["content"]), markup=False, highlight=False)
    out.rule()


@handle_errors
def ask(
    question: Annotated[str, typer.Argument(help="the question")],
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="LM route: local, fake, ollama_chat/NAME, ...")
    ] = None,
    cot: Annotated[bool, typer.Option("--cot", help="think step by step (ChainOfThought)")] = False,
    technique: Annotated[
        str | None, typer.Option("--technique", "-t", help="a prompting technique id (promptkit techniques list)")
    ] = None,
    show_prompt: Annotated[bool, typer.Option("--show-prompt", help="print the rendered messages")] = False,
    api_base: Annotated[str | None, typer.Option("--api-base", help="LM server URL")] = None,
    temperature: Annotated[float | None, typer.Option("--temperature")] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens")] = None,
    stream: Annotated[bool, typer.Option("--stream", help="print the answer as it is generated")] = False,
    router: Annotated[Path | None, typer.Option("--router", help=ROUTER_HELP)] = None,
    table: Annotated[
        Path | None, typer.Option("--table", help="a CSV / Markdown table file for binder, dater, chain_of_table")
    ] = None,
) -> None:
    """Ask one question (question -> answer) and print the answer."""
    import dspy
    from rich.markup import escape

    from promptkit.adapter import TemplateAdapter

    program = build_program(technique, cot, {"table": table} if table is not None else {})
    lm = build_lm(model, api_base, temperature, max_tokens, router)
    adapter = TemplateAdapter()
    printer = AnswerPrinter()
    with dspy.context(lm=lm, adapter=adapter):
        prediction = stream_answer(program, question, printer) if stream else program(question=question)
    if show_prompt and lm.history:
        show_messages(lm.history[-1]["messages"])  # the last call's prompt: for multi-step techniques, the final one
    reasoning = getattr(prediction, "reasoning", None)
    if reasoning:
        err.print(f"[dim]reasoning:[/] {escape(str(reasoning))}", highlight=False)
    votes = getattr(prediction, "votes", None)
    if votes:
        err.print(f"[dim]votes:[/] {escape(str(votes))}", highlight=False)
    answer = str(prediction.answer)
    if answer != printer.last:  # not streamed, or the technique's answer is a vote or an edit of what was
        if printer.generations:
            err.print("[dim]final answer:[/]", highlight=False)
        out.print(answer, markup=False, highlight=False)


def stream_answer(program: Any, question: str, printer: AnswerPrinter) -> Any:
    from promptkit.streaming import stream_field

    try:
        return stream_field(program, "answer", printer, question=question)
    finally:
        printer.end_line()  # an error message must not start in the middle of the answer's line


class AnswerPrinter:
    """Writes answer chunks to stdout as they arrive, one line per generation of the answer.

    A technique may generate the answer several times (samples, a draft and its revision); each
    generation gets its own line. ``last`` is the text of the latest one.
    """

    def __init__(self) -> None:
        self.generations = 0
        self.last: str | None = None
        self._generating = False
        self._line_open = False

    def __call__(self, chunk: Any) -> None:
        if not self._generating:
            self.end_line()
            self.generations += 1
            self.last = ""
            self._generating = True
        if chunk.chunk:
            typer.echo(chunk.chunk, nl=False)  # click flushes after each write
            self._line_open = True
        self.last = (self.last or "") + chunk.chunk
        self._generating = not chunk.is_last_chunk

    def end_line(self) -> None:
        if self._line_open:
            typer.echo("")
            self._line_open = False


def build_program(technique: str | None, cot: bool, options: dict[str, Any] | None = None) -> Any:
    """``question -> answer`` as a plain Predict, a ChainOfThought, or any registered technique (with ``options``)."""
    import dspy

    if technique is None:
        if options:
            from promptkit.errors import InputError

            raise InputError(f"--{next(iter(options))} needs --technique", hint="e.g. --technique binder")
        return dspy.ChainOfThought("question -> answer") if cot else dspy.Predict("question -> answer")
    from promptkit import techniques
    from promptkit.errors import InputError

    if cot:
        raise InputError("--cot and --technique are exclusive", hint="use --technique cot_zeroshot")
    return techniques.build(technique, "question -> answer", **(options or {}))


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)
