"""What a running compile shows: a progress bar over metric calls and the optimizer's candidate evaluations.

DSPy's optimizers expose no common best-so-far hook: :class:`CandidateLog` (a DSPy callback) counts the
``dspy.Evaluate`` calls they make and keeps the best score, and :class:`CompileProgress` shows both.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class CompileProgress:
    """A rich progress bar over metric calls (a spinner when the total is unknown), with the mean metric
    value so far: optimizers score many candidates and expose no common best-so-far hook."""

    def __init__(self, enabled: bool, label: str, total: int | None) -> None:
        self._progress: Any = None
        self._lock = threading.Lock()
        self.calls = 0
        self.total_score = 0.0
        if enabled:
            from rich.console import Console

            console = Console(stderr=True)
            if console.is_terminal:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

                self._progress = Progress(
                    SpinnerColumn(),
                    TextColumn(label),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("metric calls · {task.fields[rate]} · {task.fields[best]}"),
                    console=console,
                )
                self._task = self._progress.add_task(label, total=total, rate="-", best="no candidate scored yet")

    def __enter__(self) -> CompileProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def record(self, value: Any) -> None:
        with self._lock:
            self.calls += 1
            if isinstance(value, int | float | bool):
                self.total_score += float(value)
            elif isinstance(getattr(value, "score", None), int | float):  # GEPA-style Prediction(score=...)
                self.total_score += float(value.score)
            if self._progress is not None:
                self._progress.update(self._task, advance=1, rate=f"mean score {self.total_score / self.calls:.2f}")

    def show_candidates(self, log: CandidateLog) -> None:
        if self._progress is not None and log.best is not None:
            self._progress.update(self._task, best=f"{log.evaluated} candidate evaluations, best {log.best:.2f}")

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


class CandidateLog:
    """A DSPy callback counting the optimizer's candidate evaluations (``dspy.Evaluate`` calls: random search's
    candidates, MIPROv2's trials and minibatches, COPRO's proposals) and the best score so far (in %)."""

    def __init__(self, on_change: Callable[[CandidateLog], None] | None = None) -> None:
        self.evaluated = 0
        self.best: float | None = None
        self._on_change = on_change
        self._lock = threading.Lock()

    # The names DSPy's callback dispatcher calls (dspy.utils.callback.BaseCallback); the rest are no-ops.
    def on_evaluate_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        score = getattr(outputs, "score", None)
        with self._lock:
            self.evaluated += 1
            if isinstance(score, int | float) and (self.best is None or score > self.best):
                self.best = float(score)
        if self._on_change is not None:
            self._on_change(self)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)
