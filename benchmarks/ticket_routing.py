"""A small labelled classification task written for promptkit: route a support ticket to a team.

The teams' names (billing, shipping, login, bug) are the kind of house convention a model cannot
guess from the instruction alone and picks up from a few demonstrations, which is what
``benchmarks/bench_compile.py`` measures: bootstrap_fewshot on the embedded model, val score before
and after. Data: ``benchmarks/data/ticket_routing_{train,val}.jsonl`` (20 + 20 tickets, 5 per team each).
"""

from __future__ import annotations

import dspy


class RouteTicket(dspy.Signature):
    """Route the customer support ticket to the team that handles it. Answer with the team name only."""

    question: str = dspy.InputField(desc="the customer's ticket")
    answer: str = dspy.OutputField(desc="the team name, one word")


class TicketRouter(dspy.Module):
    def __init__(self) -> None:
        super().__init__()
        self.route = dspy.Predict(RouteTicket)

    def forward(self, question: str) -> dspy.Prediction:
        return self.route(question=question)
