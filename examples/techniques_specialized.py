"""The rest of the catalog: Maieutic prompting (explanation tree + MAX-SAT), Active-Prompt (annotate the most
uncertain questions), Chain of Code (sandboxed code, the model simulating lines Python cannot run), Synthetic
prompting (self-written demos), Chain-of-Event (multi-document summaries), term definitions, and annotation
guideline + error-analysis prompting.

    python examples/techniques_specialized.py                      # offline (FakeLM)
    python examples/techniques_specialized.py --model local --technique maieutic
"""

from __future__ import annotations

from typing import Any

from techniques_common import run, setup

from promptkit.lm import FakeLM

IDS = (
    "maieutic",
    "active_prompt",
    "chain_of_code",
    "synthetic_prompting",
    "chain_of_event",
    "term_definitions",
    "guideline_error_analysis",
)
WORD_PROBLEM = "A baker packs 6 muffins per box and fills 7 boxes. How many muffins does she pack?"
FRUITS = "How many of these words are fruits: apple, car, banana, chair, cherry?"
NEWS = (
    "Document 1: A storm hit the coast on Monday and closed the port. "
    "Document 2: On Monday the port was closed by a storm; ferries were cancelled. "
    "Document 3: Ferries resumed on Wednesday after the storm passed."
)


def _offline_chain_of_code(call: Any) -> dict[str, Any]:
    """Offline: a program whose semantic step (is_fruit) Python cannot run, and the LMulator's state for it."""
    if call.output_fields == ["code"]:
        return {
            "code": 'words = ["apple", "car", "banana", "chair", "cherry"]\n'
            "fruits = [w for w in words if is_fruit(w)]\nans = len(fruits)"
        }
    return {"new_state": '{"fruits": ["apple", "banana", "cherry"]}'}


def main() -> None:
    lm, chosen, show = setup(__doc__ or "", IDS)
    if "maieutic" in chosen:
        run(
            lm,
            "maieutic",
            {"question": "Can penguins fly?"},
            extras=("reasoning",),
            show_prompt=show,
            depth=1,
            max_pairs=1,
        )
    if "active_prompt" in chosen:  # the built-in pool: GSM8K exemplars with human-written chains
        run(lm, "active_prompt", {"question": WORD_PROBLEM}, extras=("demo_questions",), show_prompt=show, k=2)
    if "chain_of_code" in chosen:
        model = FakeLM(fn=_offline_chain_of_code, model="fake/offline-script") if isinstance(lm, FakeLM) else lm
        run(model, "chain_of_code", {"question": FRUITS}, extras=("code", "state"), show_prompt=show)
    if "synthetic_prompting" in chosen:
        run(
            lm,
            "synthetic_prompting",
            {"question": WORD_PROBLEM},
            extras=("from_seeds",),
            show_prompt=show,
            max_tries=2,
            n_synthetic=1,
            n_demos=1,
        )
    if "chain_of_event" in chosen:
        run(
            lm,
            "chain_of_event",
            {"documents": NEWS},
            signature="documents -> summary",
            extras=("common_events",),
            show_prompt=show,
        )
    if "term_definitions" in chosen:
        run(
            lm,
            "term_definitions",
            {"question": "A patient has dyspnea and tachycardia. What should be checked?"},
            extras=("term_definitions",),
            show_prompt=show,
            glossary={"dyspnea": "shortness of breath", "tachycardia": "a resting heart rate above 100 per minute"},
        )
    if "guideline_error_analysis" in chosen:
        run(
            lm,
            "guideline_error_analysis",
            {"text": "The patient denies chest pain but reports a mild fever."},
            signature="text -> problems",
            show_prompt=show,
            output_format="the medical problems, comma-separated",
            guideline="A medical problem is a disease, symptom or abnormal finding the patient has.",
            error_rules=["Do not list findings the patient denies (negated findings)."],
            demos=[{"text": "No cough; reports headache.", "problems": "headache"}],
        )


if __name__ == "__main__":
    main()
