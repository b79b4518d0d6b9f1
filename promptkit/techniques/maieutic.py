"""Maieutic prompting (Jung et al., 2022, arXiv 2205.11822): a tree of explanations, solved as weighted MAX-SAT.

For a True/False question Q: one *abduction* call writes an explanation of Q being true ("True,
because E_T") and one of it being false (E_F). Each explanation E is checked for *logical
integrity*: the model judges E and its negation ("It is not true that E") in separate calls; E is
integral when the two verdicts are opposite, and its belief is the verdict on E. A non-integral
explanation is explained in turn (abduction on E), up to ``depth`` levels, as in the paper. Then
one NLI call per pair of integral explanations (at most ``max_pairs``) finds entailments and
contradictions between them.

The answer is Q's value in the best assignment of the weighted MAX-SAT problem (solved exactly, by
enumeration: at most ``num_nodes`` variables, 7 with the default depth 2):
* belief, weight 1: an integral E has the value the model believes;
* abduction, weight 1: "E_T explains P being true" is E_T → P; "E_F explains P being false" is E_F → ¬P;
* consistency, weight 1: entailment A → B; contradiction ¬(A ∧ B);
* Q's own verdict (one call), weight 0.5, which breaks ties.
Departure from the paper: the weights are 1 (the paper weighs beliefs by the LM's token probability,
which chat backends do not all return) and the NLI model is the LM itself.

The output is "True"/"False" (a bool for a bool output); ``reasoning`` lists the tree. Calls: 1 + per
node (2 judges, +1 abduction when non-integral and above ``depth``) + NLI pairs; 5-19 with the defaults.
Prediction: the output, ``reasoning``, ``nodes`` (text, parent, explains, depth, verdict, negated_verdict,
integral), ``relations``, ``clauses``, ``question_verdict``, ``score``.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import dspy

from promptkit.techniques.base import (
    SignatureLike,
    TechniqueModule,
    positive,
    render_instructions,
    require_str_output,
    step_signature,
)

STATEMENT = ("statement", "a statement that is true or false", str)
Clause = tuple[float, tuple[tuple[int, bool], ...]]  # weight, literals (variable, value): satisfied if any holds


def truth(verdict: Any) -> bool | None:
    """A verdict read as True / False (a leading true/false/yes/no/correct); None when unclear."""
    match = re.match(r"^\W*(true|false|yes|no|correct|incorrect|wrong)\b", str(verdict or "").strip().lower())
    if match is None:
        return None
    return match.group(1) in ("true", "yes", "correct")


def negate(statement: str) -> str:
    text = statement.strip().rstrip(".")
    return f"It is not true that {text[:1].lower() + text[1:]}."


def solve(n_vars: int, clauses: list[Clause], prefer: dict[int, bool]) -> tuple[list[bool], float]:
    """The exact weighted MAX-SAT optimum by enumeration; ties go to the assignment that agrees with
    ``prefer`` first (then the one enumerated first)."""
    best: tuple[float, int] | None = None
    best_values: list[bool] = [True] * n_vars
    for values in itertools.product((True, False), repeat=n_vars):
        score = sum(w for w, lits in clauses if any(values[v] == want for v, want in lits))
        agree = sum(values[v] == want for v, want in prefer.items())
        if best is None or (score, agree) > best:
            best, best_values = (score, agree), list(values)
    return best_values, best[0] if best else 0.0


class Maieutic(TechniqueModule):
    """Abductive explanation tree, integrity checks, NLI edges, MAX-SAT. See the module docstring."""

    technique_id = "maieutic"

    def __init__(
        self,
        signature: SignatureLike = "question -> answer",
        *,
        depth: int = 2,
        max_pairs: int = 3,
        num_nodes: int = 14,
    ) -> None:
        super().__init__(signature)
        tid = self.technique_id
        last = list(self.signature.output_fields)[-1]
        is_bool = len(self.signature.output_fields) == 1 and self.signature.output_fields[last].annotation is bool
        self.output = last if is_bool else require_str_output(self.signature, tid, "the True/False answer")
        self.depth = positive("depth", depth, tid)
        self.max_pairs = positive("max_pairs", max_pairs, tid, minimum=0)
        self.num_nodes = positive("num_nodes", num_nodes, tid, minimum=2)
        self.abduce = dspy.Predict(
            step_signature(
                inputs=(STATEMENT,),
                outputs=(
                    ("because_true", "why the statement is true, one sentence", str),
                    ("because_false", "why the statement is false, one sentence", str),
                ),
                instructions=render_instructions("maieutic_abduce.j2"),
            )
        )
        self.judge = dspy.Predict(
            step_signature(
                inputs=(STATEMENT,),
                outputs=(("verdict", "True or False", str),),
                instructions=render_instructions("maieutic_judge.j2"),
            )
        )
        self.relate = dspy.Predict(
            step_signature(
                inputs=(("premise", "a statement", str), ("hypothesis", "another statement", str)),
                outputs=(("relation", "entailment, contradiction or neutral", str),),
                instructions=render_instructions("maieutic_nli.j2"),
            )
        )

    def _question(self, inputs: dict[str, Any]) -> str:
        if len(inputs) == 1:
            return str(next(iter(inputs.values())))
        return "\n".join(f"{name}: {value}" for name, value in inputs.items())

    def _expand(self, nodes: list[dict[str, Any]], parent: int, level: int) -> None:
        """Explain node ``parent`` both ways; check each explanation; expand the non-integral ones."""
        if len(nodes) + 2 > self.num_nodes:
            return
        why = self.abduce(statement=nodes[parent]["text"])
        for explains, text in ((True, why.because_true), (False, why.because_false)):
            text = str(text or "").strip()
            if not text:
                continue
            verdict = truth(self.judge(statement=text).verdict)
            negated = truth(self.judge(statement=negate(text)).verdict)
            integral = verdict is not None and negated is not None and verdict != negated
            nodes.append(
                {
                    "text": text,
                    "parent": parent,
                    "explains": explains,
                    "depth": level,
                    "verdict": verdict,
                    "negated_verdict": negated,
                    "integral": integral,
                }
            )
            if not integral and level < self.depth:
                self._expand(nodes, len(nodes) - 1, level + 1)

    def forward(self, **kwargs: Any) -> dspy.Prediction:
        inputs = self._inputs(kwargs)
        question = self._question(inputs)
        q_verdict = truth(self.judge(statement=question).verdict)
        nodes: list[dict[str, Any]] = [
            {
                "text": question,
                "parent": None,
                "explains": None,
                "depth": 0,
                "verdict": q_verdict,
                "negated_verdict": None,
                "integral": False,
            }
        ]
        self._expand(nodes, 0, 1)
        clauses: list[Clause] = []
        for index, node in enumerate(nodes[1:], 1):
            if node["integral"]:
                clauses.append((1.0, ((index, node["verdict"]),)))
            clauses.append((1.0, ((index, False), (node["parent"], node["explains"]))))
        integral = [i for i, node in enumerate(nodes) if node["integral"]]
        relations = []
        for a, b in list(itertools.combinations(integral, 2))[: self.max_pairs]:
            relation = str(self.relate(premise=nodes[a]["text"], hypothesis=nodes[b]["text"]).relation).lower()
            kind = "contradiction" if "contradict" in relation else "entailment" if "entail" in relation else "neutral"
            relations.append({"premise": a, "hypothesis": b, "relation": kind})
            if kind == "entailment":
                clauses.append((1.0, ((a, False), (b, True))))
            elif kind == "contradiction":
                clauses.append((1.0, ((a, False), (b, False))))
        prefer = {0: q_verdict if q_verdict is not None else True}
        if q_verdict is not None:
            clauses.append((0.5, ((0, q_verdict),)))
        values, score = solve(len(nodes), clauses, prefer)
        info = self.signature.output_fields[self.output]
        answer: Any = values[0] if info.annotation is bool else str(values[0])
        return dspy.Prediction(
            **{self.output: answer},
            reasoning=explain(nodes, values),
            nodes=nodes,
            relations=relations,
            clauses=clauses,
            question_verdict=q_verdict,
            score=score,
        )


def explain(nodes: list[dict[str, Any]], values: list[bool]) -> str:
    """The tree as text, each explanation with the value the solution gives it (the answer's reasoning)."""
    lines = []
    for index, node in enumerate(nodes[1:], 1):
        side = "True" if node["explains"] else "False"
        kept = "integral" if node["integral"] else "not integral"
        lines.append(f"{'  ' * (node['depth'] - 1)}{side}, because {node['text']} [{kept}; solution: {values[index]}]")
    return "\n".join(lines)
