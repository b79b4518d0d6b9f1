"""The technique registry: what each technique is (paper, family, cost, needs) and how to build it.

Importing this module imports neither DSPy nor a technique: each entry names its builder as
``"module:Class"``, loaded on :meth:`TechniqueInfo.load`, so ``promptkit techniques list`` is fast.
"""

from __future__ import annotations

import builtins
import difflib
import importlib
import inspect
from dataclasses import dataclass
from typing import Any

from promptkit.errors import InputError

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
        """The keyword options the builder accepts."""
        params = inspect.signature(self.load().__init__).parameters.values()
        return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]

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


def _t(**fields: Any) -> TechniqueInfo:
    fields["templates"] = tuple(f"techniques/{name}" for name in fields.get("templates", ()))
    return TechniqueInfo(**fields)


_P = "promptkit.techniques."
TECHNIQUES: tuple[TechniqueInfo, ...] = (
    _t(id="vanilla", name="Vanilla prompting", family="zero-shot",
       paper="Language Models are Few-Shot Learners", authors="Brown et al.", year=2020, arxiv="2005.14165",
       calls="1", needs=(), description="The structured prompt as is: the task's instructions and the input.",
       templates=("vanilla.j2",), builder=_P + "prompted:Vanilla"),
    _t(id="instructed", name="Instructed prompting", family="zero-shot",
       paper="Large Language Models Can Be Easily Distracted by Irrelevant Context", authors="Shi et al.",
       year=2023, arxiv="2302.00093", calls="1", needs=(),
       description="Adds 'Feel free to ignore irrelevant information given in the questions.'",
       templates=("instructed.j2",), builder=_P + "prompted:Instructed"),
    _t(id="cot_zeroshot", name="Zero-shot chain of thought", family="thought generation",
       paper="Large Language Models are Zero-Shot Reasoners", authors="Kojima et al.", year=2022,
       arxiv="2205.11916", calls="1", needs=(),
       description="A trigger phrase (default \"Let's think step by step.\") and a reasoning field before the answer.",
       templates=("cot_zeroshot.j2", "_partials/cot.j2"), builder=_P + "prompted:ZeroShotCoT",
       aliases=("zero_shot_cot", "cot")),
    _t(id="cot_fewshot", name="Few-shot chain of thought", family="few-shot",
       paper="Chain-of-Thought Prompting Elicits Reasoning in Large Language Models", authors="Wei et al.",
       year=2022, arxiv="2201.11903", calls="1", needs=("labeled demos",),
       description="Worked examples with their reasoning as few-shot turns (built-in GSM8K demos).",
       templates=("cot_fewshot.j2", "_partials/cot.j2"), builder=_P + "prompted:FewShotCoT", aliases=("few_shot_cot",)),
    _t(id="self_consistency", name="Self-consistency", family="ensembling",
       paper="Self-Consistency Improves Chain of Thought Reasoning in Language Models", authors="Wang et al.",
       year=2022, arxiv="2203.11171", calls="N (1 request with n when the backend supports it)", needs=("sampling",),
       description="N chain-of-thought samples at temperature > 0, normalized answers, majority vote with its counts.",
       templates=("cot_zeroshot.j2",), builder=_P + "ensembling:SelfConsistency", aliases=("sc",)),
    _t(id="ensemble_refinement", name="Ensemble refinement", family="ensembling",
       paper="Towards Expert-Level Medical Question Answering with Large Language Models", authors="Singhal et al.",
       year=2023, arxiv="2305.09617", calls="N + M", needs=("sampling",),
       description="N CoT samples, then M refinements that each see all N attempts; plurality vote over refinements.",
       templates=("cot_zeroshot.j2", "ensemble_refinement.j2"), builder=_P + "ensembling:EnsembleRefinement",
       aliases=("er",)),
    _t(id="react", name="ReAct (text actions)", family="tool use",
       paper="ReAct: Synergizing Reasoning and Acting in Language Models", authors="Yao et al.", year=2022,
       arxiv="2210.03629", calls="≤ max_steps (+1 to extract the outputs)", needs=("tools",),
       description="Thought / Action / Observation loop, Name[argument] actions (Search, Lookup, Finish, any tool).",
       templates=("react.j2", "react_extract.j2"), builder=_P + "react:ReAct", requires=("tools",)),
    _t(id="react_native", name="ReAct (DSPy function calling)", family="tool use",
       paper="ReAct: Synergizing Reasoning and Acting in Language Models", authors="Yao et al.", year=2022,
       arxiv="2210.03629", calls="≤ max_iters + 1", needs=("tools",),
       description="DSPy's dspy.ReAct: tool name + JSON arguments per step, then an extraction call.",
       templates=("react_native.j2",), builder=_P + "react:NativeReAct", requires=("tools",)),
    _t(id="least_to_most", name="Least-to-most prompting", family="decomposition",
       paper="Least-to-Most Prompting Enables Complex Reasoning in Large Language Models", authors="Zhou et al.",
       year=2022, arxiv="2205.10625", calls="2 + subquestions", needs=(),
       description="Decompose into simpler subquestions, solve them in order with earlier answers, then the problem.",
       templates=("least_to_most_decompose.j2", "least_to_most_solve.j2", "least_to_most_final.j2"),
       builder=_P + "decomposition:LeastToMost", aliases=("ltm",)),
    _t(id="plan_and_solve", name="Plan-and-Solve (PS+)", family="decomposition",
       paper="Plan-and-Solve Prompting: Improving Zero-Shot Chain-of-Thought Reasoning by Large Language Models",
       authors="Wang et al.", year=2023, arxiv="2305.04091", calls="2", needs=(),
       description="The PS+ trigger writes a plan and carries it out; a second call extracts the answer.",
       templates=("plan_and_solve.j2", "plan_and_solve_answer.j2"), builder=_P + "decomposition:PlanAndSolve",
       aliases=("ps", "ps_plus")),
    _t(id="step_back", name="Step-back prompting", family="thought generation",
       paper="Take a Step Back: Evoking Reasoning via Abstraction in Large Language Models", authors="Zheng et al.",
       year=2023, arxiv="2310.06117", calls="2", needs=("retriever (optional)",),
       description="Ask and answer a more generic step-back question, then answer the original grounded in it.",
       templates=("step_back.j2", "step_back_answer.j2"), builder=_P + "decomposition:StepBack"),
    _t(id="analogical", name="Analogical prompting", family="thought generation",
       paper="Large Language Models as Analogical Reasoners", authors="Yasunaga et al.", year=2023,
       arxiv="2310.01714", calls="1", needs=(),
       description="The model recalls relevant solved problems (self-generated exemplars), then solves this one.",
       templates=("analogical.j2",), builder=_P + "prompted:Analogical"),
    _t(id="thread_of_thought", name="Thread of Thought", family="thought generation",
       paper="Thread of Thought Unraveling Chaotic Contexts", authors="Zhou et al.", year=2023, arxiv="2311.08734",
       calls="1", needs=(),
       description="Walk a long or noisy context part by part, summarizing and analyzing, before answering.",
       templates=("thread_of_thought.j2", "_partials/cot.j2"), builder=_P + "prompted:ThreadOfThought",
       example_signature="context, question -> answer", aliases=("thot",)),
    _t(id="system2_attention", name="System 2 Attention", family="zero-shot",
       paper="System 2 Attention (is something you might need too)", authors="Weston & Sukhbaatar", year=2023,
       arxiv="2311.11829", calls="2", needs=(),
       description="Rewrite the input without opinions and distractors, then answer from the rewrite only.",
       templates=("system2_attention.j2", "system2_attention_answer.j2"),
       builder=_P + "decomposition:System2Attention", aliases=("s2a",)),
    _t(id="chain_of_verification", name="Chain-of-Verification", family="self-criticism",
       paper="Chain-of-Verification Reduces Hallucination in Large Language Models", authors="Dhuliawala et al.",
       year=2023, arxiv="2309.11495", calls="3 + questions", needs=("parallel calls",),
       description="Draft, plan verification questions, answer each independently (in parallel), revise.",
       templates=("vanilla.j2", "chain_of_verification_plan.j2", "chain_of_verification_verify.j2",
                  "chain_of_verification_revise.j2"),
       builder=_P + "self_criticism:ChainOfVerification", aliases=("cove",)),
    _t(id="self_refine", name="Self-Refine", family="self-criticism",
       paper="Self-Refine: Iterative Refinement with Self-Feedback", authors="Madaan et al.", year=2023,
       arxiv="2303.17651", calls="≤ 1 + 2·max_rounds", needs=(),
       description="Generate, then feedback -> revise rounds until the feedback says is_good or max_rounds.",
       templates=("vanilla.j2", "self_refine_feedback.j2", "self_refine_revise.j2"),
       builder=_P + "self_criticism:SelfRefine"),
    _t(id="contrastive_cot", name="Contrastive chain of thought", family="thought generation",
       paper="Contrastive Chain-of-Thought Prompting", authors="Chia et al.", year=2023, arxiv="2311.09277",
       calls="1", needs=("labeled demos",),
       description="Examples with a correct and a wrong explanation (built-in demos for question -> answer).",
       templates=("contrastive_cot.j2",), builder=_P + "prompted:ContrastiveCoT"),
    _t(id="tree_of_thoughts", name="Tree of Thoughts", family="decomposition",
       paper="Tree of Thoughts: Deliberate Problem Solving with Large Language Models", authors="Yao et al.",
       year=2023, arxiv="2305.10601", calls="≤ 2 + proposals + (depth−1)·breadth·(1 + proposals)", needs=(),
       description="BFS over reasoning steps: propose next steps, score them with a value prompt, keep the best.",
       templates=("tree_of_thoughts_propose.j2", "tree_of_thoughts_value.j2", "tree_of_thoughts_answer.j2"),
       builder=_P + "tree_of_thoughts:TreeOfThoughts", aliases=("tot",)),
    _t(id="metacognitive", name="Metacognitive prompting", family="decomposition",
       paper="Metacognitive Prompting Improves Understanding in Large Language Models", authors="Wang & Zhao",
       year=2023, arxiv="2308.05342", calls="1", needs=(),
       description="Five stages in one call: understand, judge, re-evaluate, decide, rate confidence.",
       templates=("metacognitive.j2",), builder=_P + "prompted:Metacognitive", aliases=("mp",)),
    _t(id="rephrase_and_respond", name="Rephrase and Respond", family="zero-shot",
       paper="Rephrase and Respond: Let Large Language Models Ask Better Questions for Themselves",
       authors="Deng et al.", year=2023, arxiv="2311.04205", calls="1 (two_step: 2)", needs=(),
       description="Rephrase and expand the question, then answer it (one call, or two with two_step=True).",
       templates=("rephrase_and_respond.j2", "rephrase_and_respond_rephrase.j2", "rephrase_and_respond_answer.j2"),
       builder=_P + "prompted:RephraseAndRespond", aliases=("rar", "rephrase_respond")),
    _t(id="skeleton_of_thought", name="Skeleton-of-Thought", family="decomposition",
       paper="Skeleton-of-Thought: Prompting LLMs for Efficient Parallel Generation", authors="Ning et al.",
       year=2023, arxiv="2307.15337", calls="1 + points", needs=("parallel calls",),
       description="A skeleton of short points, then every point expanded in parallel and joined in order.",
       templates=("skeleton_of_thought.j2", "skeleton_of_thought_expand.j2"),
       builder=_P + "decomposition:SkeletonOfThought", aliases=("sot",)),
    _t(id="program_of_thought", name="Program of Thoughts", family="decomposition",
       paper="Program of Thoughts Prompting: Disentangling Computation from Reasoning for Numerical Reasoning Tasks",
       authors="Chen et al.", year=2022, arxiv="2211.12588", calls="1 + retries (≤ 1 + max_retries, +1 to map)",
       needs=("code interpreter",),
       description="The model writes Python that stores the answer in `ans`; it runs in an OS sandbox.",
       templates=("program_of_thought.j2", "program_fix.j2", "program_answer.j2", "_partials/program.j2"),
       builder=_P + "program:ProgramOfThought", aliases=("pot",)),
    _t(id="pal", name="PAL: program-aided language models", family="tool use",
       paper="PAL: Program-aided Language Models", authors="Gao et al.", year=2022, arxiv="2211.10435",
       calls="1 + retries (≤ 1 + max_retries, +1 to map)", needs=("code interpreter",),
       description="The model writes a commented solution() in Python; the sandboxed interpreter computes the answer.",
       templates=("pal.j2", "program_fix.j2", "program_answer.j2", "_partials/program.j2"),
       builder=_P + "program:PAL"),
    _t(id="complex_cot", name="Complexity-based prompting", family="few-shot",
       paper="Complexity-Based Prompting for Multi-Step Reasoning", authors="Fu et al.", year=2022,
       arxiv="2210.00720", calls="1 (n > 1: n samples)", needs=("labeled demos", "sampling (optional)"),
       description="The demos with the most reasoning steps as exemplars; with n > 1, vote over the top_k "
       "longest of n sampled chains (complexity-based consistency).",
       templates=("complex_cot.j2", "_partials/cot.j2"), builder=_P + "complexity:ComplexCoT",
       aliases=("complexity",)),
    _t(id="federated_sc", name="Federated self-consistency (Fed-SP-SC)", family="ensembling",
       paper="Federated Prompting and Chain-of-Thought Reasoning for Improving LLMs Answering",
       authors="Liu et al.", year=2023, arxiv="2304.13911", calls="1 + N (0 + N with a question pool)",
       needs=("a pool of synonymous questions (optional)",),
       description="Answer N paraphrases of the question (from a pool of synonymous questions, else written "
       "by the model) with CoT and majority-vote the answers.",
       templates=("federated_sc_paraphrase.j2", "cot_zeroshot.j2"), builder=_P + "federated:FederatedSelfConsistency",
       aliases=("fed_sc", "fed_sp_sc")),
    _t(id="logical_thoughts", name="Logical Thoughts (LoT)", family="self-criticism",
       paper="Enhancing Zero-Shot Chain-of-Thought Reasoning in Large Language Models through Logic",
       authors="Zhao et al.", year=2023, arxiv="2309.13339", needs=(),
       calls="1 + 2·steps + revisions (+ 1 when revised)",
       description="Zero-shot CoT steps; each step is argued for and against (reductio ad absurdum), a judge "
       "keeps or revises it and later steps are regenerated; a revised chain gets a final answer call.",
       templates=("cot_zeroshot.j2", "logical_thoughts_check.j2", "logical_thoughts_judge.j2",
                  "logical_thoughts_revise.j2", "logical_thoughts_answer.j2"),
       builder=_P + "verification:LogicalThoughts", aliases=("lot", "logicot")),
    _t(id="verify_and_edit", name="Verify-and-Edit", family="self-criticism",
       paper="Verify-and-Edit: A Knowledge-Enhanced Chain-of-Thought Framework", authors="Zhao et al.",
       year=2023, arxiv="2305.03268", calls="N, + (questions + 2) when agreement ≤ threshold",
       needs=("sampling", "retriever (optional)"),
       description="Self-consistency first; when agreement is below the bar, ask verifying questions about the "
       "rationale, answer them (from retrieved passages when given), edit the rationale and re-answer.",
       templates=("cot_zeroshot.j2", "verify_and_edit_questions.j2", "verify_and_edit_answer.j2",
                  "verify_and_edit_edit.j2"),
       builder=_P + "verification:VerifyAndEdit", aliases=("ve",)),
    _t(id="chain_of_symbol", name="Chain-of-Symbol", family="thought generation",
       paper="Chain-of-Symbol Prompting Elicits Planning in Large Language Models", authors="Hu et al.",
       year=2023, arxiv="2305.10276", calls="1", needs=("labeled demos (built-in spatial demos)",),
       description="Reasoning written as compact symbols (A/B/C stacks, arrows, coordinates) instead of prose, "
       "shown by symbolic demos, then the answer.",
       templates=("chain_of_symbol.j2",), builder=_P + "symbolic:ChainOfSymbol", aliases=("cos",)),
    _t(id="implicit_rag", name="Implicit RAG", family="zero-shot",
       paper="Can GPT Redefine Medical Understanding? Evaluating GPT on Biomedical Machine Reading Comprehension",
       authors="Vatsal & Singh", year=2024, arxiv="2405.18682", calls="1", needs=("a long context (context_field)",),
       description="Over a long context, the model first extracts a bounded number of relevant snippets, then "
       "answers from them: its own retriever, no chunking or vector store.",
       templates=("implicit_rag.j2",), builder=_P + "implicit_rag:ImplicitRAG",
       example_signature="context, question -> answer"),
    _t(id="auto_cot", name="Auto-CoT", family="few-shot",
       paper="Automatic Chain of Thought Prompting in Large Language Models", authors="Zhang et al.", year=2022,
       arxiv="2210.03493", calls="k to k·max_tries once (building the demos) + 1 per question",
       needs=("a pool of questions", "embedding model (optional; TF-IDF fallback)"),
       description="Cluster a pool of unlabeled questions, zero-shot-CoT the one nearest each centroid that "
       "passes the length filters, and use those chains as few-shot demos.",
       templates=("cot_zeroshot.j2", "auto_cot.j2", "_partials/cot.j2"), builder=_P + "auto_cot:AutoCoT",
       requires=("questions",), aliases=("autocot",)),
    _t(id="scot", name="Structured chain of thought (code)", family="thought generation",
       paper="Structured Chain-of-Thought Prompting for Code Generation", authors="Li et al.", year=2023,
       arxiv="2305.06599", calls="2 (1 with one_call=True)", needs=(),
       description="A plan in sequence / branch / loop structures with its input-output signature, then the "
       "code (or answer) that follows the plan.",
       templates=("scot_plan.j2", "scot_code.j2"), builder=_P + "structured_cot:StructuredCoT",
       example_signature="requirement -> code", aliases=("structured_cot",)),
    _t(id="decomp", name="Decomposed prompting", family="decomposition",
       paper="Decomposed Prompting: A Modular Approach for Solving Complex Tasks", authors="Khot et al.",
       year=2022, arxiv="2210.02406", calls="2 + LM-handler calls (≤ max_calls)", needs=("handlers (optional)",),
       description="A decomposer writes [handler] sub-question calls; each goes to a sub-prompt or a Python "
       "function, its result feeds later calls, and a final call answers from all the results.",
       templates=("decomp_plan.j2", "decomp_handler.j2", "decomp_answer.j2"),
       builder=_P + "decomposed:DecomposedPrompting", aliases=("decomposed_prompting",)),
    _t(id="thor", name="Three-hop reasoning (THOR)", family="thought generation",
       paper="Reasoning Implicit Sentiment with Chain-of-Thought Prompting", authors="Fei et al.", year=2023,
       arxiv="2305.11255", calls="3", needs=(),
       description="Three chained calls: the aspect of the target mentioned, the implicit opinion on it, then "
       "the answer (e.g. the polarity) given both.",
       templates=("thor_aspect.j2", "thor_opinion.j2", "thor_answer.j2"), builder=_P + "thor:ThreeHopReasoning",
       example_signature="sentence, target -> polarity"),
    _t(id="cok", name="Chain-of-Knowledge", family="self-criticism",
       paper="Chain-of-Knowledge: Grounding Large Language Models via Dynamic Knowledge Adapting over "
       "Heterogeneous Sources", authors="Li et al.", year=2023, arxiv="2305.13269",
       calls="N + 1, + 2·steps + 1 without a majority", needs=("sampling", "retriever (optional)"),
       description="Sample CoT rationales and name the knowledge domains; without a majority, correct each "
       "rationale step in turn from a query to the knowledge source, then consolidate the answer.",
       templates=("cot_zeroshot.j2", "cok_domains.j2", "cok_query.j2", "cok_correct.j2", "cok_answer.j2"),
       builder=_P + "knowledge:ChainOfKnowledge", aliases=("chain_of_knowledge",)),
    _t(id="mathprompter", name="MathPrompter", family="ensembling",
       paper="MathPrompter: Mathematical Reasoning using Large Language Models", authors="Imani et al.",
       year=2023, arxiv="2303.05398", calls="≤ 2·attempts (+ 1 to map several outputs)",
       needs=("code interpreter", "sampling"),
       description="Numbers become variables; an algebraic expression and a Python function are written, run "
       "in the sandbox on random values and must agree before the answer is computed.",
       templates=("mathprompter_template.j2", "mathprompter_expression.j2", "mathprompter_function.j2",
                  "program_answer.j2"),
       builder=_P + "mathprompter:MathPrompter"),
    _t(id="chained_tasks", name="Chained tasks (prompt chaining)", family="decomposition",
       paper="AI Chains: Transparent and Controllable Human-AI Interaction by Chaining Large Language Model Prompts",
       authors="Wu et al.", year=2021, arxiv="2110.01691", calls="steps (+ re-asks)", needs=("a chain spec",),
       description="A promptkit.chains Chain (steps feed later steps) run as a technique; see `promptkit chain`.",
       templates=(), builder=_P + "chained:ChainedTasks", requires=("chain",),
       example_signature="feedback -> report", aliases=("chain", "prompt_chaining")),
    # --- issue 13 item 2: the last ten techniques of the catalog ---
    _t(id="maieutic", name="Maieutic prompting", family="self-criticism",
       paper="Maieutic Prompting: Logically Consistent Reasoning with Recursive Explanations",
       authors="Jung et al.", year=2022, arxiv="2205.11822",
       calls="1 + 2·nodes + abductions + NLI pairs (5 to 19 with the defaults)", needs=("True/False questions",),
       description="A tree of 'True, because' / 'False, because' explanations; integral ones (the model's verdict "
       "flips under negation) and NLI edges become a weighted MAX-SAT problem whose optimum answers.",
       templates=("maieutic_abduce.j2", "maieutic_judge.j2", "maieutic_nli.j2"), builder=_P + "maieutic:Maieutic",
       example_signature="question -> answer: bool"),
    _t(id="active_prompt", name="Active-Prompt", family="few-shot",
       paper="Active Prompting with Chain-of-Thought for Large Language Models", authors="Diao et al.", year=2023,
       arxiv="2302.12246", calls="pool·k once (uncertainty sampling) + 1 per question",
       needs=("a pool of questions (built-in GSM8K exemplars)", "sampling", "human annotation (annotate=)"),
       description="Sample k CoT answers per pool question, rank by disagreement or entropy, and use the most "
       "uncertain questions, annotated by a person, as few-shot CoT demos.",
       templates=("cot_zeroshot.j2", "cot_fewshot.j2", "_partials/cot.j2"),
       builder=_P + "active_prompt:ActivePrompt", aliases=("active",)),
    _t(id="chain_of_code", name="Chain of Code", family="tool use",
       paper="Chain of Code: Reasoning with a Language Model-Augmented Code Emulator", authors="Li et al.",
       year=2023, arxiv="2312.04474", calls="1 + simulated statements (≤ max_simulations) (+1 to map)",
       needs=("code interpreter",),
       description="The model writes code with undefined semantic helpers; statements run in the OS sandbox one "
       "by one and those Python cannot run are simulated by the model (the LMulator), which writes the new state.",
       templates=("chain_of_code.j2", "chain_of_code_simulate.j2", "program_answer.j2", "_partials/program.j2"),
       builder=_P + "chain_of_code:ChainOfCode", aliases=("coc",)),
    _t(id="binder", name="Binder", family="tool use",
       paper="Binding Language Models in Symbolic Languages", authors="Cheng et al.", year=2022, arxiv="2210.02875",
       calls="n (+ fixes) + QA calls (+1)", needs=("a table", "SQL engine (SQLite)"),
       description="The model writes SQLite over the table with QA(...) calls to itself where SQL cannot express a "
       "step; SQLite runs it, calling the model per value; with n > 1 the executed results vote.",
       templates=("binder_sql.j2", "binder_fix.j2", "binder_qa.j2", "binder_answer.j2"),
       builder=_P + "binder:Binder", requires=("table",), example_signature="table, question -> answer"),
    _t(id="dater", name="Dater", family="decomposition",
       paper="Large Language Models are Versatile Decomposers: Decompose Evidence and Questions for Table-based "
       "Reasoning", authors="Ye et al.", year=2023, arxiv="2301.13808", calls="3",
       needs=("a table", "SQL engine (SQLite)"),
       description="Pick the relevant rows and columns (a sub-table), decompose the question into cloze "
       "sub-questions whose blanks SQLite computes, then reason over both.",
       templates=("dater_evidence.j2", "dater_questions.j2", "dater_answer.j2", "_partials/cot.j2"),
       builder=_P + "dater:Dater", requires=("table",), example_signature="table, question -> answer"),
    _t(id="chain_of_table", name="Chain-of-Table", family="tool use",
       paper="Chain-of-Table: Evolving Tables in the Reasoning Chain for Table Understanding", authors="Wang et al.",
       year=2024, arxiv="2401.04398", calls="≤ 2·max_ops + 2", needs=("a table", "table operations (SQLite)"),
       description="Plan the next atomic operation (add/select rows/select columns/group by/sort by or end), "
       "generate its arguments, run it in SQLite; answer from the evolved table.",
       templates=("chain_of_table_plan.j2", "chain_of_table_args.j2", "chain_of_table_answer.j2", "_partials/cot.j2"),
       builder=_P + "chain_of_table:ChainOfTable", requires=("table",), example_signature="table, question -> answer",
       aliases=("cotable",)),
    _t(id="synthetic_prompting", name="Synthetic prompting", family="few-shot",
       paper="Synthetic Prompting: Generating Chain-of-Thought Demonstrations for Large Language Models",
       authors="Shao et al.", year=2023, arxiv="2302.00618", calls="≤ 2·max_tries once + 1 per question",
       needs=("seed demos (built-in for question -> answer)",),
       description="From a few seeds, synthesize examples backward (topic + complexity -> reasoning -> question), "
       "keep those a forward solve agrees with, cluster them and use the most complex of each as demos.",
       templates=("synthetic_backward.j2", "synthetic_forward.j2", "cot_fewshot.j2", "_partials/cot.j2"),
       builder=_P + "synthetic_prompting:SyntheticPrompting", aliases=("synthetic",)),
    _t(id="chain_of_event", name="Chain-of-Event", family="decomposition",
       paper="Chain-of-event prompting for multi-document summarization by large language models (Int. J. of Web "
       "Information Systems, 2024; no arXiv: the id is the survey's, Vatsal & Dubey §2.37)",
       authors="Bao et al.", year=2024, arxiv="2407.12994", calls="1", needs=(),
       description="One call in four stages: the events of each document, generalized events, the common events, "
       "then the summary (or answer) from those.",
       templates=("chain_of_event.j2",), builder=_P + "chain_of_event:ChainOfEvent",
       example_signature="documents -> summary", aliases=("coe",)),
    _t(id="term_definitions", name="Basic prompting with term definitions", family="zero-shot",
       paper="Can GPT Improve the State of Prior Authorization via Guideline Based Automated Question Answering?",
       authors="Vatsal et al.", year=2024, arxiv="2402.18419", calls="1", needs=("a domain glossary (optional)",),
       description="The task plus definitions of the domain terms in the input: from a glossary (glossary=) or, "
       "without one, written by the model before it answers.",
       templates=("term_definitions.j2",), builder=_P + "term_definitions:TermDefinitions",
       aliases=("definitions",)),
    _t(id="guideline_error_analysis", name="Annotation guideline + error-analysis prompting", family="few-shot",
       paper="Improving Large Language Models for Clinical Named Entity Recognition via Prompt Engineering",
       authors="Hu et al.", year=2023, arxiv="2303.16416", calls="1",
       needs=("annotation guideline (optional)", "error rules (optional)", "labeled demos (optional)"),
       description="The task with its output format, the annotation guideline, rules learned from the model's "
       "errors and annotated examples, in one prompt.",
       templates=("guideline_error_analysis.j2", "_partials/task.j2"),
       builder=_P + "guideline_error_analysis:GuidelineErrorAnalysis", aliases=("guideline",)),
    # --- end of issue 13 item 2 ---
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
    a two-page docstore for the ReAct tools, the bundled telecom chain for ``chained_tasks``."""
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
    return options


def _named(name: str, fn: Any) -> Any:
    def tool(query: str) -> str:
        return str(fn(query))

    tool.__name__ = name.lower()
    tool.__doc__ = fn.__doc__
    return tool
