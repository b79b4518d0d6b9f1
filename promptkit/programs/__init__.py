"""DSPy programs built on promptkit's retrieval: single-hop ``RAG`` and ``MultiHopRAG``."""

from promptkit.programs.multihop import GenerateSearchQuery, MultiHopRAG
from promptkit.programs.rag import RAG, GenerateAnswer, as_passage, retrieve_passages

__all__ = ["RAG", "GenerateAnswer", "GenerateSearchQuery", "MultiHopRAG", "as_passage", "retrieve_passages"]
