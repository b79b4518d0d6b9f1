"""``promptkit ask``: one question to a model, answered through the TemplateAdapter."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from promptkit.cli._common import ROUTER_HELP, err, handle_errors, out
from promptkit.cli.retrieval_cmd import DEFAULT_STORE, StoreOption, open_retriever


def build_lm(
    model: str | None,
    api_base: str | None,
    temperature: float | None,
    max_tokens: int | None,
    router: Path | None = None,
) -> Any:
    from promptkit.lm import choose_lm

    return choose_lm(model, api_base=api_base, temperature=temperature, max_tokens=max_tokens, router=router)


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
    cot: Annotated[bool, typer.Option("--cot", help="think step by step (promptkit's cot technique)")] = False,
    technique: Annotated[
        str | None, typer.Option("--technique", "-t", help="a prompting technique id (promptkit techniques list)")
    ] = None,
    show_prompt: Annotated[bool, typer.Option("--show-prompt", help="print the rendered messages")] = False,
    api_base: Annotated[str | None, typer.Option("--api-base", help="LM server URL")] = None,
    temperature: Annotated[float | None, typer.Option("--temperature")] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens")] = None,
    stream: Annotated[bool, typer.Option("--stream", help="print the answer as it is generated")] = False,
    router: Annotated[Path | None, typer.Option("--router", help=ROUTER_HELP)] = None,
    collection: Annotated[
        str | None,
        typer.Option(
            "--collection",
            "-c",
            help="a promptkit index the technique searches: Search/Lookup "
            "tools for react, the retriever of cok / verify_and_edit / step_back, the context "
            "of implicit_rag (promptkit index build)",
        ),
    ] = None,
    store: StoreOption = DEFAULT_STORE,
    k: Annotated[int, typer.Option("--k", help="passages per search of --collection")] = 3,
    tool: Annotated[
        list[str] | None,
        typer.Option(
            "--tool",
            help="a tool for react / react_native: module:function or "
            "path/to/file.py:function taking one string (repeatable)",
        ),
    ] = None,
    table: Annotated[
        Path | None, typer.Option("--table", help="a CSV / Markdown table file for binder, dater, chain_of_table")
    ] = None,
    questions: Annotated[
        Path | None,
        typer.Option(
            "--questions",
            help="auto_cot's pool: a data file with a question field (JSONL / JSON / CSV / Parquet, as eval run reads)",
        ),
    ] = None,
    chain: Annotated[
        str | None,
        typer.Option(
            "--chain",
            help="chained_tasks' chain: a chain .yaml or a bundled pipeline name; QUESTION is its one required input",
        ),
    ] = None,
) -> None:
    """Ask one question (question -> answer) and print the answer."""
    import dspy
    from rich.markup import escape

    from promptkit.adapter import TemplateAdapter

    needs = TechniqueNeeds(
        retriever=open_retriever(store, collection, k=k) if collection is not None else None,
        tools=load_tools(tool or []),
        options={
            name: value
            for name, value in (("table", table), ("questions", questions), ("chain", chain))
            if value is not None
        },
    )
    program, context_from = build_program(technique, cot, needs)
    inputs: dict[str, Any] = {question_field(program): question}
    if context_from is not None:
        inputs["context"] = "\n\n".join(str(getattr(p, "text", p)) for p in context_from(question))
    lm = build_lm(model, api_base, temperature, max_tokens, router)
    adapter = TemplateAdapter()
    printer = AnswerPrinter()
    with dspy.context(lm=lm, adapter=adapter):
        prediction = stream_answer(program, inputs, printer) if stream else program(**inputs)
    if show_prompt and lm.history:
        show_messages(lm.history[-1]["messages"])  # the last call's prompt: for multi-step techniques, the final one
    trajectory = getattr(prediction, "trajectory_text", None)
    if trajectory:
        err.print(f"[dim]trajectory:[/]\n{escape(str(trajectory))}", highlight=False)
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


def stream_answer(program: Any, inputs: dict[str, Any], printer: AnswerPrinter) -> Any:
    from promptkit.streaming import stream_field

    try:
        return stream_field(program, "answer", printer, **inputs)
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


@dataclass
class TechniqueNeeds:
    """What the command line gives a technique: a retriever over ``--collection``, tools from ``--tool``."""

    retriever: Any = None
    tools: dict[str, Any] = field(default_factory=dict)
    # Options given by their own flag (--table, --questions, --chain), by option name.
    options: dict[str, Any] = field(default_factory=dict)


# The flag that gives each requirement a technique may declare (``TechniqueInfo.requires``).
REQUIREMENT_FLAGS = {
    "tools": "--collection C (Search/Lookup over a promptkit index) or --tool module:function",
    "retriever": "--collection C",
    "table": "--table FILE",
    "questions": "--questions FILE",
    "chain": "--chain SPEC.yaml (or a bundled pipeline name, e.g. telecom_feedback)",
}


def build_program(technique: str | None, cot: bool, needs: TechniqueNeeds | None = None) -> tuple[Any, Any]:
    """``question -> answer`` as a plain Predict, promptkit's ``cot`` technique, or any registered technique,
    given what ``needs`` holds; and the retriever that fills a ``context`` input (implicit_rag), or None."""
    import dspy

    from promptkit import techniques
    from promptkit.errors import InputError
    from promptkit.techniques.chained import load_chain_spec

    needs = needs or TechniqueNeeds()
    if technique is None:
        if needs.options:
            raise InputError(f"--{next(iter(needs.options))} needs --technique", hint="e.g. --technique binder")
        if needs.retriever is not None or needs.tools:
            raise InputError(
                "--collection and --tool are for a technique that uses them",
                hint="add --technique react (or cok, implicit_rag, ...), or use `promptkit rag`",
            )
        return (techniques.build("cot") if cot else dspy.Predict("question -> answer")), None
    if cot:
        raise InputError("--cot and --technique are exclusive", hint="use --technique cot")
    info = techniques.get(technique)
    accepted = info.option_names()
    signature, context_from = "question -> answer", None
    options: dict[str, Any] = {}
    for name, value in needs.options.items():
        if name not in accepted:
            raise InputError(
                f"technique {info.id!r} takes no --{name}",
                hint=f"drop --{name}; `promptkit techniques show {info.id}` lists what it takes",
            )
        options[name] = value
    if "questions" in options:
        options["questions"] = pool_questions(options["questions"])
    if "chain" in options:
        options["chain"] = load_chain_spec(options["chain"])
        signature = chain_signature(options["chain"])
    if needs.tools:
        if "tools" not in accepted:
            raise InputError(f"technique {info.id!r} takes no tools (--tool)", hint="use --technique react")
        options["tools"] = dict(needs.tools)
    if needs.retriever is not None:
        if "tools" in accepted:
            from promptkit.retrieval.tools import IndexTools

            options["tools"] = {**IndexTools(needs.retriever).tools(), **options.get("tools", {})}
        elif "retriever" in accepted:
            options["retriever"] = needs.retriever
        elif "context" in dspy.Signature(info.example_signature).input_fields:
            signature, context_from = info.example_signature, needs.retriever
        else:
            raise InputError(
                f"technique {info.id!r} searches no index (--collection)",
                hint="drop --collection, or use one that retrieves (react, cok, implicit_rag, ...)",
            )
    missing = [name for name in info.requires if options.get(name) is None]
    if missing:
        flag = REQUIREMENT_FLAGS.get(missing[0])
        how = (
            f"give {flag}"
            if flag
            else "`promptkit ask` has no flag for it; in Python: "
            f"promptkit.techniques.build({info.id!r}, {missing[0]}=...)"
        )
        raise InputError(f"technique {info.id!r} needs {missing[0]}", hint=how)
    return techniques.build(info.id, signature, **options), context_from


def question_field(program: Any) -> str:
    """The input QUESTION fills: ``question``, or the one input of the signature other than ``context``."""
    names = [name for name in program.signature.input_fields if name != "context"]
    return "question" if "question" in names or len(names) != 1 else names[0]


def pool_questions(path: Path) -> list[str]:
    """``--questions FILE``: the question field of every row (datasets.load: the format and errors of eval run)."""
    from promptkit.datasets import load

    return [str(example.question) for example in load(path, inputs=["question"])]


def chain_signature(chain: Any) -> str:
    """``<the chain's one required input> -> answer``: chained_tasks matches its signature to the chain's inputs."""
    from promptkit.errors import InputError

    required = [name for name, spec in chain.inputs.items() if spec.required]
    if len(required) != 1:
        raise InputError(
            f"--chain {chain.name!r} takes inputs {', '.join(required) or 'none'}; "
            "`promptkit ask` gives one (QUESTION)",
            hint="run it with `promptkit chain SPEC.yaml --input k=v ...`",
        )
    return f"{required[0]} -> answer"


def load_tools(specs: list[str]) -> dict[str, Any]:
    """``--tool module:function`` (repeatable) -> ``{function name: function}``."""
    from promptkit.errors import InputError
    from promptkit.programs.resolve import resolve_attr

    hint = "write --tool module:function (e.g. mypkg.tools:calculator), a function taking one string"
    tools: dict[str, Any] = {}
    for spec in specs:
        target, sep, attr = spec.rpartition(":")
        if not sep or not target or not attr:
            raise InputError(f"--tool {spec!r} is not module:function", hint=hint)
        try:
            fn = resolve_attr(spec, what="tool")
        except InputError as exc:
            raise InputError(f"--tool {spec!r}: {exc.message}", hint=hint) from None
        if not callable(fn):
            raise InputError(f"--tool {spec!r} is a {type(fn).__name__}, not a function", hint=hint)
        tools[attr.rpartition(".")[2]] = fn
    return tools


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)
