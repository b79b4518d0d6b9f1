"""Datasets: JSONL / JSON / CSV / Parquet files, BEIR folders and Hugging Face splits -> ``dspy.Example``s.

    from promptkit.datasets import load, split
    data = load("gsm8k/train.jsonl")              # format inferred: GSM8K, input 'question', answer '72'
    train, dev = split(data, (0.8, 0.2), seed=0)

Built-in layouts: ``gsm8k`` (answer after ``####``), ``math`` (last ``\\boxed{...}``), ``hotpotqa``
(official JSON and Hugging Face JSONL) and ``beir``. Bad rows are reported with file and line
(``on_error="fail"``) or skipped and listed in ``Dataset.errors`` (``on_error="skip"``).
"""

from .answers import extract_boxed, extract_gsm8k_answer
from .beir import read_corpus
from .core import Dataset, RowError, parse_mapping, split
from .loader import DEFAULT_INPUTS, FORMATS, load

__all__ = [
    "DEFAULT_INPUTS",
    "FORMATS",
    "Dataset",
    "RowError",
    "extract_boxed",
    "extract_gsm8k_answer",
    "load",
    "parse_mapping",
    "read_corpus",
    "split",
]
